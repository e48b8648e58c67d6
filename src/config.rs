//! Configuration: a TOML file, then `INTYG_*` environment variables, then command-line flags, each
//! overriding the one before. Without any, development defaults apply (keys from `keys-example/`).

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::oid4vci::upstream::UpstreamConfig;

/// Failure to build a usable configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{name} is {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The configuration file; every member is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    public_url: Option<String>,
    database: Option<String>,
    data_dir: Option<PathBuf>,
    schemas_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    signing_key: Option<PathBuf>,
    signing_chain: Option<PathBuf>,
    previous_signing_chains: Option<Vec<PathBuf>>,
    trust_anchors: Option<Vec<PathBuf>>,
    data_keys: Option<Vec<String>>,
    max_body_bytes: Option<usize>,
    retention_check_seconds: Option<u64>,
    oidc_issuer: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
    oidc_holder_claim: Option<String>,
    #[serde(default)]
    apple_wallet: AppleWalletFile,
    #[serde(default)]
    google_wallet: GoogleWalletFile,
}

/// The `[apple_wallet]` table of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppleWalletFile {
    certificate: Option<PathBuf>,
    key: Option<PathBuf>,
    wwdr_certificate: Option<PathBuf>,
    pass_type_id: Option<String>,
    team_id: Option<String>,
    organization_name: Option<String>,
    apns_url: Option<String>,
}

/// The `[google_wallet]` table of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoogleWalletFile {
    service_account: Option<PathBuf>,
    issuer_id: Option<String>,
    origins: Option<Vec<String>>,
}

/// Apple Wallet passes: the Pass Type ID certificate, its key and the WWDR intermediate that
/// issued it, and where pushes go.
#[derive(Debug, Clone)]
pub struct AppleWalletConfig {
    pub certificate: PathBuf,
    pub key: PathBuf,
    pub wwdr_certificate: PathBuf,
    /// When set, the certificate's pass type identifier must equal it.
    pub pass_type_id: Option<String>,
    /// When set, the certificate's team identifier must equal it.
    pub team_id: Option<String>,
    /// The agency's name on the pass.
    pub organization_name: String,
    /// The Apple Push Notification service, `https://api.push.apple.com` in production.
    pub apns_url: String,
    /// True when the keys are the development keys from `keys-example/`.
    pub development_keys: bool,
}

/// Google Wallet save links: the service account key, the issuer id and the allowed origins.
#[derive(Debug, Clone)]
pub struct GoogleWalletConfig {
    pub service_account: PathBuf,
    pub issuer_id: String,
    pub origins: Vec<String>,
    /// True when the service account key is the development key from `keys-example/`.
    pub development_keys: bool,
}

/// The resolved configuration of one `intyg` process.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// The credential issuer identifier: scheme, host and optional path, never a trailing slash.
    pub public_url: String,
    /// `sqlite://PATH` or `postgres://...`; by default a SQLite file in `data_dir`.
    pub database: String,
    pub data_dir: PathBuf,
    pub schemas_dir: PathBuf,
    pub log_format: LogFormat,
    /// PEM private key of the ES256 signing key.
    pub signing_key: PathBuf,
    /// PEM chain: the signing certificate first, then its issuers.
    pub signing_chain: PathBuf,
    /// PEM chains of retired signing keys, each published until its signing certificate expires.
    pub previous_signing_chains: Vec<PathBuf>,
    /// PEM files of certificates that `intyg verify` and the verify API trust.
    pub trust_anchors: Vec<PathBuf>,
    /// True when the signing key is the development key from `keys-example/`.
    pub development_keys: bool,
    /// `ID:BASE64` AES-256 keys for personal data at rest; the first seals new data.
    pub data_keys: Vec<String>,
    /// True when the data keys are the development keys from `keys-example/`.
    pub development_data_keys: bool,
    /// Largest request body the API accepts, in bytes.
    pub max_body_bytes: usize,
    /// Seconds between runs of the job that deletes personal data past its retention.
    pub retention_check_seconds: u64,
    pub apple_wallet: AppleWalletConfig,
    pub google_wallet: GoogleWalletConfig,
    /// The upstream OpenID provider for the authorization code flow; `None` disables that flow.
    pub upstream: Option<UpstreamConfig>,
}

