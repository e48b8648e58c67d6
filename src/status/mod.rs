//! Credential status: where each certificate's status lives in a published list, and the two list
//! formats intyg serves.
//!
//! Every stored certificate gets one random free index in a list of [`LIST_SIZE`] entries. The
//! same index addresses the certificate in three documents of that list. The IETF Token Status
//! List (`statuslist+jwt`, two bits an entry) serves SD-JWT VC and `jwt_vc_json`. Two W3C
//! Bitstring Status Lists (`vc+jwt`, one bit an entry) serve `vc+jwt`, one for revocation and one
//! for suspension.
//! The lists are built from the certificates' stored status whenever they are requested, so a
//! change of status is visible in the next list served.

pub mod allocator;
pub mod bitstring;
pub mod lists;
pub mod token;

pub use allocator::StatusAllocator;
pub use lists::{ListError, StatusLists};

use crate::store::Status;

/// Entries in one status list: 2^17, so a bitstring is exactly the 16 KiB (131,072 bits) that
/// Bitstring Status List 1.0 (section 3.1) requires as a minimum for herd privacy.
pub const LIST_SIZE: u32 = 131_072;

/// Seconds a verifier may cache a list before fetching it again: the Token Status List `ttl` and
/// the `max-age` of the HTTP response.
pub const LIST_TTL_SECONDS: i64 = 300;

/// Seconds a signed list stays valid (`exp`, `validUntil`) after it was built.
pub const LIST_VALIDITY_SECONDS: i64 = 86_400;

/// The position of one certificate's status: a list number and an index in that list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusEntry {
    pub list: u32,
    pub index: u32,
}

/// The pointer a credential carries to its status: the index and the URLs of the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusClaim {
    pub index: u32,
    /// URL of the Token Status List (`statuslist+jwt`).
    pub token_list_uri: String,
    /// URL of the Bitstring Status List credential with `statusPurpose` `revocation`.
    pub revocation_list_uri: String,
    /// URL of the Bitstring Status List credential with `statusPurpose` `suspension`.
    pub suspension_list_uri: String,
}

impl StatusEntry {
    /// Returns the status claim of this entry for credentials of `issuer` (the public URL).
    pub fn claim(&self, issuer: &str) -> StatusClaim {
        let token_list_uri = token_list_uri(issuer, self.list);
        StatusClaim {
            index: self.index,
            revocation_list_uri: format!("{token_list_uri}/{}", Purpose::Revocation.as_str()),
            suspension_list_uri: format!("{token_list_uri}/{}", Purpose::Suspension.as_str()),
            token_list_uri,
        }
    }
}

/// Returns the URL of list `list`'s Token Status List.
pub fn token_list_uri(issuer: &str, list: u32) -> String {
    format!("{issuer}/status/{list}")
}

/// The `statusPurpose` of a Bitstring Status List.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Revocation,
    Suspension,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Revocation => "revocation",
            Purpose::Suspension => "suspension",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "revocation" => Some(Purpose::Revocation),
            "suspension" => Some(Purpose::Suspension),
            _ => None,
        }
    }

    /// Returns whether a certificate with `status` has this purpose's bit set.
    pub fn is_set_for(self, status: Status) -> bool {
        matches!(
            (self, status),
            (Purpose::Revocation, Status::Revoked) | (Purpose::Suspension, Status::Suspended)
        )
    }
}

#[cfg(test)]
mod tests;
