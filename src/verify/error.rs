use crate::crypto::ChainError;

/// One reason a credential is not valid. Each has a stable code for `--json` output and the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the input is not a credential format intyg knows (dc+sd-jwt, vc+jwt, jwt_vc_json, or a 2D code starting with HC1: or INTYG1:)")]
    UnknownFormat,
    #[error("the credential is malformed: {0}")]
    Malformed(String),
    #[error("the signature algorithm {0:?} is not accepted; intyg accepts ES256")]
    UnsupportedAlgorithm(String),
    #[error("the JWS has no x5c header and no trust anchor matches its kid {0:?}")]
    NoKey(String),
    #[error("no trusted certificate has the 2D code's kid {0} (base64 of the first 8 bytes of the SHA-256 of the signing certificate's DER); pass the signing certificate with --trust")]
    UnknownKid(String),
    #[error("the signature does not match the signed data")]
    SignatureInvalid,
    #[error("the signing certificate is valid from {not_before} to {not_after}, not at {at}")]
    SignerNotValid {
        not_before: String,
        not_after: String,
        at: String,
    },
    #[error("the signing certificate is not trusted: {0}")]
    UntrustedChain(ChainError),
    #[error("the typ header is {found:?}, expected {expected:?}")]
    WrongTyp {
        expected: &'static str,
        found: String,
    },
    #[error("the credential expired at {exp} (checked at {at}, seconds since the epoch)")]
    Expired { exp: i64, at: i64 },
    #[error("the credential is not valid before {nbf} (checked at {at}, seconds since the epoch)")]
    NotYetValid { nbf: i64, at: i64 },
    #[error("disclosure {index} matches no digest in the signed payload; it was altered or does not belong to this credential")]
    DisclosureNotReferenced { index: usize },
    #[error("disclosure {index} is malformed: {detail}")]
    DisclosureMalformed { index: usize, detail: String },
    #[error("the digest of disclosure {index} appears more than once")]
    DisclosureDuplicate { index: usize },
    #[error("the _sd_alg {0:?} is not supported; intyg accepts sha-256")]
    UnsupportedDigest(String),
    #[error("the key binding JWT is invalid: {0}")]
    KeyBinding(String),
    #[error("the credential breaks the data model: {0}")]
    DataModel(String),
    #[error("the credential is revoked")]
    Revoked,
    #[error("the credential is suspended")]
    Suspended,
    #[error("the status list gives the credential the status 0x{0:02x}, which is not valid")]
    StatusValue(u8),
    #[error("the status list {uri} cannot be read: {detail}")]
    StatusUnavailable { uri: String, detail: String },
    #[error("the status list is invalid: {0}")]
    StatusList(String),
}

impl VerifyError {
    /// Returns the stable machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::UnknownFormat => "unknown_format",
            VerifyError::Malformed(_) => "malformed",
            VerifyError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            VerifyError::NoKey(_) => "no_key",
            VerifyError::UnknownKid(_) => "unknown_kid",
            VerifyError::SignatureInvalid => "signature_invalid",
            VerifyError::SignerNotValid { .. } => "signer_not_valid",
            VerifyError::UntrustedChain(_) => "untrusted_chain",
            VerifyError::WrongTyp { .. } => "wrong_typ",
            VerifyError::Expired { .. } => "expired",
            VerifyError::NotYetValid { .. } => "not_yet_valid",
            VerifyError::DisclosureNotReferenced { .. } => "disclosure_not_referenced",
            VerifyError::DisclosureMalformed { .. } => "disclosure_malformed",
            VerifyError::DisclosureDuplicate { .. } => "disclosure_duplicate",
            VerifyError::UnsupportedDigest(_) => "unsupported_digest",
            VerifyError::KeyBinding(_) => "key_binding_invalid",
            VerifyError::DataModel(_) => "data_model",
            VerifyError::Revoked => "revoked",
            VerifyError::Suspended => "suspended",
            VerifyError::StatusValue(_) => "status_not_valid",
            VerifyError::StatusUnavailable { .. } => "status_unavailable",
            VerifyError::StatusList(_) => "status_list_invalid",
        }
    }

    /// Returns the name of the check this error fails, as the verify API reports it.
    pub fn check(&self) -> &'static str {
        match self {
            VerifyError::UnknownFormat | VerifyError::Malformed(_) => "format",
            VerifyError::UnsupportedAlgorithm(_)
            | VerifyError::NoKey(_)
            | VerifyError::UnknownKid(_)
            | VerifyError::SignatureInvalid => "signature",
            VerifyError::SignerNotValid { .. } | VerifyError::UntrustedChain(_) => "chain",
            VerifyError::WrongTyp { .. } => "typ",
            VerifyError::Expired { .. } | VerifyError::NotYetValid { .. } => "times",
            VerifyError::DisclosureNotReferenced { .. }
            | VerifyError::DisclosureMalformed { .. }
            | VerifyError::DisclosureDuplicate { .. }
            | VerifyError::UnsupportedDigest(_) => "disclosures",
            VerifyError::KeyBinding(_) => "key_binding",
            VerifyError::DataModel(_) => "data_model",
            VerifyError::Revoked
            | VerifyError::Suspended
            | VerifyError::StatusValue(_)
            | VerifyError::StatusUnavailable { .. }
            | VerifyError::StatusList(_) => "status",
        }
    }
}

impl serde::Serialize for VerifyError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut state = serializer.serialize_struct("VerifyError", 2)?;
        state.serialize_field("code", self.code())?;
        state.serialize_field("message", &self.to_string())?;
        state.end()
    }
}
