//! Several `intyg serve` processes: a crash in the middle of a stream of creates, and two nodes
//! sharing PostgreSQL that receive the same single-use code at once.

mod common;

use std::time::Duration;

use common::*;
use reqwest::{Client as HttpClient, StatusCode};
use serde_json::{json, Value};

fn personbevis(index: usize) -> Value {
    json!({
        "type": "personbevis",
        "claims": {
            "given_name": format!("Åsa {index}"), "family_name": "Öberg", "personal_identity_number": "196408233234",
            "birthdate": "1964-08-23",
            "address": { "street_address": "Storgatan 1", "postal_code": "111 22", "locality": "Stockholm" },
            "county": { "code": "01", "name": "Stockholms län" },
            "municipality": { "code": "0180", "name": "Stockholm" },
            "extract_date": "2026-12-01"
        },
        "channels": ["wallet"]
    })
}

async fn create(
    http: &HttpClient,
    base_url: &str,
    key: &str,
    index: usize,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let response = http
        .post(format!("{base_url}/api/v1/certificates"))
        .bearer_auth(key)
        .header("Idempotency-Key", format!("request-{index}"))
        .json(&personbevis(index))
        .timeout(Duration::from_secs(5))
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.json().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_keeps_every_acknowledged_create() {
    let server = Server::start(&[]);
    let key = server.add_client("e-service", "personbevis", &[]);
    let base_url = server.base_url.clone();
    let http = HttpClient::new();

    // A stream of creates, each with its own idempotency key, until the server dies under it.
    let stream = {
        let (http, base_url, key) = (http.clone(), base_url.clone(), key.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut attempted = 0;
            for index in 0..10_000 {
                attempted = index + 1;
                match create(&http, &base_url, &key, index).await {
                    Ok((StatusCode::CREATED, body)) => {
                        acknowledged.push((index, body["id"].as_str().unwrap().to_owned()))
                    }
                    Ok((status, body)) => panic!("create {index} answered {status}: {body}"),
                    Err(_) => break,
                }
            }
            (acknowledged, attempted)
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let data_dir = server.kill();
    let (acknowledged, attempted) = stream.await.unwrap();
    assert!(
        acknowledged.len() > 10,
        "only {} creates before the kill",
        acknowledged.len()
    );

    let restarted = Server::start_in(data_dir, &[]);
    for (index, id) in &acknowledged {
        let response = http
            .get(format!("{}/api/v1/certificates/{id}", restarted.base_url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "create {index} was acknowledged but is lost"
        );
    }
    // Retrying every attempted request, as a client does after a failure, creates no duplicate.
    for index in 0..attempted {
        let (status, body) = create(&http, &restarted.base_url, &key, index)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        if let Some((_, id)) = acknowledged.iter().find(|(acked, _)| *acked == index) {
            assert_eq!(
                body["id"].as_str(),
                Some(id.as_str()),
                "retry {index} created a duplicate"
            );
        }
    }
    let mut total = 0;
    let mut cursor = String::new();
    loop {
        let page: Value = http
            .get(format!(
                "{}/api/v1/certificates?limit=500{cursor}",
                restarted.base_url
            ))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        total += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(
        total, attempted,
        "certificates stored differ from requests attempted"
    );
}

fn pre_authorized_code(offer_link: &str) -> String {
    let encoded = offer_link
        .strip_prefix("openid-credential-offer://?credential_offer=")
        .unwrap();
    let mut bytes = Vec::new();
    let mut rest = encoded.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first == b'%' {
            bytes.push(u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(first);
            rest = tail;
        }
    }
    let offer: Value = serde_json::from_slice(&bytes).unwrap();
    offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_accept_a_code_once() {
    let Some(database) = postgres_test_url("the two-node PostgreSQL test").await else {
        return;
    };
    let env = [("INTYG_DATABASE", database.as_str())];
    let first = Server::start(&env);
    let second = Server::start(&env);
    let key = first.add_client("e-service", "personbevis", &env);
    let http = HttpClient::new();

    let (status, created) = create(&http, &first.base_url, &key, 0).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let code = pre_authorized_code(created["links"]["offer"].as_str().unwrap());

    let attempts: Vec<_> = (0..50)
        .map(|attempt| {
            let node = if attempt % 2 == 0 {
                first.base_url.clone()
            } else {
                second.base_url.clone()
            };
            let (http, code) = (http.clone(), code.clone());
            tokio::spawn(async move {
                let response = http
                    .post(format!("{node}/token"))
                    .form(&[
                        (
                            "grant_type",
                            "urn:ietf:params:oauth:grant-type:pre-authorized_code",
                        ),
                        ("pre-authorized_code", code.as_str()),
                    ])
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                (status, response.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut accepted = 0;
    for attempt in attempts {
        let (status, body) = attempt.await.unwrap();
        match status {
            StatusCode::OK => {
                accepted += 1;
                assert_eq!(body["token_type"], "Bearer");
            }
            StatusCode::BAD_REQUEST => assert_eq!(body["error"], "invalid_grant", "{body}"),
            other => panic!("token endpoint answered {other}: {body}"),
        }
    }
    assert_eq!(
        accepted, 1,
        "the pre-authorized code was accepted {accepted} times"
    );
}
