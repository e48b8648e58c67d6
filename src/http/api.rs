//! The e-service REST API under `/api/v1`: create, read, list and revoke certificates.
//! Errors are problem documents that name the field by JSON pointer.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::auth::Client;
use super::problem::Problem;
use super::AppState;
use crate::certificate::{Certificate, FieldError, Holder, NewCertificate};
use crate::formats::rfc3339;
use crate::store::{CertificateRecord, ListQuery, Status};

/// Longest accepted `Idempotency-Key`, in characters.
const MAX_IDEMPOTENCY_KEY_LENGTH: usize = 255;
/// Longest accepted revocation reason, in characters.
const MAX_REASON_LENGTH: usize = 500;
const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/certificates",
            post(create_certificate).get(list_certificates),
        )
        .route("/api/v1/certificates/{id}", get(get_certificate))
        .route("/api/v1/certificates/{id}/revoke", post(revoke_certificate))
        .route(
            "/api/v1/certificates/{id}/approve",
            post(approve_certificate),
        )
}

/// The body of `POST /api/v1/certificates`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCertificateRequest {
    /// Certificate type, such as `covid-certificate` or `personbevis`.
    #[serde(rename = "type")]
    pub type_id: String,
    /// The certificate's claims, valid against the type's JSON Schema.
    #[schema(value_type = Object)]
    pub claims: Value,
    #[serde(default)]
    pub holder: Option<Holder>,
    #[serde(default)]
    pub validity: Option<Validity>,
    /// Channels to deliver through: wallet, pass, google, pdf, mailbox, print.
    #[serde(default)]
    pub channels: Vec<String>,
    /// Options of the wallet channel's credential offer.
    #[serde(default)]
    pub offer: Option<OfferOptions>,
    /// `pending` keeps the certificate from wallets until `POST .../approve`. A wallet that
    /// requests it earlier gets a transaction id to try again later (deferred issuance).
    #[serde(default)]
    pub approval: Option<Approval>,
}

/// Options of the credential offer for an EU identity wallet.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferOptions {
    /// Protect the offer with a six-digit transaction code, returned as `offer_tx_code` for the
    /// e-service to send the holder through another channel. Five wrong codes lock the offer.
    #[serde(default)]
    pub tx_code: bool,
}

/// Approval state requested at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// A case officer must approve the certificate before a wallet receives it.
    Pending,
}

/// Requested validity of a certificate.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Validity {
    /// Days from creation; the type's default when absent.
    pub days: Option<u32>,
}

/// The body of `POST /api/v1/certificates/{id}/revoke`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Reason for the revocation, for the audit trail (1 to 500 characters, no personal data).
    pub reason: String,
}

/// Links to the certificate's artifacts. Channels add their links as they are enabled.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Links {
    /// This certificate in the API.
    #[serde(rename = "self")]
    pub self_link: String,
    /// `openid-credential-offer://` link for an EU identity wallet, in the response that
    /// created the certificate with the `wallet` channel only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// The same offer by reference (`credential_offer_uri`), a shorter link for QR codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_by_reference: Option<String>,
    /// PNG image of the QR code of `offer_by_reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_qr_png: Option<String>,
    /// SVG image of the QR code of `offer_by_reference`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_qr_svg: Option<String>,
    /// Download link of the PDF with its signed 2D code, in the response that created the
    /// certificate with the `pdf` channel only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdf: Option<String>,
    /// Download link of the Apple Wallet pass, in the response that created the certificate with
    /// the `pass` channel only. It shares its download token with the PDF link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    /// Google Wallet save link (`https://pay.google.com/gp/v/save/<JWT>`), in the response that
    /// created the certificate with the `google` channel only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub google: Option<String>,
}

/// A certificate as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateResponse {
    pub id: String,
    #[serde(rename = "type")]
    pub type_id: String,
    pub status: Status,
    /// RFC 3339 date-time of creation.
    pub created: String,
    pub valid_from: String,
    pub valid_until: String,
    pub channels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
    /// The claims; absent in listings and once the retention period has ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub claims: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<Holder>,
    /// When the personal data was deleted at the end of the retention period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_deleted_at: Option<String>,
    /// The credential offer's transaction code, in the response that created the offer with
    /// `offer.tx_code` only. Send it to the holder through another channel than the offer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_tx_code: Option<String>,
    pub links: Links,
}

/// A page of certificates.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CertificateList {
    pub items: Vec<CertificateResponse>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

fn timestamp(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map(rfc3339)
        .unwrap_or_else(|_| seconds.to_string())
}

