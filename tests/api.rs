//! The e-service REST API of a real `intyg serve` on 127.0.0.1 with SQLite.

mod common;

use common::*;
use reqwest::{Client as HttpClient, StatusCode};
use serde_json::{json, Value};

struct Api {
    server: Server,
    http: HttpClient,
    key: String,
}

fn add_client(server: &Server, name: &str, types: &str) -> String {
    server.add_client(name, types, &[])
}

impl Api {
    fn start() -> Api {
        let server = Server::start(&[]);
        let key = add_client(&server, "e-service", "covid-certificate,personbevis");
        Api {
            server,
            http: HttpClient::new(),
            key,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url)
    }

    async fn create(&self, body: &Value, idempotency_key: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(self.url("/api/v1/certificates"))
            .bearer_auth(&self.key)
            .json(body);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn get(&self, path: &str, key: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        (
            response.status(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn count(&self) -> usize {
        let (_, list) = self.get("/api/v1/certificates?limit=500", &self.key).await;
        list["items"].as_array().unwrap().len()
    }
}

fn personbevis() -> Value {
    json!({
        "type": "personbevis",
        "claims": {
            "given_name": "Åsa", "family_name": "Öberg", "personal_identity_number": "196408233234",
            "birthdate": "1964-08-23",
            "address": { "street_address": "Storgatan 1", "postal_code": "111 22", "locality": "Stockholm" },
            "county": { "code": "01", "name": "Stockholms län" },
            "municipality": { "code": "0180", "name": "Stockholm" },
            "extract_date": "2026-12-01"
        },
        "holder": { "personal_identity_number": "196408233234" },
        "channels": ["wallet", "pdf"]
    })
}

fn assert_problem(body: &Value, status: u16, pointer: Option<&str>) {
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .starts_with("urn:intyg:problem:"),
        "{body}"
    );
    assert!(!body["detail"].as_str().unwrap().is_empty(), "{body}");
    if let Some(pointer) = pointer {
        let pointers: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap())
            .collect();
        assert!(pointers.contains(&pointer), "{pointer} not in {pointers:?}");
    }
}

#[tokio::test]
async fn create_get_and_revoke() {
    let api = Api::start();
    let (status, created) = api.create(&personbevis(), None).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "active");
    assert_eq!(created["type"], "personbevis");
    assert_eq!(
        created["links"]["self"],
        api.url(&format!("/api/v1/certificates/{id}"))
    );

    let (status, fetched) = api
        .get(&format!("/api/v1/certificates/{id}"), &api.key)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["claims"], personbevis()["claims"]);
    assert_eq!(
        fetched["holder"]["personal_identity_number"],
        "196408233234"
    );
    assert_eq!(fetched["channels"], json!(["wallet", "pdf"]));

    let revoked = api
        .http
        .post(api.url(&format!("/api/v1/certificates/{id}/revoke")))
        .bearer_auth(&api.key)
        .json(&json!({ "reason": "issued in error" }))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let revoked: Value = revoked.json().await.unwrap();
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revocation_reason"], "issued in error");
    assert!(revoked["revoked_at"].is_string());

    let (_, filtered) = api
        .get("/api/v1/certificates?status=revoked", &api.key)
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let (_, filtered) = api
        .get("/api/v1/certificates?status=active", &api.key)
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn claims_encrypted_at_rest() {
    let api = Api::start();
    let (status, _) = api.create(&personbevis(), None).await;
    assert_eq!(status, StatusCode::CREATED);
    // The database files must not contain the claims in clear text.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(api.server.data_dir.path()).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(
        !stored.contains("196408233234"),
        "the personal identity number is stored in clear text"
    );
    assert!(
        !stored.contains("Storgatan"),
        "the address is stored in clear text"
    );
}

