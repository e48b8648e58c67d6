//! Keys of the traditional wallets: the Apple Pass Type ID certificate that signs `.pkpass`
//! files, and the Google service account key that signs Google Wallet save links. Both are RSA,
//! because those ecosystems require it.

use std::fs;
use std::path::{Path, PathBuf};

use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::{X509NameRef, X509};
use serde::Deserialize;

use super::SignError;

/// A wallet key or certificate that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WalletKeyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not usable: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error("the private key {key} does not belong to the Pass Type ID certificate {certificate}; use the key the certificate was issued for")]
    Mismatch { key: PathBuf, certificate: PathBuf },
    #[error("the Pass Type ID certificate {certificate} was not issued by the WWDR certificate {wwdr} (issuer {issuer:?}, WWDR subject {wwdr_subject:?}); download the WWDR intermediate that issued it from Apple's certificate authority page")]
    WrongIssuer {
        certificate: PathBuf,
        wwdr: PathBuf,
        issuer: String,
        wwdr_subject: String,
    },
    #[error("the Pass Type ID certificate {path} has no {field} in its subject; use a Pass Type ID certificate from Apple's developer portal")]
    MissingSubjectField { path: PathBuf, field: &'static str },
    #[error("{name} is {configured:?} but the Pass Type ID certificate {path} is for {certificate:?}; correct {name} or use the matching certificate")]
    ConfigMismatch {
        name: &'static str,
        configured: String,
        certificate: String,
        path: PathBuf,
    },
}

/// The Pass Type ID certificate and key, and the WWDR intermediate that issued the certificate.
/// The pass type identifier and team identifier are read from the certificate's subject.
pub struct PassSigningKey {
    certificate: X509,
    key: PKey<Private>,
    intermediates: Stack<X509>,
    pass_type_id: String,
    team_id: String,
}

impl std::fmt::Debug for PassSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassSigningKey")
            .field("pass_type_id", &self.pass_type_id)
            .field("team_id", &self.team_id)
            .finish_non_exhaustive()
    }
}