/// The default ID token claim compared with the holder's personal identity number.
pub const DEFAULT_HOLDER_CLAIM: &str = "personal_identity_number";

/// Values given on the command line, which override the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub database: Option<String>,
}

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_APNS_URL: &str = "https://api.push.apple.com";
const DEFAULT_ORGANIZATION_NAME: &str = "intyg";
/// The Google Wallet issuer id used with the development service account key: a placeholder
/// that Google does not know.
const DEVELOPMENT_GOOGLE_ISSUER_ID: &str = "1000000000000000000";
/// 256 KiB: a certificate's claims are a few kilobytes; this leaves room for large types.
const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;

impl Config {
    /// Loads the file at `path` (if any), applies `INTYG_*` variables and `overrides`, and fills
    /// in the development defaults.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let file = match path {
            Some(path) => {
                let text = fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|error| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: error.to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        Self::resolve(file, |name| std::env::var(name).ok(), overrides)
    }

    fn resolve(
        file: FileConfig,
        env: impl Fn(&str) -> Option<String>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let pick = |flag: &Option<String>, variable: &str, from_file: Option<String>| {
            flag.clone().or_else(|| env(variable)).or(from_file)
        };
        let listen_text = pick(&overrides.listen, "INTYG_LISTEN", file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text.parse().map_err(|_| ConfigError::Invalid {
            name: "listen",
            value: listen_text.clone(),
            reason: "expected an address and port such as 127.0.0.1:8080",
        })?;
        let public_url = pick(&overrides.public_url, "INTYG_PUBLIC_URL", file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"));
        let public_url = normalize_public_url(&public_url)?;

        let data_dir = env("INTYG_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database = pick(&overrides.database, "INTYG_DATABASE", file.database)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("intyg.db").display()));
        let schemas_dir = env("INTYG_SCHEMAS_DIR")
            .map(PathBuf::from)
            .or(file.schemas_dir)
            .unwrap_or_else(|| bundled_path("schemas"));
        let log_format = match env("INTYG_LOG_FORMAT").as_deref() {
            Some("json") => LogFormat::Json,
            Some("text") => LogFormat::Text,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "INTYG_LOG_FORMAT",
                    value: other.to_owned(),
                    reason: "expected text or json",
                })
            }
            None => file.log_format.unwrap_or(LogFormat::Text),
        };

        let signing_key = env("INTYG_SIGNING_KEY")
            .map(PathBuf::from)
            .or(file.signing_key);
        let signing_chain = env("INTYG_SIGNING_CHAIN")
            .map(PathBuf::from)
            .or(file.signing_chain);
        let previous_signing_chains = env("INTYG_PREVIOUS_SIGNING_CHAINS")
            .map(|list| {
                list.split(',')
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .or(file.previous_signing_chains)
            .unwrap_or_default();
        let trust_anchors = env("INTYG_TRUST_ANCHORS")
            .map(|list| {
                list.split(',')
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from)
                    .collect()
            })
            .or(file.trust_anchors);
        let development_keys = signing_key.is_none() && signing_chain.is_none();
        let (signing_key, signing_chain) = match (signing_key, signing_chain) {
            (Some(key), Some(chain)) => (key, chain),
            (None, None) => {
                let keys = bundled_path("keys-example");
                (keys.join("issuer-signing.key.pem"), keys.join("issuer-signing.chain.pem"))
            }
            (Some(key), None) => {
                return Err(ConfigError::Invalid {
                    name: "signing_chain",
                    value: String::new(),
                    reason: "signing_key is set, so signing_chain (INTYG_SIGNING_CHAIN) must name its certificate chain too",
                }
                .with_value(key))
            }
            (None, Some(chain)) => {
                return Err(ConfigError::Invalid {
                    name: "signing_key",
                    value: String::new(),
                    reason: "signing_chain is set, so signing_key (INTYG_SIGNING_KEY) must name its private key too",
                }
                .with_value(chain))
            }
        };
        let trust_anchors = trust_anchors.unwrap_or_else(|| {
            if development_keys {
                // The signing certificate is trusted directly too, because a 2D code names its
                // signer only by kid and carries no chain up to the CA.
                let keys = bundled_path("keys-example");
                vec![
                    keys.join("issuer-ca.crt.pem"),
                    keys.join("issuer-signing.chain.pem"),
                ]
            } else {
                Vec::new()
            }
        });

        let configured_data_keys = env("INTYG_DATA_KEYS")
            .map(|list| {
                list.split(',')
                    .map(str::to_owned)
                    .filter(|entry| !entry.is_empty())
                    .collect()
            })
            .or(file.data_keys);
        let development_data_keys = configured_data_keys.is_none();
        let data_keys = match configured_data_keys {
            Some(keys) => keys,
            None => {
                let path = bundled_path("keys-example").join("data-keys.txt");
                let text = fs::read_to_string(&path)
                    .map_err(|source| ConfigError::Read { path, source })?;
                text.lines()
                    .map(str::to_owned)
                    .filter(|line| !line.trim().is_empty())
                    .collect()
            }
        };
        let max_body_bytes = match env("INTYG_MAX_BODY_BYTES") {
            Some(text) => text.parse().map_err(|_| ConfigError::Invalid {
                name: "INTYG_MAX_BODY_BYTES",
                value: text.clone(),
                reason: "expected a number of bytes such as 262144",
            })?,
            None => file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES),
        };
        let retention_check_seconds = file.retention_check_seconds.unwrap_or(3600).max(1);
        let apple_wallet = apple_wallet(file.apple_wallet, &env)?;
        let google_wallet = google_wallet(file.google_wallet, &env);
        let upstream = upstream_config(
            env("INTYG_OIDC_ISSUER").or(file.oidc_issuer),
            env("INTYG_OIDC_CLIENT_ID").or(file.oidc_client_id),
            env("INTYG_OIDC_CLIENT_SECRET").or(file.oidc_client_secret),
            env("INTYG_OIDC_HOLDER_CLAIM").or(file.oidc_holder_claim),
        )?;

        Ok(Self {
            listen,
            public_url,
            database,
            data_dir,
            schemas_dir,
            log_format,
            signing_key,
            signing_chain,
            previous_signing_chains,
            trust_anchors,
            development_keys,
            data_keys,
            development_data_keys,
            max_body_bytes,
            retention_check_seconds,
            apple_wallet,
            google_wallet,
            upstream,
        })
    }
}

