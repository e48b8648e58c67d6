use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509StoreContext, X509};
use time::OffsetDateTime;

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
    let (ok, reason) = context
        .init(&store, leaf, &stack, |context| {
            let ok = context.verify_cert()?;
            Ok((ok, context.error().error_string().to_owned()))
        })
        .map_err(untrusted)?;
    if ok {
        Ok(())
    } else {
        Err(ChainError::Untrusted(reason))
    }
}
