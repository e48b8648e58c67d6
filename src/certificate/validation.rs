use std::fmt;

/// One rule of a type's JSON Schema that the claims break.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaViolation {
    /// JSON pointer (RFC 6901) of the offending value; empty for the document itself.
    pub pointer: String,
    /// Requirement of the rule, as the JSON Schema validator words it.
    pub message: String,
}

/// Claims that do not match their certificate type's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub type_id: String,
    pub violations: Vec<SchemaViolation>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "claims do not match the {} schema", self.type_id)?;
        for (index, violation) in self.violations.iter().enumerate() {
            // The empty pointer is the document itself; "/" would name a member called "".
            let pointer = if violation.pointer.is_empty() {
                "the document root"
            } else {
                &violation.pointer
            };
            let separator = if index == 0 { ": " } else { "; " };
            write!(f, "{separator}at {pointer}: {}", violation.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}