pub(super) fn response(
    state: &AppState,
    record: &CertificateRecord,
    certificate: Option<&Certificate>,
) -> CertificateResponse {
    let data = certificate.and_then(|certificate| certificate.data.as_ref());
    let links = certificate.map(|certificate| &certificate.holder_links);
    CertificateResponse {
        id: record.id.clone(),
        type_id: record.type_id.clone(),
        status: record.status,
        created: timestamp(record.created_at),
        valid_from: timestamp(record.valid_from),
        valid_until: timestamp(record.valid_until),
        channels: record.channels.clone(),
        revoked_at: record.revoked_at.map(timestamp),
        revocation_reason: record.revocation_reason.clone(),
        claims: data.map(|data| data.claims.clone()),
        holder: data.and_then(|data| data.holder.clone()),
        data_deleted_at: record.data_deleted_at.map(timestamp),
        offer_tx_code: links.and_then(|links| links.offer_tx_code.clone()),
        links: Links {
            self_link: format!(
                "{}/api/v1/certificates/{}",
                state.service.issuer.issuer_id, record.id
            ),
            offer: links.and_then(|links| links.offer.clone()),
            offer_by_reference: links.and_then(|links| links.offer_by_reference.clone()),
            offer_qr_png: links.and_then(|links| links.offer_qr_png.clone()),
            offer_qr_svg: links.and_then(|links| links.offer_qr_svg.clone()),
            pdf: links.and_then(|links| links.pdf.clone()),
            pass: links.and_then(|links| links.pass.clone()),
            google: links.and_then(|links| links.google.clone()),
        },
    }
}

/// Checks the content type and size, then parses the body into `T`, naming the first invalid
/// field by JSON pointer.
pub(super) fn parse_json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, Problem> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Request body too large",
                "the request body exceeds the server's limit (max_body_bytes); send fewer or smaller claims",
            )
        } else {
            Problem::bad_request(format!("cannot read the request body: {rejection}"))
        }
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("the Content-Type is {content_type:?}; send the body as application/json"),
        ));
    }
    let value: Value = serde_json::from_slice(&body).map_err(|error| {
        Problem::bad_request(format!(
            "the body is not valid JSON: {error} (line {}, column {})",
            error.line(),
            error.column()
        ))
    })?;
    if !value.is_object() {
        return Err(Problem::invalid(vec![FieldError {
            pointer: String::new(),
            detail: "the body must be a JSON object".into(),
        }]));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let pointer: String = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => Some(format!("/{index}")),
                serde_path_to_error::Segment::Map { key } => {
                    Some(format!("/{}", key.replace('~', "~0").replace('/', "~1")))
                }
                _ => None,
            })
            .collect();
        let message = error.inner().to_string();
        Problem::invalid(vec![FieldError {
            pointer,
            detail: message,
        }])
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().ok().map(str::trim).unwrap_or("");
    let printable = key.bytes().all(|byte| (0x21..=0x7e).contains(&byte));
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LENGTH || !printable {
        return Err(Problem::bad_request(format!(
            "the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, such as a UUID"
        )));
    }
    Ok(Some(key.to_owned()))
}

