//! Holder-facing downloads, authorized by the token in the link the e-service handed out rather
//! than by an API key: the PDF with its signed 2D code.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use time::OffsetDateTime;

use super::problem::Problem;
use super::AppState;
use crate::formats::Format;
use crate::issuer::IssueRequest;
use crate::store::Status;

pub fn routes() -> Router<AppState> {
    Router::new().route("/certificates/{file}", get(download_pdf))
}

/// `GET /certificates/{id}.pdf?token=...`: renders the certificate's PDF with a freshly signed 2D
/// code. A revoked or suspended certificate, or one whose data was deleted, gets 410 Gone.
async fn download_pdf(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let Some(id) = file.strip_suffix(".pdf") else {
        return Err(Problem::not_found());
    };
    let token = super::api::url_pairs(query.as_deref().unwrap_or(""))
        .into_iter()
        .find_map(|(name, value)| (name == "token").then_some(value))
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            Problem::unauthorized(
                "the download link has no token; use the whole link the e-service gave",
            )
        })?;
    let now = OffsetDateTime::now_utc();
    let certificate = state
        .service
        .get_with_download_token(id, &token, now.unix_timestamp())
        .await?;
    let record = &certificate.record;
    match record.status {
        Status::Active => {}
        Status::Revoked => {
            return Err(Problem::new(
                StatusCode::GONE,
                "revoked",
                "Certificate revoked",
                "this certificate has been revoked and can no longer be downloaded",
            ))
        }
        Status::Suspended => return Err(Problem::new(
            StatusCode::GONE,
            "suspended",
            "Certificate suspended",
            "this certificate is suspended and cannot be downloaded until the issuer reinstates it",
        )),
    }
    let Some(data) = certificate.data else {
        return Err(Problem::new(
            StatusCode::GONE,
            "data-deleted",
            "Certificate data deleted",
            "the retention period of this certificate has ended and its data was deleted",
        ));
    };

    let issuer = std::sync::Arc::clone(&state.service.issuer);
    let (type_id, certificate_id) = (record.type_id.clone(), record.id.clone());
    let issued_at = OffsetDateTime::from_unix_timestamp(record.created_at).unwrap_or(now);
    let validity_days = u32::try_from((record.valid_until - record.valid_from) / 86_400).ok();
    // Rendering takes milliseconds of CPU, so it runs off the async workers.
    let rendered = tokio::task::spawn_blocking(move || {
        issuer.issue_pdf(&IssueRequest {
            type_id: &type_id,
            format: Format::SdJwtVc,
            claims: &data.claims,
            holder_jwk: None,
            certificate_id: &certificate_id,
            issued_at,
            validity_days,
            status: None,
        })
    })
    .await;
    let pdf = match rendered {
        Ok(Ok(pdf)) => pdf,
        Ok(Err(error)) => {
            tracing::error!(certificate_id = %record.id, %error, "rendering the PDF failed");
            return Err(Problem::internal());
        }
        Err(error) => {
            tracing::error!(certificate_id = %record.id, %error, "the PDF rendering task failed");
            return Err(Problem::internal());
        }
    };
    tracing::info!(certificate_id = %record.id, "PDF downloaded");
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"intyg-{}.pdf\"", record.id),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        pdf,
    )
        .into_response())
}
