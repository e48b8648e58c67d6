//! Credential Issuer metadata (OpenID4VCI 1.0) and OAuth authorization server
//! metadata (RFC 8414). Both are built once at start-up from the certificate types.

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::configuration_id;
use super::encryption::RequestDecryptionKey;
use crate::certificate::{CertificateType, TypeRegistry};
use crate::crypto::{SignError, Signer};
use crate::formats::{jws, Format};

/// Maximum number of proofs, and so of credentials, in one credential request.
pub const BATCH_SIZE: usize = 10;

/// The one algorithm intyg accepts for proofs and DPoP, and signs credentials with.
pub const SIGNING_ALGORITHM: &str = "ES256";

/// The JWE `enc` values of encrypted credential requests and responses.
pub const ENCRYPTION_ENC_VALUES: [&str; 2] = ["A128GCM", "A256GCM"];

/// The JOSE `typ` of signed Credential Issuer metadata (OpenID4VCI 1.0).
pub const SIGNED_METADATA_TYP: &str = "openidvci-issuer-metadata+jwt";

/// Returns the path of a well-known document for an issuer identifier: the well-known segment goes
/// between host and path (RFC 8414, section 3.1; OpenID4VCI 1.0).
pub fn well_known_path(well_known: &str, issuer_id: &str) -> String {
    format!("/.well-known/{well_known}{}", issuer_path(issuer_id))
}

/// Returns the path part of an issuer identifier, empty when it has none.
pub fn issuer_path(issuer_id: &str) -> &str {
    let without_scheme = issuer_id
        .split_once("://")
        .map_or(issuer_id, |(_, rest)| rest);
    without_scheme
        .find('/')
        .map_or("", |index| &without_scheme[index..])
}

/// Returns the URL of an issuer endpoint, which lies under the issuer identifier.
pub fn endpoint(issuer_id: &str, path: &str) -> String {
    format!("{issuer_id}{path}")
}

/// Builds the Credential Issuer metadata: one credential configuration per certificate type and
/// format.
pub fn issuer_metadata(
    issuer_id: &str,
    types: &TypeRegistry,
    request_key: &RequestDecryptionKey,
) -> Value {
    let mut configurations = Map::new();
    for certificate_type in types.iter() {
        for format in Format::ALL {
            configurations.insert(
                configuration_id(&certificate_type.id, format),
                configuration(certificate_type, format),
            );
        }
    }
    json!({
        "credential_issuer": issuer_id,
        "credential_endpoint": endpoint(issuer_id, "/credential"),
        "nonce_endpoint": endpoint(issuer_id, "/nonce"),
        "deferred_credential_endpoint": endpoint(issuer_id, "/deferred_credential"),
        "notification_endpoint": endpoint(issuer_id, "/notification"),
        "credential_request_encryption": {
            "jwks": { "keys": [request_key.public_jwk()] },
            "enc_values_supported": ENCRYPTION_ENC_VALUES,
            "encryption_required": false,
        },
        "credential_response_encryption": {
            "alg_values_supported": ["ECDH-ES"],
            "enc_values_supported": ENCRYPTION_ENC_VALUES,
            "encryption_required": false,
        },
        "batch_credential_issuance": { "batch_size": BATCH_SIZE },
        "display": [
            { "name": "intyg", "locale": "sv" },
            { "name": "intyg", "locale": "en" },
        ],
        "credential_configurations_supported": configurations,
    })
}