/// Resolves the Apple Wallet settings: the three key files are given together, or none of them
/// and the development set applies.
fn apple_wallet(
    file: AppleWalletFile,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<AppleWalletConfig, ConfigError> {
    let path =
        |variable: &str, from_file: Option<PathBuf>| env(variable).map(PathBuf::from).or(from_file);
    let certificate = path("INTYG_PASS_CERTIFICATE", file.certificate);
    let key = path("INTYG_PASS_KEY", file.key);
    let wwdr = path("INTYG_PASS_WWDR_CERTIFICATE", file.wwdr_certificate);
    let development_keys = certificate.is_none() && key.is_none() && wwdr.is_none();
    let (certificate, key, wwdr_certificate) = match (certificate, key, wwdr) {
        (Some(certificate), Some(key), Some(wwdr)) => (certificate, key, wwdr),
        (None, None, None) => {
            let keys = bundled_path("keys-example");
            (
                keys.join("pass-type-id.crt.pem"),
                keys.join("pass-type-id.key.pem"),
                keys.join("apple-wwdr.crt.pem"),
            )
        }
        (certificate, key, wwdr) => {
            let given = [certificate, key, wwdr]
                .into_iter()
                .flatten()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(ConfigError::Invalid {
                name: "apple_wallet",
                value: given,
                reason: "give certificate, key and wwdr_certificate together (INTYG_PASS_CERTIFICATE, INTYG_PASS_KEY, INTYG_PASS_WWDR_CERTIFICATE), or none of them for the development keys",
            });
        }
    };
    Ok(AppleWalletConfig {
        certificate,
        key,
        wwdr_certificate,
        pass_type_id: env("INTYG_PASS_TYPE_ID").or(file.pass_type_id),
        team_id: env("INTYG_TEAM_ID").or(file.team_id),
        organization_name: env("INTYG_ORGANIZATION_NAME")
            .or(file.organization_name)
            .unwrap_or_else(|| DEFAULT_ORGANIZATION_NAME.to_owned()),
        apns_url: env("INTYG_APNS_URL")
            .or(file.apns_url)
            .unwrap_or_else(|| DEFAULT_APNS_URL.to_owned())
            .trim_end_matches('/')
            .to_owned(),
        development_keys,
    })
}

/// Resolves the Google Wallet settings; without a service account key the development key and
/// a placeholder issuer id apply. Origins are needed only where a web page shows Google's save
/// button, so there are none by default.
fn google_wallet(
    file: GoogleWalletFile,
    env: &impl Fn(&str) -> Option<String>,
) -> GoogleWalletConfig {
    let service_account = env("INTYG_GOOGLE_SERVICE_ACCOUNT")
        .map(PathBuf::from)
        .or(file.service_account);
    let development_keys = service_account.is_none();
    let origins = env("INTYG_GOOGLE_ORIGINS")
        .map(|list| {
            list.split(',')
                .filter(|origin| !origin.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .or(file.origins)
        .unwrap_or_default();
    GoogleWalletConfig {
        service_account: service_account
            .unwrap_or_else(|| bundled_path("keys-example").join("google-service-account.json")),
        issuer_id: env("INTYG_GOOGLE_ISSUER_ID")
            .or(file.issuer_id)
            .unwrap_or_else(|| DEVELOPMENT_GOOGLE_ISSUER_ID.to_owned()),
        origins,
        development_keys,
    }
}

/// Builds the upstream provider's configuration: all of issuer, client id and secret, or none.
fn upstream_config(
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    holder_claim: Option<String>,
) -> Result<Option<UpstreamConfig>, ConfigError> {
    let missing = |name: &'static str, value: &str| ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason:
            "oidc_issuer, oidc_client_id and oidc_client_secret (INTYG_OIDC_*) must be set together",
    };
    match (issuer, client_id, client_secret) {
        (None, None, None) => Ok(None),
        (Some(issuer), Some(client_id), Some(client_secret)) => {
            if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    name: "oidc_issuer",
                    value: issuer,
                    reason: "expected the provider's issuer URL, such as https://login.example.se",
                });
            }
            Ok(Some(UpstreamConfig {
                issuer,
                client_id,
                client_secret,
                holder_claim: holder_claim.unwrap_or_else(|| DEFAULT_HOLDER_CLAIM.to_owned()),
            }))
        }
        (issuer, client_id, _) => Err(match (issuer, client_id) {
            (None, _) => missing("oidc_issuer", ""),
            (Some(_), None) => missing("oidc_client_id", ""),
            (Some(_), Some(_)) => missing("oidc_client_secret", ""),
        }),
    }
}