impl PassSigningKey {
    /// Loads the PEM certificate, key and WWDR intermediate and checks that they belong together.
    /// A configured pass type or team identifier must equal the certificate's.
    pub fn load(
        certificate_path: &Path,
        key_path: &Path,
        wwdr_path: &Path,
        expected_pass_type_id: Option<&str>,
        expected_team_id: Option<&str>,
    ) -> Result<Self, WalletKeyError> {
        let certificate = load_certificate(certificate_path)?;
        let wwdr = load_certificate(wwdr_path)?;
        let key = PKey::private_key_from_pem(&read(key_path)?).map_err(|error| {
            WalletKeyError::Invalid {
                path: key_path.to_path_buf(),
                detail: format!("not a PEM private key: {error}"),
            }
        })?;
        let public_matches = certificate
            .public_key()
            .map(|public| public.public_eq(&key))
            .unwrap_or(false);
        if !public_matches {
            return Err(WalletKeyError::Mismatch {
                key: key_path.to_path_buf(),
                certificate: certificate_path.to_path_buf(),
            });
        }
        let issued_by_wwdr = matches!(
            certificate.issuer_name().try_cmp(wwdr.subject_name()),
            Ok(std::cmp::Ordering::Equal)
        ) && wwdr
            .public_key()
            .and_then(|public| certificate.verify(&public))
            .unwrap_or(false);
        if !issued_by_wwdr {
            return Err(WalletKeyError::WrongIssuer {
                certificate: certificate_path.to_path_buf(),
                wwdr: wwdr_path.to_path_buf(),
                issuer: name_text(certificate.issuer_name()),
                wwdr_subject: name_text(wwdr.subject_name()),
            });
        }
        let subject_field = |nid: Nid, field: &'static str| {
            subject_entry(certificate.subject_name(), nid).ok_or(
                WalletKeyError::MissingSubjectField {
                    path: certificate_path.to_path_buf(),
                    field,
                },
            )
        };
        let pass_type_id = subject_field(Nid::USERID, "UID (the pass type identifier)")?;
        let team_id = subject_field(Nid::ORGANIZATIONALUNITNAME, "OU (the team identifier)")?;
        for (name, configured, actual) in [
            ("pass_type_id", expected_pass_type_id, &pass_type_id),
            ("team_id", expected_team_id, &team_id),
        ] {
            if let Some(configured) = configured {
                if configured != actual {
                    return Err(WalletKeyError::ConfigMismatch {
                        name,
                        configured: configured.to_owned(),
                        certificate: actual.clone(),
                        path: certificate_path.to_path_buf(),
                    });
                }
            }
        }
        let mut intermediates = Stack::new().map_err(|error| WalletKeyError::Invalid {
            path: wwdr_path.to_path_buf(),
            detail: error.to_string(),
        })?;
        intermediates
            .push(wwdr)
            .map_err(|error| WalletKeyError::Invalid {
                path: wwdr_path.to_path_buf(),
                detail: error.to_string(),
            })?;
        Ok(Self {
            certificate,
            key,
            intermediates,
            pass_type_id,
            team_id,
        })
    }

    /// Returns the pass type identifier, such as `pass.se.myndighet.intyg`.
    pub fn pass_type_id(&self) -> &str {
        &self.pass_type_id
    }

    /// Returns Apple's ten-character team identifier.
    pub fn team_id(&self) -> &str {
        &self.team_id
    }

    /// Returns the certificate and its private key in PEM (PKCS #8): the TLS client identity for
    /// the Apple Push Notification service.
    pub fn identity_pem(&self) -> Result<(Vec<u8>, Vec<u8>), SignError> {
        let failed = |error: openssl::error::ErrorStack| SignError(error.to_string());
        Ok((
            self.certificate.to_pem().map_err(failed)?,
            self.key.private_key_to_pem_pkcs8().map_err(failed)?,
        ))
    }

    /// Returns the DER CMS signature of `manifest`: detached, binary, signed with the Pass Type
    /// ID key, carrying the certificate and the WWDR intermediate. OpenSSL adds the signingTime
    /// attribute that Apple requires.
    pub fn sign_manifest(&self, manifest: &[u8]) -> Result<Vec<u8>, SignError> {
        let flags = CMSOptions::BINARY | CMSOptions::DETACHED;
        let signed = CmsContentInfo::sign(
            Some(&self.certificate),
            Some(&self.key),
            Some(&self.intermediates),
            Some(manifest),
            flags,
        )
        .map_err(|error| SignError(format!("the pass manifest: {error}")))?;
        signed
            .to_der()
            .map_err(|error| SignError(format!("the pass signature: {error}")))
    }
}

/// The fields of a Google service account key file that signing needs.
#[derive(Deserialize)]
struct ServiceAccountFile {
    client_email: String,
    private_key: String,
    private_key_id: String,
}

/// A Google service account key, which signs Google Wallet save links with RS256.
pub struct GoogleServiceAccount {
    email: String,
    key_id: String,
    key: PKey<Private>,
}

