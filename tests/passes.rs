//! Apple Wallet passes and Google Wallet save links.
//!
//! Every pass gets the checks whose failure makes iOS reject a pass. They are `openssl cms -verify`
//! on the signature with the development root, a signingTime attribute, every manifest hash and
//! nothing else in the zip. Then come the required `pass.json` keys, the date format, and both
//! `pass.strings` files parsed back. The
//! PassKit web service runs in a real `intyg serve`, pushing over HTTP/2 to a stand-in for the
//! Apple Push Notification service on 127.0.0.1 that checks each request.

mod common;
mod pdf_channel;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus, Version};
use base64::Engine;
use common::{temp_dir, Server};
use pdf_channel::{crate_root, intyg, personbevis_claims, vectors, verify_json};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASS_TYPE_ID: &str = "pass.se.intyg.development";

/// The contents of a checked pass.
struct CheckedPass {
    pass: Value,
    swedish: BTreeMap<String, String>,
    english: BTreeMap<String, String>,
}

impl CheckedPass {
    fn barcode(&self) -> &str {
        self.pass["barcodes"][0]["message"].as_str().unwrap()
    }
}

/// Runs every check a pass must pass and returns its contents.
fn check_pass(bytes: &[u8]) -> CheckedPass {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut files = BTreeMap::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let name = entry.name().to_owned();
        assert!(!entry.is_dir(), "directory entry {name}");
        assert!(
            !name.split('/').any(|part| part.starts_with('.')),
            "hidden file {name}"
        );
        let depth = name.matches('/').count();
        assert!(
            depth == 0 || (depth == 1 && name.split('/').next().unwrap().ends_with(".lproj")),
            "{name} is in a folder other than a .lproj folder"
        );
        let mut contents = Vec::new();
        entry.read_to_end(&mut contents).unwrap();
        files.insert(name, contents);
    }

    // The manifest lists every file but itself and the signature, with its SHA-1.
    let manifest: BTreeMap<String, String> =
        serde_json::from_slice(&files["manifest.json"]).unwrap();
    let mut listed: Vec<&String> = manifest.keys().collect();
    listed.extend(
        ["manifest.json", "signature"]
            .iter()
            .map(|name| files.get_key_value(*name).unwrap().0),
    );
    listed.sort();
    assert_eq!(
        listed,
        files.keys().collect::<Vec<_>>(),
        "zip entries differ from the manifest"
    );
    for (name, hash) in &manifest {
        let actual: String = openssl::sha::sha1(&files[name])
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(&actual, hash, "manifest hash of {name}");
    }
    for required in [
        "pass.json",
        "icon.png",
        "icon@2x.png",
        "icon@3x.png",
        "logo.png",
        "sv.lproj/pass.strings",
        "en.lproj/pass.strings",
    ] {
        assert!(files.contains_key(required), "{required} missing");
    }

    // The signature verifies against the development root with OpenSSL's command line.
    let dir = temp_dir();
    std::fs::write(dir.path().join("manifest.json"), &files["manifest.json"]).unwrap();
    std::fs::write(dir.path().join("signature"), &files["signature"]).unwrap();
    let root = crate_root().join("keys-example/apple-root.crt.pem");
    let verified = Command::new("openssl")
        .args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "signature",
            "-content",
            "manifest.json",
            "-CAfile",
        ])
        .arg(&root)
        .args(["-purpose", "any", "-out", "/dev/null"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "openssl cms -verify: {}",
        String::from_utf8_lossy(&verified.stderr)
    );
    let printed = Command::new("openssl")
        .args([
            "cms",
            "-cmsout",
            "-print",
            "-inform",
            "DER",
            "-in",
            "signature",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&printed.stdout);
    assert!(printed.contains("signingTime"), "no signingTime attribute");
    assert!(
        printed.contains("Stand-in Worldwide Developer Relations"),
        "the WWDR certificate is not in the signature"
    );

    // pass.json: UTF-8 without a byte order mark, every required key, W3C dates.
    let pass_bytes = &files["pass.json"];
    assert!(
        !pass_bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "pass.json starts with a byte order mark"
    );
    let pass: Value = serde_json::from_slice(pass_bytes).unwrap();
    for key in [
        "formatVersion",
        "passTypeIdentifier",
        "teamIdentifier",
        "serialNumber",
        "organizationName",
        "description",
    ] {
        assert!(pass.get(key).is_some(), "pass.json has no {key}");
    }
    assert_eq!(pass["formatVersion"], 1);
    assert_eq!(pass["passTypeIdentifier"], PASS_TYPE_ID);
    assert_eq!(pass["teamIdentifier"], "INTYGDEV01");
    assert_eq!(pass["sharingProhibited"], true);
    assert!(
        pass["generic"].is_object(),
        "the pass is not of the generic style"
    );
    assert!(
        is_w3c_date_time(pass["expirationDate"].as_str().unwrap()),
        "{}",
        pass["expirationDate"]
    );
    for colour in ["backgroundColor", "foregroundColor", "labelColor"] {
        let text = pass[colour].as_str().unwrap();
        assert!(
            text.starts_with("rgb(") && text.ends_with(')') && text.matches(", ").count() == 2,
            "{colour} {text}"
        );
    }
    if let Some(url) = pass.get("webServiceURL") {
        assert!(url.as_str().unwrap().ends_with("/passkit"));
        assert!(pass["authenticationToken"].as_str().unwrap().len() >= 16);
    }
    let swedish = parse_strings(&files["sv.lproj/pass.strings"]);
    let english = parse_strings(&files["en.lproj/pass.strings"]);
    assert_eq!(
        swedish.keys().collect::<Vec<_>>(),
        english.keys().collect::<Vec<_>>()
    );
    // Every label in pass.json is translated in both languages.
    for group in [
        "headerFields",
        "primaryFields",
        "secondaryFields",
        "auxiliaryFields",
        "backFields",
    ] {
        for field in pass["generic"][group].as_array().into_iter().flatten() {
            let label = field["label"].as_str().unwrap();
            assert!(
                swedish.contains_key(label),
                "{label} is not in sv.lproj/pass.strings"
            );
        }
    }
    CheckedPass {
        pass,
        swedish,
        english,
    }
}

/// Returns whether `text` is a W3C date-time with seconds and a `Z` or `+hh:mm` offset.
fn is_w3c_date_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
    };
    let date_time = bytes.len() >= 20
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19);
    let offset = &text[19.min(text.len())..];
    date_time
        && (offset == "Z"
            || (offset.len() == 6
                && (offset.starts_with('+') || offset.starts_with('-'))
                && offset.as_bytes()[3] == b':'))
}

