//! The PassKit web service under a pass's `webServiceURL` (`{public_url}/passkit`): devices
//! register for updates, ask which passes changed, download the latest pass and send their logs.
//! Requests about one pass carry `Authorization: ApplePass <authenticationToken>`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use super::problem::Problem;
use super::AppState;
use crate::formats::pkpass;
use crate::passes;
use crate::store::{CertificateRecord, PassRegistration};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/passkit/v1/devices/{device}/registrations/{pass_type}/{serial}",
            post(register).delete(unregister),
        )
        .route(
            "/passkit/v1/devices/{device}/registrations/{pass_type}",
            get(updated_serials),
        )
        .route("/passkit/v1/passes/{pass_type}/{serial}", get(latest_pass))
        .route("/passkit/v1/log", post(log))
}

/// The maximum length of a device library identifier or push token. Apple's are 32 and 64 hex
/// characters.
const MAX_IDENTIFIER_LENGTH: usize = 256;

/// Registration body: the device's token for the push service.
#[derive(Debug, Deserialize)]
struct RegistrationBody {
    #[serde(rename = "pushToken")]
    push_token: String,
}

/// `POST .../devices/{device}/registrations/{pass_type}/{serial}`: 201 for a new registration,
/// 200 when the device was registered already.
async fn register(
    State(state): State<AppState>,
    Path((device, pass_type, serial)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(status) = authorize(&state, &pass_type, &serial, &headers) {
        return status.into_response();
    }
    if !is_identifier(&device) {
        return bad_request(
            "the device library identifier must be 1 to 256 letters, digits, '-', '_' or '.'",
        );
    }
    let push_token = match serde_json::from_slice::<RegistrationBody>(&body) {
        Ok(body) if is_push_token(&body.push_token) => body.push_token,
        Ok(_) => return bad_request("pushToken must be 1 to 256 hexadecimal characters"),
        Err(_) => return bad_request("the body must be JSON with a string member pushToken"),
    };
    match state.service.store.certificate_by_id(&serial).await {
        Ok(Some(_)) => {}
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => return storage_failed(&error),
    }
    let registration = PassRegistration {
        device_library_id: device,
        pass_type_id: pass_type,
        serial_number: serial,
        push_token,
        created_at: OffsetDateTime::now_utc().unix_timestamp(),
    };
    match state.service.store.register_pass(&registration).await {
        Ok(true) => {
            tracing::info!(certificate_id = %registration.serial_number, "device registered for pass updates");
            StatusCode::CREATED.into_response()
        }
        Ok(false) => StatusCode::OK.into_response(),
        Err(error) => storage_failed(&error),
    }
}

/// `DELETE .../devices/{device}/registrations/{pass_type}/{serial}`: the device no longer wants
/// updates of the pass.
async fn unregister(
    State(state): State<AppState>,
    Path((device, pass_type, serial)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(status) = authorize(&state, &pass_type, &serial, &headers) {
        return status.into_response();
    }
    match state
        .service
        .store
        .unregister_pass(&device, &pass_type, &serial)
        .await
    {
        Ok(_) => {
            tracing::info!(certificate_id = %serial, "device unregistered from pass updates");
            StatusCode::OK.into_response()
        }
        Err(error) => storage_failed(&error),
    }
}

/// `GET .../devices/{device}/registrations/{pass_type}?passesUpdatedSince=TAG`: the serial
/// numbers of the device's passes that changed since the tag of the previous response, or 204.
///
/// The tag is the Unix second of the response. A pass that changed in that same second is listed
/// again next time, because a change later in the second must not be missed.
async fn updated_serials(
    State(state): State<AppState>,
    Path((device, pass_type)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    if pass_type != state_pass_type(&state) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let since = super::api::url_pairs(query.as_deref().unwrap_or(""))
        .into_iter()
        .find_map(|(name, value)| (name == "passesUpdatedSince").then_some(value));
    let since = match since.as_deref() {
        None | Some("") => 0,
        Some(tag) => match tag.parse::<i64>() {
            Ok(seconds) => seconds,
            Err(_) => {
                return bad_request(
                    "passesUpdatedSince must be the lastUpdated value of an earlier answer",
                )
            }
        },
    };
    let now = OffsetDateTime::now_utc().unix_timestamp();
    match state
        .service
        .store
        .updated_passes(&device, &pass_type, since)
        .await
    {
        Ok(serials) if serials.is_empty() => StatusCode::NO_CONTENT.into_response(),
        Ok(serials) => Json(json!({
            "serialNumbers": serials,
            "lastUpdated": now.to_string(),
        }))
        .into_response(),
        Err(error) => storage_failed(&error),
    }
}

/// `GET .../passes/{pass_type}/{serial}`: the latest pass, or 304 when it has not changed since
/// `If-Modified-Since`. A revoked certificate's pass comes back voided.
async fn latest_pass(
    State(state): State<AppState>,
    Path((pass_type, serial)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(status) = authorize(&state, &pass_type, &serial, &headers) {
        return status.into_response();
    }
    let certificate = match state.service.store.certificate_by_id(&serial).await {
        Ok(Some(record)) => record,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => return storage_failed(&error),
    };
    let last_modified = certificate.updated_at;
    let unchanged = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_http_date)
        .is_some_and(|since| last_modified <= since);
    if unchanged {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let pass = match open_and_build(&state, certificate).await {
        Ok(pass) => pass,
        Err(response) => return response,
    };
    tracing::info!(certificate_id = %serial, "pass updated on a device");
    let mut response = (
        [
            (header::CONTENT_TYPE, pkpass::CONTENT_TYPE),
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        pass,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&http_date(last_modified)) {
        response.headers_mut().insert(header::LAST_MODIFIED, value);
    }
    response
}

async fn open_and_build(state: &AppState, record: CertificateRecord) -> Result<Vec<u8>, Response> {
    let certificate = state
        .service
        .open(record)
        .map_err(|error| Problem::from(error).into_response())?;
    let Some(data) = certificate.data else {
        return Err(super::holder::gone_data_deleted().into_response());
    };
    super::holder::build_pass(state, certificate.record, data)
        .await
        .map_err(IntoResponse::into_response)
}

/// Log body: messages the device reports about the web service.
#[derive(Debug, Deserialize)]
struct LogBody {
    logs: Vec<String>,
}

/// The maximum length of a device log message in the server log.
const MAX_LOG_MESSAGE: usize = 500;

/// `POST .../log`: devices report problems with the web service here; each message goes to the
/// server log, shortened.
async fn log(body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<LogBody>(&body) else {
        return bad_request("the body must be JSON with an array of strings named logs");
    };
    for message in body.logs.iter().take(50) {
        let end = message
            .char_indices()
            .nth(MAX_LOG_MESSAGE)
            .map_or(message.len(), |(index, _)| index);
        tracing::warn!(target: "passkit", message = %&message[..end], "device log");
    }
    StatusCode::OK.into_response()
}

/// Checks the pass type and the `ApplePass` token of `serial`. The error is the status to
/// respond with.
fn authorize(
    state: &AppState,
    pass_type: &str,
    serial: &str,
    headers: &HeaderMap,
) -> Result<(), StatusCode> {
    if pass_type != state_pass_type(state) {
        return Err(StatusCode::NOT_FOUND);
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("ApplePass "))
        .map(str::trim);
    match token {
        Some(token) if passes::token_is_valid(&state.service.data_keys, serial, token) => Ok(()),
        _ => Err(StatusCode::UNAUTHORIZED),
    }
}

fn state_pass_type(state: &AppState) -> &str {
    state
        .service
        .issuer
        .wallets
        .as_ref()
        .map_or("", |wallets| wallets.pass_key.pass_type_id())
}

fn is_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_IDENTIFIER_LENGTH
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}

fn is_push_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_IDENTIFIER_LENGTH
        && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

fn bad_request(detail: &'static str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": detail }))).into_response()
}

fn storage_failed(error: &crate::store::StoreError) -> Response {
    tracing::error!(%error, "storage failed in the PassKit web service");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

const HTTP_DATE: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Formats Unix `seconds` as an HTTP date (IMF-fixdate), such as `Fri, 04 Dec 2026 10:00:00 GMT`.
fn http_date(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|time| time.format(HTTP_DATE).ok())
        .unwrap_or_default()
}

/// Parses an HTTP date (IMF-fixdate) into Unix seconds.
fn parse_http_date(text: &str) -> Option<i64> {
    time::PrimitiveDateTime::parse(text.trim(), HTTP_DATE)
        .ok()
        .map(|time| time.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates_round_trip() {
        assert_eq!(http_date(1_796_428_800), "Sat, 05 Dec 2026 00:00:00 GMT");
        assert_eq!(
            parse_http_date("Sat, 05 Dec 2026 00:00:00 GMT"),
            Some(1_796_428_800)
        );
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn identifiers_checked() {
        assert!(is_identifier("6b2f0a9c1e"));
        assert!(!is_identifier("a/b"));
        assert!(!is_identifier(""));
        assert!(is_push_token("ab12CD"));
        assert!(!is_push_token("ab12/../x"));
    }
}
