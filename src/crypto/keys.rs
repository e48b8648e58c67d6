use std::fs;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::ec::EcKey;
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private, Public};
use openssl::x509::X509;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{b64_std, ec_public_jwk, jwk_thumbprint, SignError, Signer};

/// A signing key or certificate file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}; check the path in signing_key / signing_chain (INTYG_SIGNING_KEY / INTYG_SIGNING_CHAIN)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} does not contain a PEM private key: {detail}")]
    NotAPrivateKey { path: PathBuf, detail: String },
    #[error("{path} holds a {found} key; the issuer signing key must be an EC P-256 key (ES256)")]
    WrongKeyType { path: PathBuf, found: String },
    #[error("{path} does not contain a PEM certificate chain: {detail}")]
    NotAChain { path: PathBuf, detail: String },
    #[error("the private key {key} does not belong to the first certificate in {chain}; put the signing certificate first in the chain file, or use the key it was issued for")]
    Mismatch { key: PathBuf, chain: PathBuf },
    #[error("the signing certificate in {path} expired at {not_after}; issue a new signing certificate (for development: intyg keys generate --out DIR)")]
    Expired { path: PathBuf, not_after: String },
    #[error("the signing certificate in {path} is not valid before {not_before}; check the system clock or the certificate")]
    NotYetValid { path: PathBuf, not_before: String },
    #[error("crypto library error with {path}: {detail}")]
    Crypto { path: PathBuf, detail: String },
}

/// The issuer's ES256 signing key with its certificate chain and public JWK.
pub struct IssuerKey {
    key: EcKey<Private>,
    key_id: String,
    chain: Vec<X509>,
    x5c: Vec<String>,
    public_jwk: Map<String, Value>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl IssuerKey {
    /// Loads a PEM private key and its PEM chain (signing certificate first), and checks that
    /// they match and that the certificate is valid at `now`.
    pub fn load(key_path: &Path, chain_path: &Path, now: OffsetDateTime) -> Result<Self, KeyError> {
        let read = |path: &Path| {
            fs::read(path).map_err(|source| KeyError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let key_pem = read(key_path)?;
        let chain_pem = read(chain_path)?;

        let key =
            PKey::private_key_from_pem(&key_pem).map_err(|error| KeyError::NotAPrivateKey {
                path: key_path.to_path_buf(),
                detail: error.to_string(),
            })?;
        let chain = X509::stack_from_pem(&chain_pem).map_err(|error| KeyError::NotAChain {
            path: chain_path.to_path_buf(),
            detail: error.to_string(),
        })?;
        Self::from_parts(key, chain, now, key_path, chain_path)
    }

    /// Builds a key from parsed parts; the paths only name the sources in errors.
    pub fn from_parts(
        key: PKey<Private>,
        chain: Vec<X509>,
        now: OffsetDateTime,
        key_path: &Path,
        chain_path: &Path,
    ) -> Result<Self, KeyError> {
        let crypto = |path: &Path| {
            let path = path.to_path_buf();
            move |error: openssl::error::ErrorStack| KeyError::Crypto {
                path,
                detail: error.to_string(),
            }
        };
        let is_p256 = key
            .ec_key()
            .ok()
            .and_then(|ec| ec.group().curve_name())
            .is_some_and(|curve| curve == Nid::X9_62_PRIME256V1);
        if !is_p256 {
            return Err(KeyError::WrongKeyType {
                path: key_path.to_path_buf(),
                found: format!("{:?}", key.id()),
            });
        }
        let Some(leaf) = chain.first() else {
            return Err(KeyError::NotAChain {
                path: chain_path.to_path_buf(),
                detail: "no certificate found".into(),
            });
        };

        let leaf_key: PKey<Public> = leaf.public_key().map_err(crypto(chain_path))?;
        if !leaf_key.public_eq(&key) {
            return Err(KeyError::Mismatch {
                key: key_path.to_path_buf(),
                chain: chain_path.to_path_buf(),
            });
        }

        let now_asn1 = Asn1Time::from_unix(now.unix_timestamp()).map_err(crypto(chain_path))?;
        if leaf.not_after() < now_asn1 {
            return Err(KeyError::Expired {
                path: chain_path.to_path_buf(),
                not_after: leaf.not_after().to_string(),
            });
        }
        if leaf.not_before() > now_asn1 {
            return Err(KeyError::NotYetValid {
                path: chain_path.to_path_buf(),
                not_before: leaf.not_before().to_string(),
            });
        }
        let not_before = asn1_to_offset(leaf.not_before()).map_err(crypto(chain_path))?;
        let not_after = asn1_to_offset(leaf.not_after()).map_err(crypto(chain_path))?;

        let key = key.ec_key().map_err(|error| KeyError::NotAPrivateKey {
            path: key_path.to_path_buf(),
            detail: error.to_string(),
        })?;

        let mut public_jwk = ec_public_jwk(&leaf_key).map_err(|error| KeyError::Crypto {
            path: chain_path.to_path_buf(),
            detail: error.to_string(),
        })?;
        let key_id = jwk_thumbprint(&public_jwk).map_err(|error| KeyError::Crypto {
            path: chain_path.to_path_buf(),
            detail: error.to_string(),
        })?;
        let x5c = chain
            .iter()
            .map(|certificate| certificate.to_der().map(b64_std))
            .collect::<Result<Vec<_>, _>>()
            .map_err(crypto(chain_path))?;
        public_jwk.insert("kid".into(), Value::from(key_id.clone()));
        public_jwk.insert("use".into(), Value::from("sig"));
        public_jwk.insert("alg".into(), Value::from("ES256"));
        public_jwk.insert("x5c".into(), Value::from(x5c.clone()));

        Ok(Self {
            key,
            key_id,
            chain,
            x5c,
            public_jwk,
            not_before,
            not_after,
        })
    }

    /// Returns the public JWK with `kid`, `use`, `alg` and `x5c`, as the JWKS publishes it.
    pub fn public_jwk(&self) -> &Map<String, Value> {
        &self.public_jwk
    }

    /// Returns the certificate chain, signing certificate first.
    pub fn chain(&self) -> &[X509] {
        &self.chain
    }

    /// When the signing certificate expires; nothing signed with it may outlive this.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }
}

impl Signer for IssuerKey {
    fn algorithm(&self) -> &'static str {
        "ES256"
    }

    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn x5c(&self) -> &[String] {
        &self.x5c
    }

    /// Signs with ECDSA on the SHA-256 digest straight away, without the digest and key context
    /// that OpenSSL's generic signer sets up for every call, and returns `r || s` as JWS and
    /// COSE carry it (RFC 7518, section 3.4).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        use sha2::{Digest, Sha256};
        let failed = |error: openssl::error::ErrorStack| SignError(error.to_string());
        let signature = EcdsaSig::sign(&Sha256::digest(message), &self.key).map_err(failed)?;
        let mut raw = signature.r().to_vec_padded(32).map_err(failed)?;
        raw.extend(signature.s().to_vec_padded(32).map_err(failed)?);
        Ok(raw)
    }

    fn certificate_validity(&self) -> Result<(OffsetDateTime, OffsetDateTime), SignError> {
        Ok((self.not_before, self.not_after))
    }
}

/// Converts an ASN.1 time to `OffsetDateTime` through its distance from the Unix epoch.
pub(crate) fn asn1_to_offset(
    time: &openssl::asn1::Asn1TimeRef,
) -> Result<OffsetDateTime, openssl::error::ErrorStack> {
    let epoch = Asn1Time::from_unix(0)?;
    let diff = epoch.diff(time)?;
    let seconds = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    Ok(OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds))
}