/// Parses an Apple `.strings` file: `"key" = "value";` entries with `\"`, `\\`, `\n`, `\r` and
/// `\t` escapes, comments and white space between them.
fn parse_strings(bytes: &[u8]) -> BTreeMap<String, String> {
    assert!(
        !bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "a strings file starts with a byte order mark"
    );
    let text = std::str::from_utf8(bytes).expect("a strings file is UTF-8");
    let mut chars = text.chars().peekable();
    let mut entries = BTreeMap::new();
    let quoted = |chars: &mut std::iter::Peekable<std::str::Chars>| -> String {
        assert_eq!(chars.next(), Some('"'), "expected a quoted string");
        let mut value = String::new();
        loop {
            match chars.next().expect("unterminated string") {
                '"' => return value,
                '\\' => value.push(match chars.next().expect("dangling backslash") {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    other @ ('"' | '\\') => other,
                    other => panic!("unknown escape \\{other}"),
                }),
                '\n' => panic!("raw line break inside a string"),
                other => value.push(other),
            }
        }
    };
    let skip_space = |chars: &mut std::iter::Peekable<std::str::Chars>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    };
    loop {
        skip_space(&mut chars);
        if chars.peek().is_none() {
            return entries;
        }
        let key = quoted(&mut chars);
        skip_space(&mut chars);
        assert_eq!(chars.next(), Some('='));
        skip_space(&mut chars);
        let value = quoted(&mut chars);
        skip_space(&mut chars);
        assert_eq!(chars.next(), Some(';'));
        assert!(entries.insert(key.clone(), value).is_none(), "{key} twice");
    }
}

/// Issues passes with `intyg issue --format pkpass` and returns their bytes in input order.
fn issue_passes(type_id: &str, claims: &[Value], env: &[(&str, &Path)]) -> Vec<Vec<u8>> {
    let out = temp_dir();
    let input: String = claims.iter().map(|claims| format!("{claims}\n")).collect();
    let out_path = out.path().to_str().unwrap().to_owned();
    let output = intyg(
        &[
            "issue", "--type", type_id, "--format", "pkpass", "--out", &out_path,
        ],
        &input,
        env,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|path| std::fs::read(path).unwrap())
        .collect()
}

