//! The upstream OpenID Connect provider where a holder logs in during the authorization code
//! flow, such as a broker for Swedish e-legitimation. intyg is its confidential client: it sends
//! the holder there with PKCE and a nonce, exchanges the code, and checks the ID token.

use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::crypto::b64url_decode;

/// Configuration of the upstream provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// The provider's issuer identifier; its discovery document is under
    /// `/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// The ID token claim that must equal the certificate holder's personal identity number.
    pub holder_claim: String,
}

/// Failure at the upstream provider.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(
        "the upstream provider {url} could not be reached or answered with an error: {detail}"
    )]
    Http { url: String, detail: String },
    #[error("the upstream provider's {what} is invalid: {detail}")]
    Invalid { what: &'static str, detail: String },
    #[error("the ID token is invalid: {0}")]
    IdToken(String),
}

/// The parts of the provider's discovery document that the login needs.
#[derive(Debug, Clone)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// The upstream provider, with its discovery document and keys fetched on first use.
pub struct Upstream {
    pub config: UpstreamConfig,
    http: reqwest::Client,
    discovery: RwLock<Option<Discovery>>,
    keys: RwLock<Vec<Map<String, Value>>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("issuer", &self.config.issuer)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

/// Timeout of every request to the upstream provider.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// How far an ID token's `exp` may lie in the past, in seconds, to allow for clock skew.
const CLOCK_SKEW_SECONDS: i64 = 60;

impl Upstream {
    pub fn new(config: UpstreamConfig) -> Result<Self, UpstreamError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| UpstreamError::Http {
                url: config.issuer.clone(),
                detail: error.to_string(),
            })?;
        Ok(Self {
            config,
            http,
            discovery: RwLock::new(None),
            keys: RwLock::new(Vec::new()),
        })
    }

    async fn get_json(&self, url: &str) -> Result<Value, UpstreamError> {
        let failed = |detail: String| UpstreamError::Http {
            url: url.to_owned(),
            detail,
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|error| failed(error.to_string()))?;
        if !response.status().is_success() {
            return Err(failed(format!("status {}", response.status())));
        }
        response
            .json()
            .await
            .map_err(|error| failed(error.to_string()))
    }

    async fn discovery(&self) -> Result<Discovery, UpstreamError> {
        if let Some(discovery) = self.discovery.read().await.clone() {
            return Ok(discovery);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.config.issuer.trim_end_matches('/')
        );
        let document = self.get_json(&url).await?;
        let member = |name: &str| {
            document
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| UpstreamError::Invalid {
                    what: "discovery document",
                    detail: format!("{name} is missing"),
                })
        };
        let discovery = Discovery {
            issuer: member("issuer")?,
            authorization_endpoint: member("authorization_endpoint")?,
            token_endpoint: member("token_endpoint")?,
            jwks_uri: member("jwks_uri")?,
        };
        if discovery.issuer != self.config.issuer {
            return Err(UpstreamError::Invalid {
                what: "discovery document",
                detail: format!(
                    "its issuer {:?} differs from the configured {:?}",
                    discovery.issuer, self.config.issuer
                ),
            });
        }
        *self.discovery.write().await = Some(discovery.clone());
        Ok(discovery)
    }

    /// Returns the URL that sends the holder to the provider's login.
    pub async fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> Result<String, UpstreamError> {
        let discovery = self.discovery().await?;
        let separator = if discovery.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        let encode = super::offer::percent_encode;
        Ok(format!(
            "{}{separator}response_type=code&scope=openid&client_id={}&redirect_uri={}&state={}&nonce={}&code_challenge={}&code_challenge_method=S256",
            discovery.authorization_endpoint,
            encode(&self.config.client_id),
            encode(redirect_uri),
            encode(state),
            encode(nonce),
            encode(code_challenge),
        ))
    }

    /// Exchanges an authorization code for tokens and returns the verified ID token's claims.
    pub async fn redeem_code(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
        nonce: &str,
        now: i64,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let discovery = self.discovery().await?;
        let failed = |detail: String| UpstreamError::Http {
            url: discovery.token_endpoint.clone(),
            detail,
        };
        let response = self
            .http
            .post(&discovery.token_endpoint)
            .basic_auth(&self.config.client_id, Some(&self.config.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", code_verifier),
            ])
            .send()
            .await
            .map_err(|error| failed(error.to_string()))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|error| failed(error.to_string()))?;
        if !status.is_success() {
            let error = body.get("error").and_then(Value::as_str).unwrap_or("");
            return Err(failed(format!("status {status}, error {error:?}")));
        }
        let id_token = body
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| UpstreamError::IdToken("the token response has no id_token".into()))?;
        self.verify_id_token(id_token, &discovery, nonce, now).await
    }

    async fn verify_id_token(
        &self,
        id_token: &str,
        discovery: &Discovery,
        nonce: &str,
        now: i64,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let invalid = |detail: String| UpstreamError::IdToken(detail);
        let parts: Vec<&str> = id_token.split('.').collect();
        let [header, payload, signature] = parts.as_slice() else {
            return Err(invalid("not a compact JWS".into()));
        };
        let header = decode_object(header).map_err(invalid)?;
        let claims = decode_object(payload).map_err(invalid)?;
        let signature = b64url_decode(signature).map_err(|error| invalid(error.to_string()))?;
        let alg = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let kid = header.get("kid").and_then(Value::as_str);
        let signing_input = &id_token[..id_token.rfind('.').unwrap_or(0)];

        let mut verified = self
            .signature_matches(alg, kid, signing_input, &signature)
            .await?;
        if !verified {
            // The provider may have rotated its keys since they were fetched.
            self.refresh_keys(discovery).await?;
            verified = self
                .signature_matches(alg, kid, signing_input, &signature)
                .await?;
        }
        if !verified {
            return Err(invalid(format!(
                "its {alg} signature does not verify with the provider's keys"
            )));
        }

        if claims.get("iss").and_then(Value::as_str) != Some(discovery.issuer.as_str()) {
            return Err(invalid("iss is not the upstream provider".into()));
        }
        let audience_matches = match claims.get("aud") {
            Some(Value::String(aud)) => aud == &self.config.client_id,
            Some(Value::Array(auds)) => auds
                .iter()
                .any(|aud| aud.as_str() == Some(self.config.client_id.as_str())),
            _ => false,
        };
        if !audience_matches {
            return Err(invalid("aud does not contain intyg's client id".into()));
        }
        let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        if exp + CLOCK_SKEW_SECONDS < now {
            return Err(invalid("it has expired".into()));
        }
        if claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(invalid("its nonce is not the one of this login".into()));
        }
        Ok(claims)
    }

    async fn refresh_keys(&self, discovery: &Discovery) -> Result<(), UpstreamError> {
        let set = self.get_json(&discovery.jwks_uri).await?;
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| UpstreamError::Invalid {
                what: "JWKS",
                detail: "keys is missing".into(),
            })?
            .iter()
            .filter_map(|key| key.as_object().cloned())
            .collect();
        *self.keys.write().await = keys;
        Ok(())
    }

    async fn signature_matches(
        &self,
        alg: &str,
        kid: Option<&str>,
        signing_input: &str,
        signature: &[u8],
    ) -> Result<bool, UpstreamError> {
        use josekit::jws::{JwsVerifier, ES256, PS256, RS256};
        let keys = self.keys.read().await;
        for key in keys.iter() {
            let key_kid = key.get("kid").and_then(Value::as_str);
            if kid.is_some() && key_kid != kid {
                continue;
            }
            let Ok(jwk) = josekit::jwk::Jwk::from_map(key.clone()) else {
                continue;
            };
            let verified = match alg {
                "RS256" => RS256
                    .verifier_from_jwk(&jwk)
                    .map(|verifier| verifier.verify(signing_input.as_bytes(), signature)),
                "PS256" => PS256
                    .verifier_from_jwk(&jwk)
                    .map(|verifier| verifier.verify(signing_input.as_bytes(), signature)),
                "ES256" => ES256
                    .verifier_from_jwk(&jwk)
                    .map(|verifier| verifier.verify(signing_input.as_bytes(), signature)),
                other => {
                    return Err(UpstreamError::IdToken(format!(
                        "its alg {other:?} is not supported; use RS256, PS256 or ES256"
                    )))
                }
            };
            if matches!(verified, Ok(Ok(()))) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

fn decode_object(part: &str) -> Result<Map<String, Value>, String> {
    let bytes = b64url_decode(part).map_err(|error| format!("not base64url: {error}"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err("a part is not a JSON object".into()),
    }
}
