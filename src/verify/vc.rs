use serde_json::{Map, Value};

use super::status::{bitstring_references, token_reference, StatusReference};
use super::{check_times, collect_metadata, DecodedJws, Verification, VerifyError, VerifyOptions};
use crate::formats::vc_jwt::{VCDM1_CONTEXT, VCDM2_CONTEXT, VC_JWT_TYP};
use crate::formats::Format;

/// Verifies a VCDM 2.0 credential secured as `vc+jwt`, whose payload is the credential.
pub(crate) fn verify_vc_jwt(input: &str, options: &VerifyOptions) -> Verification {
    let decoded = match DecodedJws::decode(input) {
        Ok(decoded) => decoded,
        Err(error) => return Verification::failed(Some(Format::VcJwt), error),
    };
    let mut errors = Vec::new();
    decoded.check_typ(VC_JWT_TYP, &mut errors);
    decoded.check_signature(options, &mut errors);
    check_times(&decoded.payload, options.at, &mut errors);
    let credential = &decoded.payload;
    check_context(credential, VCDM2_CONTEXT, &mut errors);

    let issuer = match credential.get("issuer") {
        Some(Value::String(issuer)) => Some(issuer.as_str()),
        Some(Value::Object(issuer)) => issuer.get("id").and_then(Value::as_str),
        _ => None,
    };
    match (issuer, credential.get("iss").and_then(Value::as_str)) {
        (None, _) => errors.push(VerifyError::DataModel("issuer is missing".into())),
        (Some(issuer), Some(iss)) if issuer != iss => errors.push(VerifyError::DataModel(format!(
            "iss {iss:?} differs from issuer {issuer:?}"
        ))),
        _ => {}
    }
    check_credential_dates(credential, "validFrom", "validUntil", options, &mut errors);
    let mut status = bitstring_references(credential, &mut errors);
    status.extend(token_reference(credential, &mut errors));

    let mut metadata = collect_metadata(credential);
    if let Some(types) = credential.get("type") {
        metadata.insert("type".into(), types.clone());
    }
    if let Some(entries) = credential.get("credentialStatus") {
        metadata.insert("credential_status".into(), entries.clone());
    }
    finish(
        Format::VcJwt,
        credential.get("credentialSubject"),
        metadata,
        errors,
        status,
    )
}

/// Verifies a VCDM 1.1 credential in the `vc` claim of a JWT (`jwt_vc_json`).
pub(super) fn verify_jwt_vc_json(input: &str, options: &VerifyOptions) -> Verification {
    let decoded = match DecodedJws::decode(input) {
        Ok(decoded) => decoded,
        Err(error) => return Verification::failed(Some(Format::JwtVcJson), error),
    };
    let mut errors = Vec::new();
    decoded.check_typ("JWT", &mut errors);
    decoded.check_signature(options, &mut errors);
    check_times(&decoded.payload, options.at, &mut errors);
    let Some(credential) = decoded.payload.get("vc").and_then(Value::as_object) else {
        return Verification::failed(
            Some(Format::JwtVcJson),
            VerifyError::DataModel("the vc claim is missing or not an object".into()),
        );
    };
    check_context(credential, VCDM1_CONTEXT, &mut errors);
    let status = token_reference(&decoded.payload, &mut errors)
        .into_iter()
        .collect();

    let mut metadata = collect_metadata(&decoded.payload);
    if let Some(types) = credential.get("type") {
        metadata.insert("type".into(), types.clone());
    }
    finish(
        Format::JwtVcJson,
        credential.get("credentialSubject"),
        metadata,
        errors,
        status,
    )
}

fn finish(
    format: Format,
    subject: Option<&Value>,
    metadata: Map<String, Value>,
    mut errors: Vec<VerifyError>,
    status: Vec<StatusReference>,
) -> Verification {
    let claims = match subject {
        Some(Value::Object(subject)) if !subject.is_empty() => {
            let mut claims = subject.clone();
            claims.remove("id");
            Value::Object(claims)
        }
        // VCDM 2.0 allows several subjects; their claims are returned as they are.
        Some(Value::Array(subjects))
            if !subjects.is_empty()
                && subjects
                    .iter()
                    .all(|subject| subject.as_object().is_some_and(|s| !s.is_empty())) =>
        {
            Value::Array(subjects.clone())
        }
        _ => {
            errors.push(VerifyError::DataModel(
                "credentialSubject is missing or empty".into(),
            ));
            Value::Null
        }
    };
    Verification {
        valid: errors.is_empty(),
        format: Some(format),
        claims,
        metadata,
        errors,
        status,
        status_checked: false,
    }
}

fn check_context(credential: &Map<String, Value>, base: &str, errors: &mut Vec<VerifyError>) {
    let first = credential
        .get("@context")
        .and_then(Value::as_array)
        .and_then(|contexts| contexts.first())
        .and_then(Value::as_str);
    if first != Some(base) {
        errors.push(VerifyError::DataModel(format!(
            "@context must start with {base}"
        )));
    }
}

/// Checks the credential's own validity period (`validFrom`/`validUntil`) at the verification time.
fn check_credential_dates(
    credential: &Map<String, Value>,
    from_name: &str,
    until_name: &str,
    options: &VerifyOptions,
    errors: &mut Vec<VerifyError>,
) {
    let parse = |name: &str| -> Option<Option<i64>> {
        let text = credential.get(name)?.as_str();
        Some(text.and_then(|text| {
            time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|time| time.unix_timestamp())
        }))
    };
    let at = options.at.unix_timestamp();
    match parse(from_name) {
        Some(None) => errors.push(VerifyError::DataModel(format!(
            "{from_name} is not an RFC 3339 date-time"
        ))),
        Some(Some(from))
            if from > at
                && !errors
                    .iter()
                    .any(|e| matches!(e, VerifyError::NotYetValid { .. })) =>
        {
            errors.push(VerifyError::NotYetValid { nbf: from, at })
        }
        _ => {}
    }
    match parse(until_name) {
        Some(None) => errors.push(VerifyError::DataModel(format!(
            "{until_name} is not an RFC 3339 date-time"
        ))),
        Some(Some(until))
            if until <= at
                && !errors
                    .iter()
                    .any(|e| matches!(e, VerifyError::Expired { .. })) =>
        {
            errors.push(VerifyError::Expired { exp: until, at })
        }
        _ => {}
    }
}
