//! Certificate types, loaded from `schemas/`, validation of the claims an e-service sends, and
//! the certificate record.

mod service;
mod types;
mod validation;

pub use service::{
    Certificate, CertificateData, CertificateService, FieldError, Holder, NewCertificate,
    ServiceError, StatusChange, CHANNELS, MAX_VALIDITY_DAYS,
};
pub use types::{CertificateType, ClaimRule, Display, TypeError, TypeRegistry};
pub use validation::{SchemaViolation, ValidationError};

#[cfg(test)]
mod tests;
