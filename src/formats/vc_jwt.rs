//! W3C Verifiable Credentials secured as JWTs: VCDM 2.0 with VC-JOSE-COSE (`vc+jwt`), where the
//! payload is the credential itself, and VCDM 1.1 in a `vc` claim (`jwt_vc_json`).

use serde_json::{Map, Value};

use super::{jws, rfc3339, FormatError, Issuance};
use crate::crypto::Signer;
use crate::status::{bitstring, token, Purpose};

/// The JOSE `typ` of a VCDM 2.0 credential secured with JOSE (VC-JOSE-COSE, section 3.1.1).
pub const VC_JWT_TYP: &str = "vc+jwt";
/// The base context of VCDM 2.0, which must come first in `@context`.
pub const VCDM2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// The base context of VCDM 1.1.
pub const VCDM1_CONTEXT: &str = "https://www.w3.org/2018/credentials/v1";

/// Issues a VCDM 2.0 credential as `vc+jwt`.
pub fn issue_vc_jwt(issuance: &Issuance<'_>, signer: &dyn Signer) -> Result<String, FormatError> {
    let mut credential = Map::new();
    credential.insert("@context".into(), Value::from(vec![VCDM2_CONTEXT]));
    credential.insert(
        "id".into(),
        Value::from(format!("urn:uuid:{}", issuance.certificate_id)),
    );
    credential.insert("type".into(), credential_types(issuance));
    credential.insert("issuer".into(), Value::from(issuance.issuer));
    credential.insert(
        "validFrom".into(),
        Value::from(rfc3339(issuance.valid_from)),
    );
    credential.insert(
        "validUntil".into(),
        Value::from(rfc3339(issuance.valid_until)),
    );
    credential.insert(
        "credentialSubject".into(),
        Value::Object(issuance.claims.clone()),
    );
    if let Some(status) = issuance.status {
        credential.insert(
            "credentialStatus".into(),
            Value::from(vec![
                bitstring::status_entry(
                    status.index,
                    &status.revocation_list_uri,
                    Purpose::Revocation,
                ),
                bitstring::status_entry(
                    status.index,
                    &status.suspension_list_uri,
                    Purpose::Suspension,
                ),
            ]),
        );
    }
    // VC-JOSE-COSE lets JWT claims sit beside the credential as long as they agree with it:
    // `iss` equals `issuer`, and `nbf`/`exp` equal `validFrom`/`validUntil`.
    insert_jwt_claims(&mut credential, issuance);

    let mut header = jws::header(VC_JWT_TYP, signer);
    header.insert("cty".into(), Value::from("vc"));
    let payload =
        serde_json::to_vec(&credential).map_err(|error| FormatError::Encode(error.to_string()))?;
    Ok(jws::sign_compact(&header, &payload, signer)?)
}

/// Issues a VCDM 1.1 credential as `jwt_vc_json`: a JWT with the credential in its `vc` claim.
pub fn issue_jwt_vc_json(
    issuance: &Issuance<'_>,
    signer: &dyn Signer,
) -> Result<String, FormatError> {
    let mut credential = Map::new();
    credential.insert("@context".into(), Value::from(vec![VCDM1_CONTEXT]));
    credential.insert("type".into(), credential_types(issuance));
    credential.insert(
        "issuanceDate".into(),
        Value::from(rfc3339(issuance.valid_from)),
    );
    credential.insert(
        "expirationDate".into(),
        Value::from(rfc3339(issuance.valid_until)),
    );
    credential.insert(
        "credentialSubject".into(),
        Value::Object(issuance.claims.clone()),
    );

    let mut payload = Map::new();
    payload.insert(
        "jti".into(),
        Value::from(format!("urn:uuid:{}", issuance.certificate_id)),
    );
    insert_jwt_claims(&mut payload, issuance);
    if let Some(status) = issuance.status {
        payload.insert(
            "status".into(),
            token::status_claim(status.index, &status.token_list_uri),
        );
    }
    payload.insert("vc".into(), Value::Object(credential));

    let payload =
        serde_json::to_vec(&payload).map_err(|error| FormatError::Encode(error.to_string()))?;
    Ok(jws::sign_compact(
        &jws::header("JWT", signer),
        &payload,
        signer,
    )?)
}

fn credential_types(issuance: &Issuance<'_>) -> Value {
    Value::from(vec![
        "VerifiableCredential",
        issuance.certificate_type.w3c_type.as_str(),
    ])
}

fn insert_jwt_claims(target: &mut Map<String, Value>, issuance: &Issuance<'_>) {
    target.insert("iss".into(), Value::from(issuance.issuer));
    target.insert(
        "iat".into(),
        Value::from(issuance.issued_at.unix_timestamp()),
    );
    target.insert(
        "nbf".into(),
        Value::from(issuance.valid_from.unix_timestamp()),
    );
    target.insert(
        "exp".into(),
        Value::from(issuance.valid_until.unix_timestamp()),
    );
    if let Some(holder_jwk) = issuance.holder_jwk {
        let mut cnf = Map::new();
        cnf.insert("jwk".into(), Value::Object(holder_jwk.clone()));
        target.insert("cnf".into(), Value::Object(cnf));
    }
}

/// Secures a VCDM 2.0 credential that arrived whole, as the VC-API issue endpoint receives it, as
/// `vc+jwt`. The JWT claims `iss`, `iat` and, from `validFrom` and `validUntil`, `nbf` and `exp`
/// are added beside it; the caller has checked the credential against the data model.
pub fn secure_vc_jwt(
    mut credential: Map<String, Value>,
    issuer: &str,
    issued_at: time::OffsetDateTime,
    signer: &dyn Signer,
) -> Result<String, FormatError> {
    let seconds = |name: &str| {
        credential
            .get(name)
            .and_then(Value::as_str)
            .and_then(|text| {
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .map(|time| time.unix_timestamp())
    };
    let (not_before, expires) = (seconds("validFrom"), seconds("validUntil"));
    credential.insert("iss".into(), Value::from(issuer));
    credential.insert("iat".into(), Value::from(issued_at.unix_timestamp()));
    if let Some(not_before) = not_before {
        credential.insert("nbf".into(), Value::from(not_before));
    }
    if let Some(expires) = expires {
        credential.insert("exp".into(), Value::from(expires));
    }
    let mut header = jws::header(VC_JWT_TYP, signer);
    header.insert("cty".into(), Value::from("vc"));
    let payload =
        serde_json::to_vec(&credential).map_err(|error| FormatError::Encode(error.to_string()))?;
    Ok(jws::sign_compact(&header, &payload, signer)?)
}