/// The public half of a retired signing key: still published, so that credentials it signed keep
/// verifying, until its signing certificate expires. A credential never verifies past that time
/// anyway, because its chain is checked at the verification time.
#[derive(Debug, Clone)]
pub struct RetiredKey {
    /// The public JWK with `kid`, `use`, `alg` and `x5c`, as the JWKS publishes it.
    pub public_jwk: Map<String, Value>,
    /// The retired signing certificate, which the server's verifier trusts.
    pub certificate: X509,
    pub not_after: OffsetDateTime,
}

impl RetiredKey {
    /// Loads a retired key's PEM chain, its signing certificate first.
    pub fn load(chain_path: &Path) -> Result<Self, KeyError> {
        let pem = fs::read(chain_path).map_err(|source| KeyError::Read {
            path: chain_path.to_path_buf(),
            source,
        })?;
        let chain = X509::stack_from_pem(&pem).map_err(|error| KeyError::NotAChain {
            path: chain_path.to_path_buf(),
            detail: error.to_string(),
        })?;
        let crypto = |detail: String| KeyError::Crypto {
            path: chain_path.to_path_buf(),
            detail,
        };
        let Some(leaf) = chain.first() else {
            return Err(KeyError::NotAChain {
                path: chain_path.to_path_buf(),
                detail: "no certificate found".into(),
            });
        };
        let public_key = leaf
            .public_key()
            .map_err(|error| crypto(error.to_string()))?;
        let mut public_jwk =
            ec_public_jwk(&public_key).map_err(|error| crypto(error.to_string()))?;
        let key_id = jwk_thumbprint(&public_jwk).map_err(|error| crypto(error.to_string()))?;
        let x5c = chain
            .iter()
            .map(|certificate| certificate.to_der().map(b64_std))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| crypto(error.to_string()))?;
        public_jwk.insert("kid".into(), Value::from(key_id));
        public_jwk.insert("use".into(), Value::from("sig"));
        public_jwk.insert("alg".into(), Value::from("ES256"));
        public_jwk.insert("x5c".into(), Value::from(x5c));
        let not_after =
            asn1_to_offset(leaf.not_after()).map_err(|error| crypto(error.to_string()))?;
        Ok(Self {
            public_jwk,
            certificate: leaf.clone(),
            not_after,
        })
    }
}
