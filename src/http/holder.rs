//! Holder-facing downloads, authorized by the token in the link the e-service handed out rather
//! than by an API key: the PDF with its signed 2D code, and the Apple Wallet pass.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use time::OffsetDateTime;

use super::problem::Problem;
use super::AppState;
use crate::certificate::{issue_request, CertificateData};
use crate::formats::pkpass::{self, PassState, WebService};
use crate::issuer::{IssueError, PassRequest};
use crate::passes;
use crate::store::{CertificateRecord, Status};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/certificates/{file}", get(download_pdf))
        .route("/passes/{file}", get(download_pass))
}

/// `GET /certificates/{id}.pdf?token=...`: renders the certificate's PDF with a freshly signed 2D
/// code. A revoked certificate, or one whose data was deleted, gets 410 Gone.
async fn download_pdf(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let (record, data) = holder_certificate(&state, &file, ".pdf", query.as_deref()).await?;
    let issuer = std::sync::Arc::clone(&state.service.issuer);
    let id = record.id.clone();
    // Rendering takes milliseconds of CPU, so it runs off the async workers.
    let pdf = render(&id, "PDF", move || {
        issuer.issue_pdf(&issue_request(&record, &data))
    })
    .await?;
    tracing::info!(certificate_id = %id, "PDF downloaded");
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"intyg-{id}.pdf\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        pdf,
    )
        .into_response())
}

/// `GET /passes/{id}.pkpass?token=...`: builds the certificate's Apple Wallet pass with a
/// freshly signed 2D code and the PassKit web service that keeps it up to date.
async fn download_pass(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let (record, data) = holder_certificate(&state, &file, ".pkpass", query.as_deref()).await?;
    let id = record.id.clone();
    let pass = build_pass(&state, record, data).await?;
    tracing::info!(certificate_id = %id, "pass downloaded");
    Ok((
        [
            (header::CONTENT_TYPE, pkpass::CONTENT_TYPE.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"intyg-{id}.pkpass\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        pass,
    )
        .into_response())
}

/// Builds the pass of a stored certificate with its web service and authentication token. A
/// revoked certificate's pass is voided, and a suspended one's shows its status instead of the
/// barcode.
pub(super) async fn build_pass(
    state: &AppState,
    record: CertificateRecord,
    data: CertificateData,
) -> Result<Vec<u8>, Problem> {
    let token = passes::authentication_token(&state.service.data_keys, &record.id);
    let issuer = std::sync::Arc::clone(&state.service.issuer);
    let web_service_url = format!("{}/passkit", issuer.issuer_id);
    let id = record.id.clone();
    render(&id, "pass", move || {
        let request = PassRequest {
            web_service: Some(WebService {
                url: &web_service_url,
                authentication_token: &token,
            }),
            state: match record.status {
                Status::Active => PassState::Valid,
                // A pending certificate is not valid yet, so its pass shows no 2D code either.
                Status::Suspended | Status::Pending => PassState::Suspended,
                Status::Revoked => PassState::Revoked,
            },
        };
        issuer.issue_pass(&issue_request(&record, &data), &request)
    })
    .await
}

/// Opens the certificate named by `file` (its id and `suffix`) with the download token in the
/// query. A revoked or suspended certificate, or one whose data was deleted, gets 410 Gone.
async fn holder_certificate(
    state: &AppState,
    file: &str,
    suffix: &str,
    query: Option<&str>,
) -> Result<(CertificateRecord, CertificateData), Problem> {
    let Some(id) = file.strip_suffix(suffix) else {
        return Err(Problem::not_found());
    };
    let token = super::api::url_pairs(query.unwrap_or(""))
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
    match certificate.record.status {
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
        Status::Pending => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "pending-approval",
                "Certificate awaiting approval",
                "a case officer has not approved this certificate yet; try again after approval",
            ))
        }
    }
    let Some(data) = certificate.data else {
        return Err(gone_data_deleted());
    };
    Ok((certificate.record, data))
}

/// Returns the problem for a certificate whose personal data was deleted at the end of its
/// retention.
pub(super) fn gone_data_deleted() -> Problem {
    Problem::new(
        StatusCode::GONE,
        "data-deleted",
        "Certificate data deleted",
        "the retention period of this certificate has ended and its data was deleted",
    )
}

/// Runs `build`, which signs and renders for milliseconds, off the async workers.
async fn render(
    certificate_id: &str,
    what: &'static str,
    build: impl FnOnce() -> Result<Vec<u8>, IssueError> + Send + 'static,
) -> Result<Vec<u8>, Problem> {
    match tokio::task::spawn_blocking(build).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            tracing::error!(certificate_id = %certificate_id, what, %error, "rendering failed");
            Err(Problem::internal())
        }
        Err(error) => {
            tracing::error!(certificate_id = %certificate_id, what, %error, "the rendering task failed");
            Err(Problem::internal())
        }
    }
}
