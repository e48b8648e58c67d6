//! The published lists: built from the certificates' stored status and signed on request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use super::{bitstring, token, Purpose, StatusAllocator, LIST_SIZE, LIST_TTL_SECONDS};
use super::{token_list_uri, LIST_VALIDITY_SECONDS};
use crate::crypto::IssuerKey;
use crate::formats::FormatError;
use crate::store::{Store, StoreError};

/// Failure to build a status list.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Format(#[from] FormatError),
}

/// Index allocation and the signed lists of one issuer.
pub struct StatusLists {
    store: Arc<dyn Store>,
    allocator: StatusAllocator,
    /// Counts status changes made by this process, so caches of lists can tell they are stale.
    generation: Arc<AtomicU64>,
}

impl std::fmt::Debug for StatusLists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusLists")
            .field("allocator", &self.allocator)
            .finish_non_exhaustive()
    }
}

impl StatusLists {
    /// Starts allocating after the highest list the store has in use.
    pub async fn open(store: Arc<dyn Store>) -> Result<Self, StoreError> {
        let usage = store.status_list_usage().await?;
        Ok(Self {
            store,
            allocator: StatusAllocator::new(usage),
            generation: Arc::default(),
        })
    }

    pub fn allocator(&self) -> &StatusAllocator {
        &self.allocator
    }

    /// Records that a certificate's status changed in this process.
    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Returns the counter that [`StatusLists::changed`] increments.
    pub fn generation(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.generation)
    }

    /// Builds and signs the Token Status List `list` as of `now`.
    // NOTE: every request builds and signs its list anew, which took about 40 ms for 1,000,000
    // entries in BENCHMARKS.md (a list here has 131,072); a busy server would keep the signed list
    // until a status changes.
    pub async fn token_list(
        &self,
        list: u32,
        issuer: &str,
        key: &IssuerKey,
        now: OffsetDateTime,
    ) -> Result<String, ListError> {
        let entries = self.store.status_list_entries(list).await?;
        let bytes = token::pack(
            LIST_SIZE,
            entries
                .into_iter()
                .map(|(index, status)| (index, token::value_of(status))),
        );
        let (valid_from, valid_until) = list_validity(key, now);
        let times = token::ListTimes {
            issued_at: valid_from.unix_timestamp(),
            expires_at: valid_until.unix_timestamp(),
            ttl: LIST_TTL_SECONDS,
        };
        Ok(token::sign(
            &token_list_uri(issuer, list),
            &bytes,
            times,
            key,
        )?)
    }

    /// Builds and signs the Bitstring Status List credential of `list` for `purpose` as of `now`.
    pub async fn bitstring_list(
        &self,
        list: u32,
        purpose: Purpose,
        issuer: &str,
        key: &IssuerKey,
        now: OffsetDateTime,
    ) -> Result<String, ListError> {
        let entries = self.store.status_list_entries(list).await?;
        let bytes = bitstring::pack(
            LIST_SIZE,
            entries
                .into_iter()
                .filter(|(_, status)| purpose.is_set_for(*status))
                .map(|(index, _)| index),
        );
        let (valid_from, valid_until) = list_validity(key, now);
        let uri = format!("{}/{}", token_list_uri(issuer, list), purpose.as_str());
        let credential = bitstring::ListCredential {
            uri: &uri,
            issuer,
            purpose,
            valid_from,
            valid_until,
        };
        Ok(bitstring::sign(&credential, &bytes, key)?)
    }
}

/// Returns the validity of a list built at `now`: a day, but never past the signing certificate.
fn list_validity(key: &IssuerKey, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let until = (now + Duration::seconds(LIST_VALIDITY_SECONDS)).min(key.not_after());
    (now, until)
}