/// Create a certificate.
#[utoipa::path(
    post,
    path = "/api/v1/certificates",
    tag = "certificates",
    request_body(content = CreateCertificateRequest, content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely: the same key and body return the same certificate")),
    security(("api_key" = [])),
    responses(
        (status = 201, description = "Created, or the same request repeated with its Idempotency-Key", body = CertificateResponse),
        (status = 400, description = "Malformed JSON or header", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The API key may not issue this type", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown type or field, or claims that break the schema", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn create_certificate(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let request: CreateCertificateRequest = parse_json_body(&headers, body)?;
    let new = NewCertificate {
        type_id: request.type_id,
        claims: request.claims,
        holder: request.holder,
        validity_days: request.validity.and_then(|validity| validity.days),
        channels: request.channels,
        offer_tx_code: request.offer.is_some_and(|offer| offer.tx_code),
        pending_approval: request.approval == Some(Approval::Pending),
    };
    let (certificate, replayed) = state
        .service
        .create(&client, new, key.as_deref(), OffsetDateTime::now_utc())
        .await?;
    let body = response(&state, &certificate.record, Some(&certificate));
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) =
        HeaderValue::from_str(&format!("/api/v1/certificates/{}", certificate.record.id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Get one certificate, with its claims while they are retained.
#[utoipa::path(
    get,
    path = "/api/v1/certificates/{id}",
    tag = "certificates",
    params(("id" = String, Path, description = "Certificate id")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = CertificateResponse),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate for this client", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_certificate(
    State(state): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<CertificateResponse>, Problem> {
    let certificate = state.service.get(&client, &id).await?;
    Ok(Json(response(
        &state,
        &certificate.record,
        Some(&certificate),
    )))
}

/// List the client's certificates, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/certificates",
    tag = "certificates",
    params(
        ("type" = Option<String>, Query, description = "Only this certificate type"),
        ("status" = Option<Status>, Query, description = "Only this status"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 500 (default 50)", minimum = 1, maximum = 500),
    ),
    security(("api_key" = [])),
    responses(
        (status = 200, body = CertificateList),
        (status = 400, description = "Invalid query parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn list_certificates(
    State(state): State<AppState>,
    Client(client): Client,
    RawQuery(raw_query): RawQuery,
) -> Result<Json<CertificateList>, Problem> {
    let query = parse_list_query(raw_query.as_deref().unwrap_or(""))?;
    let records = state.service.list(&client, &query).await?;
    let next_cursor = (records.len() == query.limit as usize)
        .then(|| records.last().map(|record| record.id.clone()))
        .flatten();
    let items = records
        .iter()
        .map(|record| response(&state, record, None))
        .collect();
    Ok(Json(CertificateList { items, next_cursor }))
}

fn parse_list_query(raw: &str) -> Result<ListQuery, Problem> {
    let mut query = ListQuery {
        limit: DEFAULT_PAGE_SIZE,
        ..ListQuery::default()
    };
    for (name, value) in url_pairs(raw) {
        match name.as_str() {
            "type" => query.type_id = Some(value),
            "status" => {
                query.status = Some(Status::parse(&value).ok_or_else(|| {
                    Problem::bad_request(format!(
                        "status {value:?} is not valid; use pending, active or revoked"
                    ))
                })?)
            }
            "cursor" => query.after = Some(value),
            "limit" => {
                query.limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_PAGE_SIZE).contains(limit))
                    .ok_or_else(|| {
                        Problem::bad_request(format!(
                            "limit {value:?} is not valid; give 1 to {MAX_PAGE_SIZE}"
                        ))
                    })?
            }
            other => {
                return Err(Problem::bad_request(format!(
                    "unknown query parameter {other:?}; use type, status, cursor or limit"
                )))
            }
        }
    }
    Ok(query)
}

/// Splits an `application/x-www-form-urlencoded` query into decoded pairs.
pub(super) fn url_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut output = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => output.push(b' '),
            b'%' => {
                let escaped = bytes
                    .get(index + 1..index + 3)
                    .filter(|digits| digits.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|digits| std::str::from_utf8(digits).ok())
                    .and_then(|digits| u8::from_str_radix(digits, 16).ok());
                match escaped {
                    Some(byte) => {
                        output.push(byte);
                        index += 2;
                    }
                    None => output.push(b'%'),
                }
            }
            byte => output.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&output).into_owned()
}

/// Revoke a certificate. Revoking a revoked certificate changes nothing and returns it.
#[utoipa::path(
    post,
    path = "/api/v1/certificates/{id}/revoke",
    tag = "certificates",
    params(("id" = String, Path, description = "Certificate id")),
    request_body(content = RevokeRequest, content_type = "application/json"),
    security(("api_key" = [])),
    responses(
        (status = 200, body = CertificateResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate for this client", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not application/json", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid reason", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn revoke_certificate(
    State(state): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CertificateResponse>, Problem> {
    let request: RevokeRequest = parse_json_body(&headers, body)?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_LENGTH {
        return Err(Problem::invalid(vec![FieldError {
            pointer: "/reason".into(),
            detail: format!("give a reason of 1 to {MAX_REASON_LENGTH} characters"),
        }]));
    }
    let record = state
        .service
        .revoke(&client, &id, reason, OffsetDateTime::now_utc())
        .await?;
    Ok(Json(response(&state, &record, None)))
}

/// Approve a pending certificate, so wallets may receive it. Approving an active certificate
/// changes nothing and returns it.
#[utoipa::path(
    post,
    path = "/api/v1/certificates/{id}/approve",
    tag = "certificates",
    params(("id" = String, Path, description = "Certificate id")),
    security(("api_key" = [])),
    responses(
        (status = 200, body = CertificateResponse),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate for this client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The certificate is revoked", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "Internal error", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn approve_certificate(
    State(state): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<CertificateResponse>, Problem> {
    let record = state
        .service
        .approve(&client, &id, OffsetDateTime::now_utc())
        .await?;
    Ok(Json(response(&state, &record, None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("%C3%A5"), "å");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn list_query_rejects_unknown_parameter() {
        assert!(parse_list_query("type=personbevis&limit=10").is_ok());
        assert!(parse_list_query("sort=id").is_err());
        assert!(parse_list_query("limit=0").is_err());
        assert!(parse_list_query("status=lost").is_err());
    }
}