impl ConfigError {
    fn with_value(self, value: PathBuf) -> Self {
        match self {
            ConfigError::Invalid { name, reason, .. } => ConfigError::Invalid {
                name,
                value: value.display().to_string(),
                reason,
            },
            other => other,
        }
    }
}

/// Checks that `url` is an absolute http(s) URL without query or fragment and removes any
/// trailing slash, so the issuer identifier is the same byte for byte everywhere it appears.
pub fn normalize_public_url(url: &str) -> Result<String, ConfigError> {
    let invalid = |reason| ConfigError::Invalid {
        name: "public_url",
        value: url.to_owned(),
        reason,
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid("expected an http:// or https:// URL such as https://intyg.example.se")
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(invalid("the URL has no host"));
    }
    if url.contains(['?', '#']) || url.contains(char::is_whitespace) {
        return Err(invalid(
            "the URL may not contain a query, a fragment or white space",
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// Returns `name` in the working directory if it exists there, else the copy in the source tree
/// this binary was built from, so `intyg` runs from any directory of a checkout.
fn bundled_path(name: &str) -> PathBuf {
    let local = PathBuf::from(name);
    if local.exists() {
        return local;
    }
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    if bundled.exists() {
        bundled
    } else {
        local
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_trailing_slash_removed() {
        assert_eq!(
            normalize_public_url("https://intyg.example.se/").unwrap(),
            "https://intyg.example.se"
        );
        assert_eq!(
            normalize_public_url("https://intyg.example.se/tenant/").unwrap(),
            "https://intyg.example.se/tenant"
        );
    }

    #[test]
    fn public_url_rejects_non_http() {
        for bad in [
            "ftp://x",
            "intyg.example.se",
            "https://",
            "https://x/?a=1",
            "https://x/#f",
        ] {
            assert!(normalize_public_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn environment_overrides_file() {
        let file = FileConfig {
            listen: Some("127.0.0.1:9000".into()),
            ..FileConfig::default()
        };
        let env = |name: &str| (name == "INTYG_LISTEN").then(|| "127.0.0.1:9001".to_owned());
        let config = Config::resolve(file, env, &Overrides::default()).unwrap();
        assert_eq!(config.listen.port(), 9001);
        assert_eq!(config.public_url, "http://127.0.0.1:9001");
        assert!(config.development_keys);
    }

    #[test]
    fn flag_overrides_environment() {
        let env = |name: &str| (name == "INTYG_LISTEN").then(|| "127.0.0.1:9001".to_owned());
        let overrides = Overrides {
            listen: Some("127.0.0.1:9002".into()),
            ..Overrides::default()
        };
        let config = Config::resolve(FileConfig::default(), env, &overrides).unwrap();
        assert_eq!(config.listen.port(), 9002);
    }

    #[test]
    fn pass_keys_come_together() {
        let env = |name: &str| (name == "INTYG_PASS_KEY").then(|| "pass.key.pem".to_owned());
        let error = Config::resolve(FileConfig::default(), env, &Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("wwdr_certificate"), "{error}");
    }

    #[test]
    fn google_origins_from_a_list() {
        let env = |name: &str| {
            (name == "INTYG_GOOGLE_ORIGINS")
                .then(|| "https://a.example.se,https://b.example.se".to_owned())
        };
        let config = Config::resolve(FileConfig::default(), env, &Overrides::default()).unwrap();
        assert_eq!(
            config.google_wallet.origins,
            ["https://a.example.se", "https://b.example.se"]
        );
        assert!(config.apple_wallet.development_keys);
    }

    #[test]
    fn previous_signing_chains_from_environment() {
        let file = FileConfig {
            previous_signing_chains: Some(vec![PathBuf::from("from-file.pem")]),
            ..FileConfig::default()
        };
        let config = Config::resolve(file, |_| None, &Overrides::default()).unwrap();
        assert_eq!(
            config.previous_signing_chains,
            [PathBuf::from("from-file.pem")]
        );
        let env = |name: &str| {
            (name == "INTYG_PREVIOUS_SIGNING_CHAINS").then(|| "a.pem,,b.pem".to_owned())
        };
        let config = Config::resolve(FileConfig::default(), env, &Overrides::default()).unwrap();
        assert_eq!(
            config.previous_signing_chains,
            [PathBuf::from("a.pem"), PathBuf::from("b.pem")]
        );
    }

    #[test]
    fn upstream_needs_all_three_settings() {
        let env = |name: &str| {
            (name == "INTYG_OIDC_ISSUER").then(|| "https://login.example.se".to_owned())
        };
        let error = Config::resolve(FileConfig::default(), env, &Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("oidc_client_id"), "{error}");
        let env = |name: &str| match name {
            "INTYG_OIDC_ISSUER" => Some("https://login.example.se".to_owned()),
            "INTYG_OIDC_CLIENT_ID" => Some("intyg".to_owned()),
            "INTYG_OIDC_CLIENT_SECRET" => Some("secret".to_owned()),
            _ => None,
        };
        let config = Config::resolve(FileConfig::default(), env, &Overrides::default()).unwrap();
        let upstream = config.upstream.unwrap();
        assert_eq!(upstream.holder_claim, DEFAULT_HOLDER_CLAIM);
        assert_eq!(upstream.client_id, "intyg");
    }

    #[test]
    fn signing_key_without_chain_rejected() {
        let env = |name: &str| (name == "INTYG_SIGNING_KEY").then(|| "key.pem".to_owned());
        let error = Config::resolve(FileConfig::default(), env, &Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("signing_chain"), "{error}");
    }
}