/// Builds one credential configuration: format, binding, proof types and the type's display texts.
fn configuration(certificate_type: &CertificateType, format: Format) -> Value {
    // The W3C formats put the claims under `credentialSubject`, so their claim paths start there.
    let prefix: Option<&str> = match format {
        Format::SdJwtVc | Format::Hcert => None,
        Format::VcJwt | Format::JwtVcJson => Some("credentialSubject"),
    };
    let claims: Vec<Value> = certificate_type
        .claims
        .iter()
        .map(|rule| {
            let path: Vec<Value> = prefix
                .map(Value::from)
                .into_iter()
                .chain(rule.path.iter().map(|segment| match segment {
                    Some(name) => Value::from(name.as_str()),
                    None => Value::Null,
                }))
                .collect();
            json!({ "path": path, "display": rule.display })
        })
        .collect();
    let mut configuration = json!({
        "format": format.as_str(),
        "scope": configuration_id(&certificate_type.id, format),
        "cryptographic_binding_methods_supported": ["jwk"],
        "credential_signing_alg_values_supported": [SIGNING_ALGORITHM],
        "proof_types_supported": {
            "jwt": { "proof_signing_alg_values_supported": [SIGNING_ALGORITHM] }
        },
        "credential_metadata": {
            "display": certificate_type.display,
            "claims": claims,
        },
    });
    let types = json!(["VerifiableCredential", certificate_type.w3c_type]);
    match format {
        Format::SdJwtVc => configuration["vct"] = Value::from(certificate_type.vct.as_str()),
        Format::JwtVcJson => configuration["credential_definition"] = json!({ "type": types }),
        Format::VcJwt => {
            configuration["credential_definition"] = json!({
                "@context": [crate::formats::vc_jwt::VCDM2_CONTEXT],
                "type": types,
            });
        }
        Format::Hcert => {}
    }
    configuration
}

/// Signs the metadata as a JWT whose header carries the signing certificate chain (`x5c`), with
/// `iss` and `sub` the issuer identifier and `iat` the signing time.
pub fn sign_metadata(
    metadata: &Value,
    issuer_id: &str,
    signer: &dyn Signer,
    now: OffsetDateTime,
) -> Result<String, SignError> {
    let mut payload = metadata.as_object().cloned().unwrap_or_default();
    payload.insert("iss".into(), Value::from(issuer_id));
    payload.insert("sub".into(), Value::from(issuer_id));
    payload.insert("iat".into(), Value::from(now.unix_timestamp()));
    let payload = serde_json::to_vec(&payload)
        .map_err(|error| SignError(format!("metadata payload: {error}")))?;
    jws::sign_compact(&jws::header(SIGNED_METADATA_TYP, signer), &payload, signer)
}

/// Builds the OAuth authorization server metadata (RFC 8414) of the issuer, which is its own
/// authorization server: for the pre-authorized code grant, and with `authorization_code` for the
/// authorization code flow with PAR and PKCE.
pub fn authorization_server_metadata(issuer_id: &str, authorization_code: bool) -> Value {
    let mut metadata = json!({
        "issuer": issuer_id,
        "token_endpoint": endpoint(issuer_id, "/token"),
        "grant_types_supported": [super::PRE_AUTHORIZED_CODE_GRANT, "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": true,
        "dpop_signing_alg_values_supported": [SIGNING_ALGORITHM],
    });
    if authorization_code {
        metadata["authorization_endpoint"] = Value::from(endpoint(issuer_id, "/authorize"));
        metadata["pushed_authorization_request_endpoint"] =
            Value::from(endpoint(issuer_id, "/par"));
        metadata["require_pushed_authorization_requests"] = Value::from(true);
        metadata["response_types_supported"] = json!(["code"]);
        metadata["code_challenge_methods_supported"] = json!(["S256"]);
        metadata["authorization_response_iss_parameter_supported"] = Value::from(true);
        metadata["authorization_details_types_supported"] = json!(["openid_credential"]);
        metadata["grant_types_supported"] = json!([
            "authorization_code",
            super::PRE_AUTHORIZED_CODE_GRANT,
            "refresh_token"
        ]);
    }
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_goes_between_host_and_path() {
        assert_eq!(
            well_known_path("openid-credential-issuer", "https://intyg.example.se"),
            "/.well-known/openid-credential-issuer"
        );
        assert_eq!(
            well_known_path(
                "openid-credential-issuer",
                "https://intyg.example.se/tenant/a"
            ),
            "/.well-known/openid-credential-issuer/tenant/a"
        );
        assert_eq!(issuer_path("http://127.0.0.1:8080"), "");
    }
}
