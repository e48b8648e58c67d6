//! The published status lists: `GET /status/{list}` is the Token Status List
//! (`application/statuslist+jwt`), and `GET /status/{list}/revocation` and
//! `/status/{list}/suspension` are the Bitstring Status List credentials (`application/vc+jwt`).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use time::OffsetDateTime;

use super::problem::Problem;
use super::AppState;
use crate::certificate::ServiceError;
use crate::status::{bitstring, token, Purpose, LIST_TTL_SECONDS};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/status/{list}", get(token_status_list))
        .route("/status/{list}/{purpose}", get(bitstring_status_list))
}

fn parse_list(text: &str) -> Result<u32, Problem> {
    text.parse()
        .map_err(|_| Problem::not_found_detail("no status list has this number"))
}

async fn token_status_list(
    State(state): State<AppState>,
    Path(list): Path<String>,
) -> Result<Response, Problem> {
    let list = parse_list(&list)?;
    let issuer = &state.service.issuer;
    let token = state
        .service
        .status_lists
        .token_list(
            list,
            &issuer.issuer_id,
            &issuer.key,
            OffsetDateTime::now_utc(),
        )
        .await
        .map_err(ServiceError::from)?;
    Ok(list_response(token::MEDIA_TYPE, token))
}

async fn bitstring_status_list(
    State(state): State<AppState>,
    Path((list, purpose)): Path<(String, String)>,
) -> Result<Response, Problem> {
    let list = parse_list(&list)?;
    let purpose = Purpose::parse(&purpose).ok_or_else(|| {
        Problem::not_found_detail("a status list has the purposes revocation and suspension")
    })?;
    let issuer = &state.service.issuer;
    let credential = state
        .service
        .status_lists
        .bitstring_list(
            list,
            purpose,
            &issuer.issuer_id,
            &issuer.key,
            OffsetDateTime::now_utc(),
        )
        .await
        .map_err(ServiceError::from)?;
    Ok(list_response(bitstring::MEDIA_TYPE, credential))
}

/// Returns a list with its media type. A list is public and the same for every verifier, so
/// shared caches may keep it for its `ttl`.
fn list_response(media_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, media_type.to_owned()),
            (
                header::CACHE_CONTROL,
                format!("public, max-age={LIST_TTL_SECONDS}"),
            ),
        ],
        body,
    )
        .into_response()
}