impl std::fmt::Debug for GoogleServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleServiceAccount")
            .field("email", &self.email)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl GoogleServiceAccount {
    /// Loads a service account key file in Google's JSON format.
    pub fn load(path: &Path) -> Result<Self, WalletKeyError> {
        let invalid = |detail: String| WalletKeyError::Invalid {
            path: path.to_path_buf(),
            detail,
        };
        let file: ServiceAccountFile = serde_json::from_slice(&read(path)?).map_err(|error| {
            invalid(format!(
                "not a Google service account key file (JSON with client_email, private_key and private_key_id): {error}"
            ))
        })?;
        let key = PKey::private_key_from_pem(file.private_key.as_bytes())
            .map_err(|error| invalid(format!("private_key is not a PEM private key: {error}")))?;
        if key.rsa().is_err() {
            return Err(invalid(
                "private_key is not an RSA key; Google Wallet links are signed with RS256".into(),
            ));
        }
        Ok(Self {
            email: file.client_email,
            key_id: file.private_key_id,
            key,
        })
    }

    /// Returns the service account's e-mail address, the `iss` of its JWTs.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// Returns the key id of the service account key.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs `message` with RSASSA-PKCS1-v1_5 and SHA-256 (RS256).
    pub fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let failed = |error: openssl::error::ErrorStack| SignError(error.to_string());
        let mut signer =
            openssl::sign::Signer::new(MessageDigest::sha256(), &self.key).map_err(failed)?;
        signer.update(message).map_err(failed)?;
        signer.sign_to_vec().map_err(failed)
    }

    /// Returns the public key in PEM, for verifying the JWTs this account signs.
    pub fn public_key_pem(&self) -> Result<Vec<u8>, SignError> {
        self.key
            .public_key_to_pem()
            .map_err(|error| SignError(error.to_string()))
    }
}

fn read(path: &Path) -> Result<Vec<u8>, WalletKeyError> {
    fs::read(path).map_err(|source| WalletKeyError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn load_certificate(path: &Path) -> Result<X509, WalletKeyError> {
    X509::from_pem(&read(path)?).map_err(|error| WalletKeyError::Invalid {
        path: path.to_path_buf(),
        detail: format!("not a PEM certificate: {error}"),
    })
}

fn subject_entry(name: &X509NameRef, nid: Nid) -> Option<String> {
    name.entries_by_nid(nid)
        .next()
        .and_then(|entry| entry.data().to_string().ok())
}

fn name_text(name: &X509NameRef) -> String {
    name.entries()
        .filter_map(|entry| {
            let field = entry.object().nid().short_name().ok()?;
            let value = entry.data().to_string().ok()?;
            Some(format!("{field}={value}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("keys-example")
            .join(name)
    }

    fn load(
        pass_type_id: Option<&str>,
        team_id: Option<&str>,
    ) -> Result<PassSigningKey, WalletKeyError> {
        PassSigningKey::load(
            &keys("pass-type-id.crt.pem"),
            &keys("pass-type-id.key.pem"),
            &keys("apple-wwdr.crt.pem"),
            pass_type_id,
            team_id,
        )
    }

    #[test]
    fn identifiers_come_from_the_certificate() {
        let key = load(None, None).unwrap();
        assert_eq!(key.pass_type_id(), "pass.se.intyg.development");
        assert_eq!(key.team_id(), "INTYGDEV01");
        assert!(load(Some("pass.se.intyg.development"), Some("INTYGDEV01")).is_ok());
    }

    #[test]
    fn configured_identifier_must_match() {
        let error = load(Some("pass.se.other"), None).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("pass_type_id is \"pass.se.other\""),
            "{error}"
        );
        let error = load(None, Some("ABCDE12345")).unwrap_err();
        assert!(error.to_string().contains("team_id"), "{error}");
    }

    #[test]
    fn wwdr_must_have_issued_the_certificate() {
        let error = PassSigningKey::load(
            &keys("pass-type-id.crt.pem"),
            &keys("pass-type-id.key.pem"),
            &keys("apple-root.crt.pem"),
            None,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(error, WalletKeyError::WrongIssuer { .. }),
            "{error}"
        );
    }

    #[test]
    fn key_must_match_the_certificate() {
        let error = PassSigningKey::load(
            &keys("pass-type-id.crt.pem"),
            &keys("issuer-signing.key.pem"),
            &keys("apple-wwdr.crt.pem"),
            None,
            None,
        )
        .unwrap_err();
        assert!(matches!(error, WalletKeyError::Mismatch { .. }), "{error}");
    }

    #[test]
    fn google_account_loads() {
        let account = GoogleServiceAccount::load(&keys("google-service-account.json")).unwrap();
        assert!(
            account.email().ends_with(".iam.gserviceaccount.com"),
            "{}",
            account.email()
        );
        assert!(!account.key_id().is_empty());
    }
}
