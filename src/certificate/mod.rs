//! Certificate types, loaded from `schemas/`, validation of the claims an e-service sends, and
//! the certificate record.

mod service;
mod types;
mod validation;

pub use service::{
    issue_request, Certificate, CertificateData, CertificateService, FieldError, Holder,
    NewCertificate, ServiceError, StatusChange, CHANNELS, MAX_VALIDITY_DAYS,
};
pub use types::{
    CertificateType, ClaimRule, Display, PassDisplay, PassImage, Rgb, TypeError, TypeRegistry,
    PASS_IMAGE_NAMES,
};
pub use validation::{SchemaViolation, ValidationError};

#[cfg(test)]
mod tests;
