use std::collections::HashMap;
use std::sync::Mutex;

use openssl::pkey::{PKey, Public};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509StoreContext, X509};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::keys::asn1_to_offset;

/// A certificate chain that does not lead to a trust anchor at the checked time.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ChainError {
    #[error("no trust anchors are configured; pass --trust PEM or set trust_anchors")]
    NoAnchors,
    #[error("the certificate chain is empty")]
    Empty,
    #[error("the certificate chain does not verify: {0}")]
    Untrusted(String),
}

/// Verifies `chain` (leaf first) against `anchors` as of `at`.
///
/// An anchor may be a root or any certificate in the chain, the signing certificate itself
/// included (OpenSSL's partial-chain mode), because verifiers are often given the signer directly.
pub fn verify_chain(
    chain: &[X509],
    anchors: &[X509],
    at: OffsetDateTime,
) -> Result<(), ChainError> {
    verify_chain_window(chain, anchors, at).map(|_| ())
}

/// Verifies `chain` like [`verify_chain`] and returns the period, in Unix seconds, in which every
/// certificate of the chain OpenSSL built (anchor included) is valid: the chain verifies at any
/// time in it, with the same anchors.
pub fn verify_chain_window(
    chain: &[X509],
    anchors: &[X509],
    at: OffsetDateTime,
) -> Result<(i64, i64), ChainError> {
    let untrusted = |error: openssl::error::ErrorStack| ChainError::Untrusted(error.to_string());
    if anchors.is_empty() {
        return Err(ChainError::NoAnchors);
    }
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err(ChainError::Empty);
    };

    let mut store = X509StoreBuilder::new().map_err(untrusted)?;
    for anchor in anchors {
        store.add_cert(anchor.clone()).map_err(untrusted)?;
    }
    store
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
        .map_err(untrusted)?;
    let mut param = openssl::x509::verify::X509VerifyParam::new().map_err(untrusted)?;
    // time_t is 64 bits on every target OpenSSL 3 supports here (x86_64 and aarch64 Linux).
    param.set_time(at.unix_timestamp());
    param
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
        .map_err(untrusted)?;
    store.set_param(&param).map_err(untrusted)?;
    let store = store.build();

    let mut stack = Stack::new().map_err(untrusted)?;
    for certificate in intermediates {
        stack.push(certificate.clone()).map_err(untrusted)?;
    }
    let mut context = X509StoreContext::new().map_err(untrusted)?;
    let (ok, reason, window) = context
        .init(&store, leaf, &stack, |context| {
            let ok = context.verify_cert()?;
            let mut window = (i64::MIN, i64::MAX);
            for certificate in context.chain().into_iter().flatten() {
                let not_before = asn1_to_offset(certificate.not_before())?.unix_timestamp();
                let not_after = asn1_to_offset(certificate.not_after())?.unix_timestamp();
                window = (window.0.max(not_before), window.1.min(not_after));
            }
            Ok((ok, context.error().error_string().to_owned(), window))
        })
        .map_err(untrusted)?;
    if ok {
        Ok(window)
    } else {
        Err(ChainError::Untrusted(reason))
    }
}

/// Chains that verified before, by the SHA-256 of their `x5c` entries, with the signing key and
/// the period in which the chain verifies. Parsing the certificates and checking the chain took
/// most of the time of a verification, and a verifier meets the same few chains again and again.
/// A cache belongs to one set of trust anchors.
#[derive(Default)]
pub struct ChainCache {
    entries: Mutex<HashMap<[u8; 32], VerifiedChain>>,
}

/// A chain that verified: its signing certificate's key and when the chain is valid.
#[derive(Clone)]
pub struct VerifiedChain {
    pub key: PKey<Public>,
    pub not_before: i64,
    pub not_after: i64,
}

impl std::fmt::Debug for ChainCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let size = self.entries.lock().map_or(0, |entries| entries.len());
        f.debug_struct("ChainCache").field("size", &size).finish()
    }
}

/// Chains after which the cache is emptied, so that many distinct chains cannot grow memory.
const MAX_CACHED_CHAINS: usize = 1024;

impl ChainCache {
    /// Returns the digest under which `x5c` (the base64 entries, leaf first) is cached.
    pub fn digest<'a>(x5c: impl IntoIterator<Item = &'a str>) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for entry in x5c {
            hasher.update(entry.as_bytes());
            // A separator that base64 cannot contain, so entries cannot run into each other.
            hasher.update(b",");
        }
        hasher.finalize().into()
    }

    /// Returns the verified chain cached under `digest` if it is valid at `at`.
    pub fn get(&self, digest: &[u8; 32], at: OffsetDateTime) -> Option<VerifiedChain> {
        let entries = self.entries.lock().ok()?;
        let chain = entries.get(digest)?;
        let at = at.unix_timestamp();
        (chain.not_before <= at && at <= chain.not_after).then(|| chain.clone())
    }

    pub fn insert(&self, digest: [u8; 32], chain: VerifiedChain) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_CACHED_CHAINS {
                entries.clear();
            }
            entries.insert(digest, chain);
        }
    }
}
