use std::fs;
use std::path::{Path, PathBuf};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder, X509};
use serde_json::json;

/// Failure to write a development key set.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("cannot create {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} already exists; choose an empty folder so no key is overwritten")]
    Exists(PathBuf),
    #[error("key generation failed in the crypto library: {0}")]
    Crypto(#[from] ErrorStack),
    #[error(transparent)]
    DataKey(#[from] super::DataKeyError),
}

/// The pass type identifier of the development Pass Type ID certificate.
pub const DEVELOPMENT_PASS_TYPE_ID: &str = "pass.se.intyg.development";
/// The team identifier (Apple's ten-character form) of the development Pass Type ID certificate.
pub const DEVELOPMENT_TEAM_ID: &str = "INTYGDEV01";

const VALIDITY_DAYS: u32 = 3650;

/// Writes a complete development key set to `out`. It contains the issuer CA and ES256 signing
/// certificate, a stand-in Apple root, WWDR-like intermediate and Pass Type ID certificate, an RSA
/// service account key in Google's JSON format, and an AES-256 data key for personal data at rest.
///
/// Returns the paths written. Nothing here is fit for production: the keys are unencrypted files.
pub fn generate_development_set(out: &Path) -> Result<Vec<PathBuf>, GenerateError> {
    fs::create_dir_all(out).map_err(|source| GenerateError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let names = [
        "issuer-ca.crt.pem",
        "issuer-ca.key.pem",
        "issuer-signing.key.pem",
        "issuer-signing.chain.pem",
        "apple-root.crt.pem",
        "apple-wwdr.crt.pem",
        "pass-type-id.key.pem",
        "pass-type-id.crt.pem",
        "google-service-account.json",
        "data-keys.txt",
    ];
    for name in names {
        let path = out.join(name);
        if path.exists() {
            return Err(GenerateError::Exists(path));
        }
    }

    let issuer_ca_key = ec_p256_key()?;
    let issuer_ca = build_certificate(
        &name(&[
            ("C", "SE"),
            ("O", "intyg development"),
            ("CN", "intyg development issuer CA"),
        ])?,
        &issuer_ca_key,
        None,
        Role::Authority,
    )?;
    let signing_key = ec_p256_key()?;
    let signing = build_certificate(
        &name(&[
            ("C", "SE"),
            ("O", "intyg development"),
            ("CN", "intyg development credential signer"),
        ])?,
        &signing_key,
        Some((&issuer_ca, &issuer_ca_key)),
        Role::Signer,
    )?;

    let apple_root_key = rsa_2048_key()?;
    let apple_root = build_certificate(
        &name(&[
            ("C", "SE"),
            ("O", "intyg development"),
            ("OU", "stand-in, not Apple"),
            ("CN", "Stand-in Apple Root CA"),
        ])?,
        &apple_root_key,
        None,
        Role::Authority,
    )?;
    let wwdr_key = rsa_2048_key()?;
    let wwdr = build_certificate(
        &name(&[
            ("C", "SE"),
            ("O", "intyg development"),
            ("OU", "G4"),
            (
                "CN",
                "Stand-in Worldwide Developer Relations Certification Authority",
            ),
        ])?,
        &wwdr_key,
        Some((&apple_root, &apple_root_key)),
        Role::Authority,
    )?;
    let pass_key = rsa_2048_key()?;
    let pass_common_name = format!("Pass Type ID: {DEVELOPMENT_PASS_TYPE_ID}");
    let pass_certificate = build_certificate(
        &name(&[
            ("UID", DEVELOPMENT_PASS_TYPE_ID),
            ("CN", &pass_common_name),
            ("OU", DEVELOPMENT_TEAM_ID),
            ("O", "intyg development"),
            ("C", "SE"),
        ])?,
        &pass_key,
        Some((&wwdr, &wwdr_key)),
        Role::Signer,
    )?;

    let google_key = rsa_2048_key()?;
    let google_key_pem =
        String::from_utf8_lossy(&google_key.private_key_to_pem_pkcs8()?).into_owned();
    let google_account = json!({
        "type": "service_account",
        "project_id": "intyg-development",
        "private_key_id": hex_serial()?,
        "private_key": google_key_pem,
        "client_email": "intyg-development@intyg-development.iam.gserviceaccount.com",
        "client_id": "000000000000000000000",
        "token_uri": "https://oauth2.googleapis.com/token"
    });
    let google_json =
        serde_json::to_vec_pretty(&google_account).map_err(|error| GenerateError::Write {
            path: out.join("google-service-account.json"),
            source: std::io::Error::other(error),
        })?;

    let mut signing_chain = signing.to_pem()?;
    signing_chain.extend_from_slice(&issuer_ca.to_pem()?);

    let data_key = super::DataKeys::generate_entry("development-1")?;
    let files: [(&str, Vec<u8>); 10] = [
        ("issuer-ca.crt.pem", issuer_ca.to_pem()?),
        (
            "issuer-ca.key.pem",
            issuer_ca_key.private_key_to_pem_pkcs8()?,
        ),
        (
            "issuer-signing.key.pem",
            signing_key.private_key_to_pem_pkcs8()?,
        ),
        ("issuer-signing.chain.pem", signing_chain),
        ("apple-root.crt.pem", apple_root.to_pem()?),
        ("apple-wwdr.crt.pem", wwdr.to_pem()?),
        ("pass-type-id.key.pem", pass_key.private_key_to_pem_pkcs8()?),
        ("pass-type-id.crt.pem", pass_certificate.to_pem()?),
        ("google-service-account.json", google_json),
        ("data-keys.txt", format!("{data_key}\n").into_bytes()),
    ];
    let mut written = Vec::with_capacity(files.len());
    for (file_name, contents) in files {
        let path = out.join(file_name);
        fs::write(&path, contents).map_err(|source| GenerateError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

enum Role {
    Authority,
    Signer,
}

fn ec_p256_key() -> Result<PKey<Private>, ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    PKey::from_ec_key(EcKey::generate(&group)?)
}

fn rsa_2048_key() -> Result<PKey<Private>, ErrorStack> {
    PKey::from_rsa(Rsa::generate(2048)?)
}

fn name(entries: &[(&str, &str)]) -> Result<X509Name, ErrorStack> {
    let mut builder = X509NameBuilder::new()?;
    for (field, value) in entries {
        builder.append_entry_by_text(field, value)?;
    }
    Ok(builder.build())
}

fn random_serial() -> Result<Asn1Integer, ErrorStack> {
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    serial.to_asn1_integer()
}

fn hex_serial() -> Result<String, ErrorStack> {
    let mut serial = BigNum::new()?;
    serial.rand(160, MsbOption::MAYBE_ZERO, false)?;
    Ok(serial.to_hex_str()?.to_lowercase())
}

/// Builds a certificate for `key`, self-signed when `issuer` is `None`.
fn build_certificate(
    subject: &X509Name,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    role: Role,
) -> Result<X509, ErrorStack> {
    let mut builder = X509Builder::new()?;
    builder.set_version(2)?;
    let serial = random_serial()?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(subject)?;
    builder.set_pubkey(key)?;
    // Backdated by an hour so a verifier whose clock is slightly behind still accepts it.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let not_before = Asn1Time::from_unix(now - 3600)?;
    let not_after = Asn1Time::days_from_now(VALIDITY_DAYS)?;
    builder.set_not_before(&not_before)?;
    builder.set_not_after(&not_after)?;
    match issuer {
        Some((issuer_certificate, _)) => {
            builder.set_issuer_name(issuer_certificate.subject_name())?
        }
        None => builder.set_issuer_name(subject)?,
    }

    match role {
        Role::Authority => {
            builder.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            builder.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()?,
            )?;
        }
        Role::Signer => {
            builder.append_extension(BasicConstraints::new().critical().build()?)?;
            builder.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
            if key.rsa().is_ok() {
                builder.append_extension(ExtendedKeyUsage::new().code_signing().build()?)?;
            }
        }
    }
    let subject_key_id = {
        let context =
            builder.x509v3_context(issuer.map(|(certificate, _)| certificate.as_ref()), None);
        SubjectKeyIdentifier::new().build(&context)?
    };
    builder.append_extension(subject_key_id)?;
    if let Some((issuer_certificate, _)) = issuer {
        let authority_key_id = {
            let context = builder.x509v3_context(Some(issuer_certificate), None);
            AuthorityKeyIdentifier::new().keyid(true).build(&context)?
        };
        builder.append_extension(authority_key_id)?;
    }

    let signing_key = issuer.map_or(key, |(_, issuer_key)| issuer_key);
    builder.sign(signing_key, MessageDigest::sha256())?;
    Ok(builder.build())
}
