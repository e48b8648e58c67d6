//! The OpenAPI 3.1 document of the REST API, generated from the handlers and types.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "intyg e-service API", description = "Create, read, list, approve, revoke, suspend and reinstate certificates, and issue their credentials."),
    paths(
        super::api::create_certificate,
        super::api::get_certificate,
        super::api::list_certificates,
        super::api::revoke_certificate,
        super::lifecycle::suspend_certificate,
        super::lifecycle::reinstate_certificate,
        super::lifecycle::issue_credential,
        super::verifier::verify_credential,
        super::api::approve_certificate,
    ),
    components(schemas(
        super::api::CreateCertificateRequest,
        super::api::Validity,
        super::api::OfferOptions,
        super::api::Approval,
        super::api::RevokeRequest,
        super::api::CertificateResponse,
        super::api::CertificateList,
        super::api::Links,
        super::lifecycle::CredentialRequest,
        super::lifecycle::CredentialResponse,
        super::verifier::VerifyRequest,
        super::verifier::VerifyResponse,
        crate::verify::Check,
        super::problem::Problem,
        crate::certificate::FieldError,
        crate::certificate::Holder,
        crate::store::Status,
    )),
    modifiers(&ApiKeySecurity),
    tags(
        (name = "certificates", description = "Certificates of the calling e-service client"),
        (name = "verification", description = "Verification of credentials for verifiers; no API key")
    )
)]
pub struct ApiDocument;

struct ApiKeySecurity;

impl Modify for ApiKeySecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The API key printed by intyg clients add"))
                    .build(),
            ),
        );
    }
}

pub fn routes() -> Router<AppState> {
    let document = ApiDocument::openapi();
    Router::new().route(
        "/api/v1/openapi.json",
        get(move || async move { Json(document.clone()) }),
    )
}
