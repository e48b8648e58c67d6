//! intyg issues certificates for Swedish public-sector bodies and delivers them through every
//! channel a person can use: EU identity wallets, Apple and Google wallets, PDFs and post.
//!
//! Reading order, following one certificate: [`certificate`] validates the e-service's claims against
//! the certificate type, [`crypto`] loads the signing keys, [`formats`] turns claims and a key into
//! signed bytes, [`verify`] checks what was issued, and [`http`] serves all of it.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod certificate;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod formats;
pub mod http;
pub mod issuer;
pub mod oid4vci;
pub mod passes;
pub mod status;
pub mod store;
pub mod verify;