#[test]
fn passes_of_test_vectors_and_personbevis_verify() {
    let trust = crate_root().join("keys-example/issuer-signing.chain.pem");
    let vectors = vectors();
    let claims: Vec<Value> = vectors
        .iter()
        .map(|vector| vector.claims().clone())
        .collect();
    let passes = issue_passes("covid-certificate", &claims, &[]);
    assert_eq!(passes.len(), vectors.len());
    for (vector, bytes) in vectors.iter().zip(&passes) {
        let checked = check_pass(bytes);
        assert!(checked.barcode().starts_with("HC1:"), "{}", vector.name);
        assert_eq!(checked.pass["barcodes"][0]["format"], "PKBarcodeFormatQR");
        let (report, exit) = verify_json(checked.barcode(), &trust, None);
        assert_eq!(exit, 0, "{}: {report}", vector.name);
        assert_eq!(&report["claims"], vector.claims(), "{}", vector.name);
        assert_eq!(checked.swedish["pass.logo_text"], "Covidbevis");
        assert_eq!(checked.english["pass.logo_text"], "COVID certificate");
    }

    let personbevis = issue_passes("personbevis", &[personbevis_claims()], &[]);
    let checked = check_pass(&personbevis[0]);
    assert!(checked.barcode().starts_with("INTYG1:"));
    let (report, exit) = verify_json(checked.barcode(), &trust, None);
    assert_eq!(exit, 0, "{report}");
    assert_eq!(report["claims"], personbevis_claims());
    assert_eq!(
        checked.pass["generic"]["primaryFields"][0]["value"],
        "Öberg"
    );
    assert_eq!(checked.swedish["claim.front0"], "Efternamn");
    assert_eq!(checked.english["claim.front0"], "Family name");
}

#[test]
fn strings_keep_quotes_backslashes_and_line_breaks() {
    // A type whose names hold every character a .strings file must escape.
    let schemas = temp_dir();
    let type_dir = schemas.path().join("personbevis");
    std::fs::create_dir(&type_dir).unwrap();
    let source = crate_root().join("schemas/personbevis");
    std::fs::copy(source.join("schema.json"), type_dir.join("schema.json")).unwrap();
    let mut definition: Value =
        serde_json::from_slice(&std::fs::read(source.join("type.json")).unwrap()).unwrap();
    let swedish = "Intyg \"särskilt\" C:\\mapp\nrad två åäö ÅÄÖ";
    let english = "Certificate \"special\" \\ tab\there\r\nend";
    definition["display"][0]["name"] = json!(swedish);
    definition["display"][1]["name"] = json!(english);
    definition["claims"][1]["display"][0]["name"] = json!("Efter\"namn\"\\\n");
    std::fs::write(type_dir.join("type.json"), definition.to_string()).unwrap();

    let passes = issue_passes(
        "personbevis",
        &[personbevis_claims()],
        &[("INTYG_SCHEMAS_DIR", schemas.path())],
    );
    let checked = check_pass(&passes[0]);
    assert_eq!(checked.swedish["pass.logo_text"], swedish);
    assert_eq!(checked.english["pass.logo_text"], english);
    assert_eq!(checked.swedish["claim.front0"], "Efter\"namn\"\\\n");
}

/// One request the push stand-in received.
#[derive(Debug, Clone)]
struct Push {
    version: Version,
    token: String,
    topic: Option<String>,
    body: Vec<u8>,
}

/// Starts a stand-in for the Apple Push Notification service: HTTP/2 without TLS on 127.0.0.1. It
/// responds to `POST /3/device/<token>` with 200 and an `apns-id`, or with 410 for the token
/// `dead`, as the real service does for a token that is no longer valid.
async fn start_push_stand_in() -> (String, Arc<Mutex<Vec<Push>>>) {
    let received: Arc<Mutex<Vec<Push>>> = Arc::default();
    async fn push(
        State(received): State<Arc<Mutex<Vec<Push>>>>,
        UrlPath(token): UrlPath<String>,
        version: Version,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> (AxumStatus, [(&'static str, &'static str); 1], String) {
        received.lock().unwrap().push(Push {
            version,
            token: token.clone(),
            topic: headers
                .get("apns-topic")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: body.to_vec(),
        });
        if token == "dead" {
            (
                AxumStatus::GONE,
                [("apns-id", "0")],
                r#"{"reason":"Unregistered"}"#.into(),
            )
        } else {
            (AxumStatus::OK, [("apns-id", "0")], String::new())
        }
    }
    let app = axum::Router::new()
        .route("/3/device/{token}", axum::routing::post(push))
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), received)
}

