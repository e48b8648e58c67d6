//! Certificate types, loaded from `schemas/`, and validation of the claims an e-service sends.

mod types;
mod validation;

pub use types::{CertificateType, ClaimRule, Display, TypeError, TypeRegistry};
pub use validation::{SchemaViolation, ValidationError};

#[cfg(test)]
mod tests;