#[tokio::test]
async fn idempotency_key_replays_and_conflicts() {
    let api = Api::start();
    let (first_status, first) = api.create(&personbevis(), Some("order-4711")).await;
    assert_eq!(first_status, StatusCode::CREATED);
    let (again_status, again) = api.create(&personbevis(), Some("order-4711")).await;
    assert_eq!(again_status, StatusCode::CREATED);
    assert_eq!(again["id"], first["id"]);

    let mut other = personbevis();
    other["claims"]["given_name"] = json!("Britt");
    let (status, problem) = api.create(&other, Some("order-4711")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_problem(&problem, 409, None);
    assert_eq!(api.count().await, 1);
}

#[tokio::test]
async fn bad_input_gets_problem_documents() {
    let api = Api::start();
    let url = api.url("/api/v1/certificates");

    let malformed = api
        .http
        .post(&url)
        .bearer_auth(&api.key)
        .header("Content-Type", "application/json")
        .body("{\"type\":")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        malformed.headers()["content-type"],
        "application/problem+json"
    );
    assert_problem(&malformed.json().await.unwrap(), 400, None);

    let text = api
        .http
        .post(&url)
        .bearer_auth(&api.key)
        .header("Content-Type", "text/plain")
        .body(personbevis().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = json!({ "type": "personbevis", "claims": { "given_name": "x".repeat(300 * 1024) } });
    let oversized = api
        .http
        .post(&url)
        .bearer_auth(&api.key)
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_problem(&oversized.json().await.unwrap(), 413, None);

    let mut unknown_type = personbevis();
    unknown_type["type"] = json!("passport");
    let (status, problem) = api.create(&unknown_type, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem(&problem, 422, Some("/type"));

    let mut unknown_field = personbevis();
    unknown_field["priority"] = json!("high");
    let (status, problem) = api.create(&unknown_field, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem(&problem, 422, Some("/priority"));

    let mut bad_claim = personbevis();
    bad_claim["claims"]["address"]["postal_code"] = json!("ABC");
    let (status, problem) = api.create(&bad_claim, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem(&problem, 422, Some("/claims/address/postal_code"));

    let mut bad_channel = personbevis();
    bad_channel["channels"] = json!(["wallet", "fax"]);
    let (status, problem) = api.create(&bad_channel, None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_problem(&problem, 422, Some("/channels/1"));

    let bad_key = api
        .http
        .post(&url)
        .bearer_auth(&api.key)
        .header("Idempotency-Key", "")
        .json(&personbevis())
        .send()
        .await
        .unwrap();
    assert_eq!(bad_key.status(), StatusCode::BAD_REQUEST);

    assert_eq!(
        api.count().await,
        0,
        "a rejected request stored a certificate"
    );
}

#[tokio::test]
async fn authentication_and_scope_enforced() {
    let api = Api::start();
    let url = api.url("/api/v1/certificates");

    let missing = api
        .http
        .post(&url)
        .json(&personbevis())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(missing.headers().contains_key("www-authenticate"));
    assert_problem(&missing.json().await.unwrap(), 401, None);

    let wrong = api
        .http
        .post(&url)
        .bearer_auth("intyg_not-a-key")
        .json(&personbevis())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let covid_only = add_client(&api.server, "covid e-service", "covid-certificate");
    let forbidden = api
        .http
        .post(&url)
        .bearer_auth(&covid_only)
        .json(&personbevis())
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    assert_problem(&forbidden.json().await.unwrap(), 403, None);

    let (_, created) = api.create(&personbevis(), None).await;
    let path = format!("/api/v1/certificates/{}", created["id"].as_str().unwrap());
    let (status, problem) = api.get(&path, &covid_only).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another client's certificate is visible"
    );
    assert_problem(&problem, 404, None);
    let (_, list) = api.get("/api/v1/certificates", &covid_only).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn listing_pages_with_cursor() {
    let api = Api::start();
    let mut ids = Vec::new();
    for _ in 0..5 {
        let (_, created) = api.create(&personbevis(), None).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/certificates?type=personbevis&limit=2".to_owned();
    loop {
        let (status, page) = api.get(&path, &api.key).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| item["id"].as_str().unwrap().to_owned()),
        );
        assert!(
            page["items"][0].get("claims").is_none(),
            "listings must not carry claims"
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/api/v1/certificates?type=personbevis&limit=2&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let (status, problem) = api.get("/api/v1/certificates?limit=9999", &api.key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_problem(&problem, 400, None);
}

#[tokio::test]
async fn operations_endpoints() {
    let api = Api::start();
    api.create(&personbevis(), None).await;

    let (status, ready) = api.get("/ready", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ready["status"], "ready");

    let response = api.http.get(api.url("/health")).send().await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));

    let metrics = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("intyg_http_requests_total{route=\"/api/v1/certificates\",method=\"POST\",status=\"201\"} 1"), "{metrics}");
    assert!(
        metrics.contains("intyg_certificates_created_total{type=\"personbevis\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("intyg_http_request_duration_seconds_bucket"),
        "{metrics}"
    );

    let (status, document) = api.get("/api/v1/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/api/v1/certificates/{id}/revoke"]["post"].is_object());

    let (_, log) = api.server.terminate();
    assert!(log.contains("certificate created"), "no audit line: {log}");
    assert!(!log.contains("196408233234"), "personal data in the log");
    assert!(!log.contains("Öberg"), "personal data in the log");
    assert!(!log.contains(&api.key), "API key in the log");
}

#[tokio::test]
async fn pdf_link_downloads_until_revoked() {
    let api = Api::start();
    let (status, created) = api.create(&personbevis(), None).await;
    assert_eq!(status, StatusCode::CREATED);
    let link = created["links"]["pdf"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&api.url("/certificates/")), "{link}");

    let (status, fetched) = api
        .get(
            &format!("/api/v1/certificates/{}", created["id"].as_str().unwrap()),
            &api.key,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        fetched["links"].get("pdf").is_none(),
        "a later read must not reveal the token"
    );

    let response = api.http.get(&link).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = response.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    // The token may be used again.
    assert_eq!(
        api.http.get(&link).send().await.unwrap().status(),
        StatusCode::OK
    );

    let (base, _) = link.split_once("?token=").unwrap();
    let wrong = api
        .http
        .get(format!("{base}?token=not-the-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    let missing = api.http.get(base).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);

    let id = created["id"].as_str().unwrap();
    let revoked = api
        .http
        .post(api.url(&format!("/api/v1/certificates/{id}/revoke")))
        .bearer_auth(&api.key)
        .json(&json!({ "reason": "replaced" }))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let gone = api.http.get(&link).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::GONE);
    assert_problem(&gone.json().await.unwrap(), 410, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_requests() {
    let api = Api::start();
    let (_, created) = api.create(&personbevis(), None).await;
    let link = created["links"]["pdf"].as_str().unwrap().to_owned();

    // One download alone shows how long a PDF takes on this machine. Twenty at once take about
    // ten times as long on two cores, so a SIGTERM after half of one download's time finds
    // them in flight however fast or loaded the machine is.
    let started = std::time::Instant::now();
    let warm_up = api.http.get(&link).send().await.unwrap();
    assert_eq!(warm_up.status(), StatusCode::OK);
    warm_up.bytes().await.unwrap();
    let delay = (started.elapsed() / 2).max(std::time::Duration::from_millis(10));

    let downloads: Vec<_> = (0..20)
        .map(|_| {
            let (http, link) = (HttpClient::new(), link.clone());
            tokio::spawn(async move {
                let response = http.get(&link).send().await.unwrap();
                (response.status(), response.bytes().await.unwrap())
            })
        })
        .collect();
    tokio::time::sleep(delay).await;
    let (status, log) = api.server.terminate();

    for download in downloads {
        let (status, body) = download.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert!(body.starts_with(b"%PDF-"), "a download was cut off");
    }
    assert!(status.success(), "{log}");
    // At least one download must have finished after the signal, or nothing was in flight.
    let (_, after_signal) = log
        .split_once("finishing in-flight requests")
        .expect("no shutdown line");
    assert!(
        after_signal.contains("PDF downloaded"),
        "no request was in flight at the SIGTERM: {log}"
    );
}