fn personbevis_request(channels: &[&str]) -> Value {
    json!({ "type": "personbevis", "claims": personbevis_claims(), "channels": channels })
}

async fn create(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let response = http
        .post(format!("{}/api/v1/certificates", server.base_url))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoked_pass_voided_and_pushed() {
    let (push_url, pushes) = start_push_stand_in().await;
    let server = Server::start(&[("INTYG_APNS_URL", &push_url)]);
    let key = server.add_client("e-service", "personbevis", &[]);
    let http = reqwest::Client::new();

    let (status, created) =
        create(&http, &server, &key, &personbevis_request(&["pass", "pdf"])).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let link = created["links"]["pass"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{}/passes/{id}.pkpass?token=", server.base_url)),
        "{link}"
    );
    let response = http.get(&link).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.apple.pkpass"
    );
    let downloaded = check_pass(&response.bytes().await.unwrap());
    assert_eq!(downloaded.pass["serialNumber"], id.as_str());
    assert_eq!(downloaded.pass["voided"], false);
    let web_service = downloaded.pass["webServiceURL"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(web_service, format!("{}/passkit", server.base_url));
    let token = downloaded.pass["authenticationToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let authorization = format!("ApplePass {token}");

    // Two devices register; registering again is not new; a wrong token is refused.
    let registration = |device: &str| {
        format!("{web_service}/v1/devices/{device}/registrations/{PASS_TYPE_ID}/{id}")
    };
    for (device, push_token) in [("phone1", "aa11"), ("watch2", "bb22"), ("old3", "dead")] {
        let response = http
            .post(registration(device))
            .header("Authorization", &authorization)
            .json(&json!({ "pushToken": push_token }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{device}");
    }
    let again = http
        .post(registration("phone1"))
        .header("Authorization", &authorization)
        .json(&json!({ "pushToken": "aa11" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let wrong = http
        .post(registration("phone9"))
        .header("Authorization", "ApplePass AAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .json(&json!({ "pushToken": "cc33" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let bad_body = http
        .post(registration("phone9"))
        .header("Authorization", &authorization)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_body.status(), StatusCode::BAD_REQUEST);

    // The pass's second passes; its listing then has a tag, and nothing changed since.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let serials_url = format!("{web_service}/v1/devices/phone1/registrations/{PASS_TYPE_ID}");
    let listed: Value = http
        .get(&serials_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["serialNumbers"], json!([id]));
    let tag = listed["lastUpdated"].as_str().unwrap().to_owned();
    let unchanged = http
        .get(format!("{serials_url}?passesUpdatedSince={tag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NO_CONTENT);

    let pass_url = format!("{web_service}/v1/passes/{PASS_TYPE_ID}/{id}");
    let first = latest_pass(&http, &pass_url, &authorization, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first_modified = last_modified(&first);
    let not_modified = latest_pass(&http, &pass_url, &authorization, Some(&first_modified)).await;
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let unauthorized = http.get(&pass_url).send().await.unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);

    // Revoking pushes to each registered device.
    let revoked = http
        .post(format!(
            "{}/api/v1/certificates/{id}/revoke",
            server.base_url
        ))
        .bearer_auth(&key)
        .json(&json!({ "reason": "replaced" }))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let mut received = Vec::new();
    for _ in 0..100 {
        received = pushes.lock().unwrap().clone();
        if received.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut tokens: Vec<&str> = received.iter().map(|push| push.token.as_str()).collect();
    tokens.sort();
    assert_eq!(tokens, ["aa11", "bb22", "dead"], "one push for each device");
    for push in &received {
        assert_eq!(push.version, Version::HTTP_2);
        assert_eq!(push.topic.as_deref(), Some(PASS_TYPE_ID));
        assert_eq!(push.body, b"{}");
    }

    // The device requests what changed, gets the voided pass with a newer Last-Modified, then 304.
    let changed: Value = http
        .get(format!("{serials_url}?passesUpdatedSince={tag}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed["serialNumbers"], json!([id]));
    let voided = latest_pass(&http, &pass_url, &authorization, Some(&first_modified)).await;
    assert_eq!(voided.status(), StatusCode::OK);
    let voided_modified = last_modified(&voided);
    assert!(
        http_date_seconds(&voided_modified) > http_date_seconds(&first_modified),
        "{voided_modified} is not newer than {first_modified}"
    );
    let voided = check_pass(&voided.bytes().await.unwrap());
    assert_eq!(voided.pass["voided"], true);
    assert!(
        voided.pass.get("barcodes").is_none(),
        "a voided pass still carries a 2D code"
    );
    assert_eq!(voided.english["status.revoked"], "Revoked");
    let again = latest_pass(&http, &pass_url, &authorization, Some(&voided_modified)).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // The download link is gone; the push service's 410 removed that device's registration.
    assert_eq!(
        http.get(&link).send().await.unwrap().status(),
        StatusCode::GONE
    );
    let old_device = http
        .get(format!(
            "{web_service}/v1/devices/old3/registrations/{PASS_TYPE_ID}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(old_device.status(), StatusCode::NO_CONTENT);

    let removed = http
        .delete(registration("phone1"))
        .header("Authorization", &authorization)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    let logged = http
        .post(format!("{web_service}/v1/log"))
        .json(&json!({ "logs": ["could not parse the pass"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(logged.status(), StatusCode::OK);

    let (_, log) = server.terminate();
    assert!(
        !log.contains(&token),
        "the authentication token reached the log"
    );
    assert!(!log.contains("Öberg"), "personal data reached the log");
}

/// Waits until the stand-in has received `count` pushes and returns them.
async fn pushes_received(pushes: &Mutex<Vec<Push>>, count: usize) -> Vec<Push> {
    for _ in 0..100 {
        let received = pushes.lock().unwrap().clone();
        if received.len() >= count {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    pushes.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn suspended_pass_hides_barcode_until_reinstated() {
    let (push_url, pushes) = start_push_stand_in().await;
    let server = Server::start(&[("INTYG_APNS_URL", &push_url)]);
    let key = server.add_client("e-service", "personbevis", &[]);
    let http = reqwest::Client::new();
    let (_, created) = create(&http, &server, &key, &personbevis_request(&["pass"])).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let link = created["links"]["pass"].as_str().unwrap();
    let pass = check_pass(&http.get(link).send().await.unwrap().bytes().await.unwrap());
    let authorization = format!(
        "ApplePass {}",
        pass.pass["authenticationToken"].as_str().unwrap()
    );
    let web_service = pass.pass["webServiceURL"].as_str().unwrap().to_owned();
    let registered = http
        .post(format!(
            "{web_service}/v1/devices/phone1/registrations/{PASS_TYPE_ID}/{id}"
        ))
        .header("Authorization", &authorization)
        .json(&json!({ "pushToken": "aa11" }))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);

    let latest = || async {
        let response = http
            .get(format!("{web_service}/v1/passes/{PASS_TYPE_ID}/{id}"))
            .header("Authorization", &authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        check_pass(&response.bytes().await.unwrap())
    };
    let change = |action: &'static str| {
        let request = http
            .post(format!(
                "{}/api/v1/certificates/{id}/{action}",
                server.base_url
            ))
            .bearer_auth(&key)
            .json(&json!({}));
        async move { request.send().await.unwrap().status() }
    };

    assert_eq!(change("suspend").await, StatusCode::OK);
    assert_eq!(
        pushes_received(&pushes, 1).await.len(),
        1,
        "no push after suspension"
    );
    let suspended = latest().await;
    assert_eq!(suspended.pass["voided"], false);
    assert!(
        suspended.pass.get("barcodes").is_none(),
        "a suspended pass still carries a 2D code"
    );
    assert_eq!(
        suspended.pass["generic"]["headerFields"][0]["value"],
        "status.suspended"
    );
    assert_eq!(suspended.swedish["status.suspended"], "Tillfälligt spärrat");
    assert_eq!(suspended.english["status.suspended"], "Suspended");

    assert_eq!(change("reinstate").await, StatusCode::OK);
    assert_eq!(
        pushes_received(&pushes, 2).await.len(),
        2,
        "no push after reinstatement"
    );
    let reinstated = latest().await;
    assert!(reinstated.barcode().starts_with("INTYG1:"));
    assert_eq!(reinstated.pass["voided"], false);
}

/// Requests the latest version of a pass as a device does, with `If-Modified-Since` when given.
async fn latest_pass(
    http: &reqwest::Client,
    url: &str,
    authorization: &str,
    if_modified_since: Option<&str>,
) -> reqwest::Response {
    let mut request = http.get(url).header("Authorization", authorization);
    if let Some(since) = if_modified_since {
        request = request.header("If-Modified-Since", since);
    }
    request.send().await.unwrap()
}

fn last_modified(response: &reqwest::Response) -> String {
    response.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn http_date_seconds(text: &str) -> i64 {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text, format)
        .unwrap()
        .assume_utc()
        .unix_timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn google_save_link_is_a_signed_private_pass() {
    let server = Server::start(&[("INTYG_GOOGLE_ORIGINS", "https://e-tjanst.example.se")]);
    let key = server.add_client("e-service", "personbevis,covid-certificate", &[]);
    let http = reqwest::Client::new();
    let (status, created) = create(&http, &server, &key, &personbevis_request(&["google"])).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let link = created["links"]["google"].as_str().unwrap();
    let jwt = link
        .strip_prefix("https://pay.google.com/gp/v/save/")
        .unwrap();
    assert!(jwt.len() < 1800, "{} characters", jwt.len());

    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap()
    };
    let account: Value = serde_json::from_slice(
        &std::fs::read(crate_root().join("keys-example/google-service-account.json")).unwrap(),
    )
    .unwrap();
    let private = openssl::pkey::PKey::private_key_from_pem(
        account["private_key"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    let public =
        openssl::pkey::PKey::public_key_from_pem(&private.public_key_to_pem().unwrap()).unwrap();
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public).unwrap();
    verifier
        .update(format!("{}.{}", parts[0], parts[1]).as_bytes())
        .unwrap();
    assert!(
        verifier.verify(&decode(parts[2])).unwrap(),
        "the RS256 signature does not verify"
    );

    let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
    assert_eq!(claims["iss"], account["client_email"]);
    assert_eq!(claims["aud"], "google");
    assert_eq!(claims["typ"], "savetowallet");
    assert_eq!(claims["origins"], json!(["https://e-tjanst.example.se"]));
    assert!(claims["iat"].is_i64());
    let class_id = claims["payload"]["genericClasses"][0]["id"]
        .as_str()
        .unwrap();
    assert!(class_id.ends_with(".personbevis"), "{class_id}");
    let pass = &claims["payload"]["genericPrivatePasses"][0];
    let id = created["id"].as_str().unwrap();
    assert!(pass["id"].as_str().unwrap().ends_with(&format!(".{id}")));
    assert_eq!(pass["header"]["defaultValue"]["value"], "Öberg");
    assert_eq!(pass["title"]["defaultValue"]["language"], "sv");
    assert_eq!(pass["title"]["defaultValue"]["value"], "Personbevis");
    assert_eq!(
        pass["title"]["translatedValues"][0]["value"],
        "Population registration extract"
    );
    assert_eq!(pass["barcode"]["type"], "QR_CODE");
    let trust = crate_root().join("keys-example/issuer-signing.chain.pem");
    let (report, exit) = verify_json(pass["barcode"]["value"].as_str().unwrap(), &trust, None);
    assert_eq!(exit, 0, "{report}");
    let all = personbevis_claims();
    let front: Value = ["family_name", "given_name", "personal_identity_number"]
        .into_iter()
        .map(|name| (name.to_owned(), all[name].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    assert_eq!(
        report["claims"], front,
        "the compact 2D code signs the front's claims"
    );

    // A certificate whose link would be too long is refused whole, naming the channel.
    let before = list_count(&http, &server, &key).await;
    let mut claims = vectors()[0].claims().clone();
    claims["nam"]["fn"] = json!("Långnamn-".repeat(8));
    claims["nam"]["gn"] = json!("Förnamnen".repeat(8));
    let (status, problem) = create(
        &http,
        &server,
        &key,
        &json!({ "type": "covid-certificate", "claims": claims, "channels": ["pdf", "google"] }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/channels/1", "{problem}");
    let detail = problem["errors"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("1800") && detail.contains("pass.primary"),
        "{problem}"
    );
    assert_eq!(
        list_count(&http, &server, &key).await,
        before,
        "a refused certificate was stored"
    );
}

async fn list_count(http: &reqwest::Client, server: &Server, key: &str) -> usize {
    let list: Value = http
        .get(format!("{}/api/v1/certificates?limit=500", server.base_url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().len()
}
