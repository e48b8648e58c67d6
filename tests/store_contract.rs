//! One contract for every `Store` backend: each test runs on SQLite and on PostgreSQL.
//!
//! The PostgreSQL run needs `INTYG_TEST_DATABASE_URL` (such as
//! `postgres://postgres@127.0.0.1:5432/test`); each test gets a schema of its own there. Without
//! the variable the PostgreSQL tests print that they were skipped, except in CI, where they fail.

mod common;

use std::sync::Arc;

use intyg::store::{
    AccessTokenRecord, ApiClient, AuditEvent, CertificateRecord, CreateOutcome, DeferredCredential,
    Idempotency, ListQuery, OfferRecord, PassRegistration, Redemption, SealedData, Secret, Status,
    StatusEntry, Store, StoreError,
};

const NOW: i64 = 1_796_400_000;

async fn open_sqlite() -> Option<(Arc<dyn Store>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("intyg.db").display());
    Some((intyg::store::open(&url).await.unwrap(), dir))
}

async fn open_postgres() -> Option<(Arc<dyn Store>, tempfile::TempDir)> {
    let url = common::postgres_test_url("the PostgreSQL contract tests").await?;
    Some((
        intyg::store::open(&url).await.unwrap(),
        tempfile::tempdir().unwrap(),
    ))
}

fn client(name: &str) -> ApiClient {
    ApiClient {
        id: format!("client-{name}"),
        name: name.to_owned(),
        key_hash: format!("hash-{name}"),
        types: vec!["personbevis".into()],
        created_at: NOW,
    }
}

fn certificate(id: &str, client_id: &str, type_id: &str) -> CertificateRecord {
    CertificateRecord {
        id: id.to_owned(),
        client_id: client_id.to_owned(),
        type_id: type_id.to_owned(),
        status: Status::Active,
        created_at: NOW,
        updated_at: NOW,
        valid_from: NOW,
        valid_until: NOW + 90 * 86_400,
        retain_until: NOW + 90 * 86_400,
        channels: vec!["wallet".into()],
        data: Some(SealedData {
            key_id: "k1".into(),
            nonce: vec![7; 12],
            ciphertext: vec![1, 2, 3, 4],
        }),
        data_deleted_at: None,
        revoked_at: None,
        revocation_reason: None,
        status_entry: None,
    }
}

async fn with_clients(store: &dyn Store) {
    store.add_client(&client("a")).await.unwrap();
    store.add_client(&client("b")).await.unwrap();
}

async fn clients_found_by_key_hash(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    assert_eq!(
        store.client_by_key_hash("hash-a").await.unwrap(),
        Some(client("a"))
    );
    assert_eq!(
        store.client_by_key_hash("hash-unknown").await.unwrap(),
        None
    );
    let duplicate = store.add_client(&client("a")).await;
    assert!(
        matches!(duplicate, Err(intyg::store::StoreError::Duplicate(_))),
        "{duplicate:?}"
    );
}

async fn certificate_visible_only_to_owner(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    let record = certificate(
        "00000000-0000-7000-8000-000000000001",
        "client-a",
        "personbevis",
    );
    let outcome = store.create_certificate(&record, None).await.unwrap();
    assert_eq!(outcome, CreateOutcome::Created(record.clone()));
    assert_eq!(
        store.certificate("client-a", &record.id).await.unwrap(),
        Some(record.clone())
    );
    assert_eq!(
        store.certificate("client-b", &record.id).await.unwrap(),
        None
    );
    let events = store.audit_events(&record.id).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "certificate.created");
    assert_eq!(events[0].actor, "client-a");
}

async fn idempotency_replays_and_conflicts(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    let key = Idempotency {
        key: "order-1".into(),
        request_hash: "hash-1".into(),
    };
    let first = certificate(
        "00000000-0000-7000-8000-000000000001",
        "client-a",
        "personbevis",
    );
    let second = certificate(
        "00000000-0000-7000-8000-000000000002",
        "client-a",
        "personbevis",
    );
    assert_eq!(
        store.create_certificate(&first, Some(&key)).await.unwrap(),
        CreateOutcome::Created(first.clone())
    );
    assert_eq!(
        store.create_certificate(&second, Some(&key)).await.unwrap(),
        CreateOutcome::Replayed(first.clone())
    );
    let other_body = Idempotency {
        request_hash: "hash-2".into(),
        ..key.clone()
    };
    assert_eq!(
        store
            .create_certificate(&second, Some(&other_body))
            .await
            .unwrap(),
        CreateOutcome::Conflict {
            certificate_id: first.id.clone()
        }
    );
    // Idempotency keys are per client: client b may use the same key.
    let of_b = certificate(
        "00000000-0000-7000-8000-000000000003",
        "client-b",
        "personbevis",
    );
    assert_eq!(
        store.create_certificate(&of_b, Some(&key)).await.unwrap(),
        CreateOutcome::Created(of_b.clone())
    );
    assert_eq!(
        store.certificate("client-a", &second.id).await.unwrap(),
        None,
        "a replay stored a second certificate"
    );
}

async fn listing_filters_and_pages(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    for (index, type_id) in [
        "personbevis",
        "covid-certificate",
        "personbevis",
        "personbevis",
    ]
    .iter()
    .enumerate()
    {
        let id = format!("00000000-0000-7000-8000-00000000000{index}");
        store
            .create_certificate(&certificate(&id, "client-a", type_id), None)
            .await
            .unwrap();
    }
    store
        .create_certificate(
            &certificate(
                "00000000-0000-7000-8000-000000000009",
                "client-b",
                "personbevis",
            ),
            None,
        )
        .await
        .unwrap();

    let query = ListQuery {
        type_id: Some("personbevis".into()),
        limit: 2,
        ..ListQuery::default()
    };
    let page = store.list_certificates("client-a", &query).await.unwrap();
    let ids: Vec<&str> = page.iter().map(|record| record.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "00000000-0000-7000-8000-000000000000",
            "00000000-0000-7000-8000-000000000002"
        ]
    );
    let next = ListQuery {
        after: Some(ids[1].to_owned()),
        ..query.clone()
    };
    let page = store.list_certificates("client-a", &next).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].id, "00000000-0000-7000-8000-000000000003");

    store
        .revoke_certificate(
            "client-a",
            "00000000-0000-7000-8000-000000000002",
            "error",
            NOW + 5,
            "client-a",
        )
        .await
        .unwrap();
    let revoked = ListQuery {
        status: Some(Status::Revoked),
        limit: 10,
        ..ListQuery::default()
    };
    assert_eq!(
        store
            .list_certificates("client-a", &revoked)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn revocation_recorded_once(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    let record = certificate(
        "00000000-0000-7000-8000-000000000001",
        "client-a",
        "personbevis",
    );
    store.create_certificate(&record, None).await.unwrap();
    assert_eq!(
        store
            .revoke_certificate("client-b", &record.id, "x", NOW, "client-b")
            .await
            .unwrap(),
        None
    );
    let revoked = store
        .revoke_certificate(
            "client-a",
            &record.id,
            "issued in error",
            NOW + 10,
            "client-a",
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.status, Status::Revoked);
    assert_eq!(revoked.revoked_at, Some(NOW + 10));
    let again = store
        .revoke_certificate("client-a", &record.id, "other reason", NOW + 20, "client-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(NOW + 10),
        "a second revocation changed the record"
    );
    assert_eq!(again.revocation_reason.as_deref(), Some("issued in error"));
    let actions: Vec<String> = store
        .audit_events(&record.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions, ["certificate.created", "certificate.revoked"]);
}

async fn retention_deletes_data_keeps_record(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    let mut expiring = certificate(
        "00000000-0000-7000-8000-000000000001",
        "client-a",
        "personbevis",
    );
    expiring.retain_until = NOW + 100;
    let kept = certificate(
        "00000000-0000-7000-8000-000000000002",
        "client-a",
        "personbevis",
    );
    store.create_certificate(&expiring, None).await.unwrap();
    store.create_certificate(&kept, None).await.unwrap();

    assert_eq!(store.purge_expired_data(NOW + 99).await.unwrap(), 0);
    assert_eq!(store.purge_expired_data(NOW + 100).await.unwrap(), 1);
    let purged = store
        .certificate("client-a", &expiring.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(purged.data, None);
    assert_eq!(purged.data_deleted_at, Some(NOW + 100));
    assert_eq!(purged.status, Status::Active);
    assert!(store
        .certificate("client-a", &kept.id)
        .await
        .unwrap()
        .unwrap()
        .data
        .is_some());
    assert_eq!(store.purge_expired_data(NOW + 200).await.unwrap(), 0);
}

async fn secret_consumed_once(store: Arc<dyn Store>) {
    let secret = Secret {
        kind: "pre-authorized_code".into(),
        hash: "h1".into(),
        subject_id: "certificate-1".into(),
        expires_at: NOW + 300,
    };
    store.put_secret(&secret).await.unwrap();
    assert_eq!(
        store.consume_secret("nonce", "h1", NOW).await.unwrap(),
        None,
        "consumed under another kind"
    );
    assert_eq!(
        store
            .consume_secret("pre-authorized_code", "h1", NOW)
            .await
            .unwrap(),
        Some("certificate-1".into())
    );
    assert_eq!(
        store
            .consume_secret("pre-authorized_code", "h1", NOW)
            .await
            .unwrap(),
        None
    );

    let expired = Secret {
        hash: "h2".into(),
        ..secret.clone()
    };
    store.put_secret(&expired).await.unwrap();
    assert_eq!(
        store
            .consume_secret("pre-authorized_code", "h2", NOW + 300)
            .await
            .unwrap(),
        None,
        "an expired secret was accepted"
    );
}

async fn reusable_secret_found_until_expiry(store: Arc<dyn Store>) {
    let secret = Secret {
        kind: "download".into(),
        hash: "d1".into(),
        subject_id: "certificate-1".into(),
        expires_at: NOW + 300,
    };
    store.put_secret(&secret).await.unwrap();
    assert_eq!(
        store.find_secret("download", "d1", NOW).await.unwrap(),
        Some("certificate-1".into())
    );
    assert_eq!(
        store.find_secret("download", "d1", NOW).await.unwrap(),
        Some("certificate-1".into()),
        "finding consumed it"
    );
    assert_eq!(
        store
            .find_secret("download", "d1", NOW + 300)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.find_secret("c_nonce", "d1", NOW).await.unwrap(), None);
}

async fn certificate_found_by_id_alone(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    let record = certificate(
        "00000000-0000-7000-8000-000000000001",
        "client-a",
        "personbevis",
    );
    store.create_certificate(&record, None).await.unwrap();
    assert_eq!(
        store.certificate_by_id(&record.id).await.unwrap(),
        Some(record)
    );
    assert_eq!(
        store
            .certificate_by_id("00000000-0000-7000-8000-00000000000f")
            .await
            .unwrap(),
        None
    );
}

async fn concurrent_consumers_one_wins(store: Arc<dyn Store>) {
    let secret = Secret {
        kind: "c_nonce".into(),
        hash: "contested".into(),
        subject_id: "certificate-1".into(),
        expires_at: NOW + 300,
    };
    store.put_secret(&secret).await.unwrap();
    let attempts: Vec<_> = (0..50)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .consume_secret("c_nonce", "contested", NOW)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for attempt in attempts {
        if attempt.await.unwrap().is_some() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

async fn status_entry_taken_once(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    assert_eq!(store.status_list_usage().await.unwrap(), None);
    let mut first = certificate(
        "00000000-0000-7000-8000-000000000001",
        "client-a",
        "personbevis",
    );
    first.status_entry = Some(StatusEntry {
        list: 2,
        index: 4711,
    });
    store.create_certificate(&first, None).await.unwrap();
    assert_eq!(
        store.certificate("client-a", &first.id).await.unwrap(),
        Some(first.clone())
    );

    let mut second = certificate(
        "00000000-0000-7000-8000-000000000002",
        "client-b",
        "personbevis",
    );
    second.status_entry = first.status_entry;
    let taken = store.create_certificate(&second, None).await;
    assert!(
        matches!(
            taken,
            Err(StoreError::StatusEntryTaken {
                list: 2,
                index: 4711
            })
        ),
        "{taken:?}"
    );
    let key = Idempotency {
        key: "order-1".into(),
        request_hash: "hash-1".into(),
    };
    let taken = store.create_certificate(&second, Some(&key)).await;
    assert!(
        matches!(taken, Err(StoreError::StatusEntryTaken { .. })),
        "{taken:?}"
    );
    assert_eq!(
        store.certificate("client-b", &second.id).await.unwrap(),
        None
    );

    // The same index in another list is free, and the failed create left the key unclaimed.
    second.status_entry = Some(StatusEntry {
        list: 3,
        index: 4711,
    });
    assert_eq!(
        store.create_certificate(&second, Some(&key)).await.unwrap(),
        CreateOutcome::Created(second.clone())
    );
    let mut third = certificate(
        "00000000-0000-7000-8000-000000000003",
        "client-b",
        "personbevis",
    );
    third.status_entry = Some(StatusEntry { list: 3, index: 9 });
    store.create_certificate(&third, None).await.unwrap();
    assert_eq!(store.status_list_usage().await.unwrap(), Some((3, 2)));
}

async fn suspension_and_reinstatement(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    let mut record = certificate(
        "00000000-0000-7000-8000-000000000001",
        "client-a",
        "personbevis",
    );
    record.status_entry = Some(StatusEntry { list: 0, index: 77 });
    store.create_certificate(&record, None).await.unwrap();
    let mut other = certificate(
        "00000000-0000-7000-8000-000000000002",
        "client-a",
        "personbevis",
    );
    other.status_entry = Some(StatusEntry { list: 0, index: 5 });
    store.create_certificate(&other, None).await.unwrap();
    assert_eq!(store.status_list_entries(0).await.unwrap(), []);

    assert_eq!(
        store
            .suspend_certificate("client-b", &record.id, NOW, "client-b")
            .await
            .unwrap(),
        None,
        "another client suspended the certificate"
    );
    let suspended = store
        .suspend_certificate("client-a", &record.id, NOW + 1, "client-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(suspended.status, Status::Suspended);
    assert_eq!(suspended.updated_at, NOW + 1);
    let again = store
        .suspend_certificate("client-a", &record.id, NOW + 2, "client-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.updated_at, NOW + 1, "a second suspension changed it");
    assert_eq!(
        store.status_list_entries(0).await.unwrap(),
        [(77, Status::Suspended)]
    );
    assert_eq!(store.status_list_entries(1).await.unwrap(), []);

    let reinstated = store
        .reinstate_certificate("client-a", &record.id, NOW + 3, "client-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reinstated.status, Status::Active);
    assert_eq!(store.status_list_entries(0).await.unwrap(), []);

    store
        .revoke_certificate("client-a", &other.id, "error", NOW + 4, "client-a")
        .await
        .unwrap();
    let not_suspended = store
        .suspend_certificate("client-a", &other.id, NOW + 5, "client-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(not_suspended.status, Status::Revoked);
    let not_reinstated = store
        .reinstate_certificate("client-a", &other.id, NOW + 6, "client-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(not_reinstated.status, Status::Revoked);
    assert_eq!(
        store.status_list_entries(0).await.unwrap(),
        [(5, Status::Revoked)]
    );

    let actions: Vec<String> = store
        .audit_events(&record.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "certificate.created",
            "certificate.suspended",
            "certificate.reinstated"
        ]
    );
}

async fn secrets_deleted_by_subject(store: Arc<dyn Store>) {
    for (kind, hash, subject) in [
        ("pre-authorized_code", "p1", "certificate-1"),
        ("pre-authorized_code", "p2", "certificate-1"),
        ("pre-authorized_code", "p3", "certificate-2"),
        ("download", "d1", "certificate-1"),
    ] {
        store
            .put_secret(&Secret {
                kind: kind.into(),
                hash: hash.into(),
                subject_id: subject.into(),
                expires_at: NOW + 300,
            })
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .delete_secrets("pre-authorized_code", "certificate-1")
            .await
            .unwrap(),
        2
    );
    for hash in ["p1", "p2"] {
        assert_eq!(
            store
                .consume_secret("pre-authorized_code", hash, NOW)
                .await
                .unwrap(),
            None,
            "{hash} survived"
        );
    }
    assert_eq!(
        store
            .consume_secret("pre-authorized_code", "p3", NOW)
            .await
            .unwrap(),
        Some("certificate-2".into())
    );
    assert_eq!(
        store.find_secret("download", "d1", NOW).await.unwrap(),
        Some("certificate-1".into())
    );
    assert_eq!(
        store
            .delete_secrets("pre-authorized_code", "certificate-1")
            .await
            .unwrap(),
        0
    );
}

async fn pass_registrations_follow_certificate_changes(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    let first = certificate(
        "00000000-0000-7000-8000-000000000001",
        "client-a",
        "personbevis",
    );
    let second = certificate(
        "00000000-0000-7000-8000-000000000002",
        "client-a",
        "personbevis",
    );
    store.create_certificate(&first, None).await.unwrap();
    store.create_certificate(&second, None).await.unwrap();
    let registration = |device: &str, serial: &str, token: &str| PassRegistration {
        device_library_id: device.into(),
        pass_type_id: "pass.se.example".into(),
        serial_number: serial.into(),
        push_token: token.into(),
        created_at: NOW,
    };
    assert!(store
        .register_pass(&registration("phone", &first.id, "t1"))
        .await
        .unwrap());
    assert!(store
        .register_pass(&registration("phone", &second.id, "t1"))
        .await
        .unwrap());
    assert!(store
        .register_pass(&registration("watch", &first.id, "t2"))
        .await
        .unwrap());
    // Registering again replaces the push token and is not new.
    assert!(!store
        .register_pass(&registration("watch", &first.id, "t3"))
        .await
        .unwrap());
    assert_eq!(
        store.pass_push_tokens(&first.id).await.unwrap(),
        ["t1", "t3"]
    );

    let updated = |since| {
        let store = Arc::clone(&store);
        async move {
            store
                .updated_passes("phone", "pass.se.example", since)
                .await
                .unwrap()
        }
    };
    assert_eq!(updated(NOW).await, [first.id.clone(), second.id.clone()]);
    assert!(updated(NOW + 1).await.is_empty());
    store
        .revoke_certificate("client-a", &first.id, "x", NOW + 5, "client-a")
        .await
        .unwrap();
    assert_eq!(updated(NOW + 1).await, std::slice::from_ref(&first.id));
    assert!(store
        .updated_passes("phone", "pass.se.other", NOW)
        .await
        .unwrap()
        .is_empty());

    assert!(store
        .unregister_pass("phone", "pass.se.example", &second.id)
        .await
        .unwrap());
    assert!(!store
        .unregister_pass("phone", "pass.se.example", &second.id)
        .await
        .unwrap());
    assert_eq!(store.forget_push_token("t1").await.unwrap(), 1);
    assert_eq!(store.pass_push_tokens(&first.id).await.unwrap(), ["t3"]);
}

async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
}

fn offer(certificate_id: &str, tx_code_hash: Option<&str>) -> (OfferRecord, Secret) {
    (
        OfferRecord {
            id_hash: format!("offer-{certificate_id}"),
            code_hash: format!("code-{certificate_id}"),
            certificate_id: certificate_id.to_owned(),
            tx_code_hash: tx_code_hash.map(str::to_owned),
            tx_code_length: tx_code_hash.map(|_| 6),
            failed_attempts: 0,
            expires_at: NOW + 300,
        },
        Secret {
            kind: "pre-authorized_code".into(),
            hash: format!("code-{certificate_id}"),
            subject_id: certificate_id.to_owned(),
            expires_at: NOW + 300,
        },
    )
}

/// Stores an active certificate of client-a with an offer, and returns it with the offer's
/// pre-authorized code.
async fn certificate_with_offer(
    store: &dyn Store,
    tx_code_hash: Option<&str>,
) -> (CertificateRecord, Secret) {
    with_clients(store).await;
    let record = certificate(
        "00000000-0000-7000-8000-000000000001",
        "client-a",
        "personbevis",
    );
    store.create_certificate(&record, None).await.unwrap();
    let (offer, code) = offer(&record.id, tx_code_hash);
    store.create_offer(&offer).await.unwrap();
    (record, code)
}

async fn offer_stored_and_found(store: Arc<dyn Store>) {
    let (record, code) = certificate_with_offer(store.as_ref(), Some("tx")).await;
    let (offer, _) = offer(&record.id, Some("tx"));
    assert_eq!(
        store.offer(&offer.id_hash, NOW).await.unwrap(),
        Some(offer.clone())
    );
    assert_eq!(
        store.offer(&offer.id_hash, NOW + 300).await.unwrap(),
        None,
        "expired offer found"
    );
    assert_eq!(
        store
            .find_secret("pre-authorized_code", &code.hash, NOW)
            .await
            .unwrap(),
        Some(record.id.clone())
    );
}

async fn pre_authorized_code_redeemed_once(store: Arc<dyn Store>) {
    let (record, code) = certificate_with_offer(store.as_ref(), None).await;
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, None, 5, NOW)
            .await
            .unwrap(),
        Redemption::Granted {
            certificate_id: record.id.clone(),
            status: Status::Active
        }
    );
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, None, 5, NOW)
            .await
            .unwrap(),
        Redemption::Invalid
    );
}

async fn suspended_certificate_code_kept(store: Arc<dyn Store>) {
    let (record, code) = certificate_with_offer(store.as_ref(), Some("right")).await;
    store
        .suspend_certificate("client-a", &record.id, NOW, "client-a")
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, Some("wrong"), 5, NOW)
            .await
            .unwrap(),
        Redemption::WrongTxCode { attempts_left: 4 },
        "a wrong transaction code must not learn the certificate's status"
    );
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, Some("right"), 5, NOW)
            .await
            .unwrap(),
        Redemption::NotActive {
            status: Status::Suspended
        }
    );

    store
        .reinstate_certificate("client-a", &record.id, NOW + 1, "client-a")
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, Some("right"), 5, NOW + 1)
            .await
            .unwrap(),
        Redemption::Granted {
            certificate_id: record.id.clone(),
            status: Status::Active
        }
    );

    let revoked = certificate(
        "00000000-0000-7000-8000-000000000002",
        "client-a",
        "personbevis",
    );
    store.create_certificate(&revoked, None).await.unwrap();
    let (revoked_offer, code) = offer(&revoked.id, None);
    store.create_offer(&revoked_offer).await.unwrap();
    store
        .revoke_certificate("client-a", &revoked.id, "test", NOW, "client-a")
        .await
        .unwrap();
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, None, 5, NOW)
            .await
            .unwrap(),
        Redemption::NotActive {
            status: Status::Revoked
        }
    );
}

async fn tx_code_attempts_lock_offer(store: Arc<dyn Store>) {
    let (_, code) = certificate_with_offer(store.as_ref(), Some("right")).await;
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, None, 5, NOW)
            .await
            .unwrap(),
        Redemption::WrongTxCode { attempts_left: 4 },
        "a missing transaction code must count as a wrong one"
    );
    for attempts_left in [3, 2, 1] {
        assert_eq!(
            store
                .redeem_pre_authorized_code(&code.hash, Some("wrong"), 5, NOW)
                .await
                .unwrap(),
            Redemption::WrongTxCode { attempts_left }
        );
    }
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, Some("wrong"), 5, NOW)
            .await
            .unwrap(),
        Redemption::Locked,
        "the fifth wrong code does not lock"
    );
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, Some("right"), 5, NOW)
            .await
            .unwrap(),
        Redemption::Locked,
        "the right code opened a locked offer"
    );
    assert_eq!(
        store
            .find_secret("pre-authorized_code", &code.hash, NOW)
            .await
            .unwrap(),
        None,
        "the locked offer's code is still stored"
    );
}

async fn right_tx_code_redeems(store: Arc<dyn Store>) {
    let (record, code) = certificate_with_offer(store.as_ref(), Some("right")).await;
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, Some("wrong"), 5, NOW)
            .await
            .unwrap(),
        Redemption::WrongTxCode { attempts_left: 4 }
    );
    assert_eq!(
        store
            .redeem_pre_authorized_code(&code.hash, Some("right"), 5, NOW)
            .await
            .unwrap(),
        Redemption::Granted {
            certificate_id: record.id.clone(),
            status: Status::Active
        }
    );
}

async fn concurrent_redemptions_one_wins(store: Arc<dyn Store>) {
    let (record, code) = certificate_with_offer(store.as_ref(), Some("right")).await;
    let attempts: Vec<_> = (0..40)
        .map(|index| {
            let store = Arc::clone(&store);
            let hash = code.hash.clone();
            tokio::spawn(async move {
                let tx_code = if index % 2 == 0 { "right" } else { "wrong" };
                store
                    .redeem_pre_authorized_code(&hash, Some(tx_code), 5, NOW)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut granted = 0;
    let mut wrong = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Redemption::Granted { .. } => granted += 1,
            Redemption::WrongTxCode { .. } => wrong += 1,
            Redemption::Locked | Redemption::Invalid => {}
            other => panic!("unexpected {other:?} for an active certificate"),
        }
    }
    assert!(granted <= 1, "{granted} attempts redeemed one code");
    // Only the counted attempts below the limit report attempts left; the fifth locks.
    assert!(wrong <= 4, "{wrong} attempts reported attempts left");
    let (offer, _) = offer(&record.id, Some("right"));
    let stored = store.offer(&offer.id_hash, NOW).await.unwrap().unwrap();
    assert!(
        stored.failed_attempts <= 5,
        "{} attempts counted",
        stored.failed_attempts
    );
    assert!(
        granted == 1 || stored.failed_attempts == 5,
        "neither redeemed nor locked"
    );
}

async fn secret_put_once(store: Arc<dyn Store>) {
    let secret = Secret {
        kind: "dpop_jti".into(),
        hash: "j1".into(),
        subject_id: String::new(),
        expires_at: NOW + 300,
    };
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            let secret = secret.clone();
            tokio::spawn(async move { store.put_secret_once(&secret).await.unwrap() })
        })
        .collect();
    let mut stored = 0;
    for attempt in attempts {
        if attempt.await.unwrap() {
            stored += 1;
        }
    }
    assert_eq!(stored, 1);
    assert_eq!(store.purge_expired_secrets(NOW + 300).await.unwrap(), 1);
    assert!(
        store.put_secret_once(&secret).await.unwrap(),
        "a purged value is still blocked"
    );
}

/// Writes that run together succeed or fail one by one, because a failing write takes none of
/// the others with it. SQLite commits the writes queued at one moment in one transaction.
async fn failed_write_leaves_concurrent_writes_standing(store: Arc<dyn Store>) {
    let secret = |index: usize| Secret {
        kind: "download_token".into(),
        hash: format!("h{index}"),
        subject_id: format!("certificate-{index}"),
        expires_at: NOW + 300,
    };
    store.put_secret(&secret(0)).await.unwrap();
    // Every fourth write repeats the first secret's primary key and must fail.
    let writes: Vec<_> = (1..=60)
        .map(|index| {
            let store = Arc::clone(&store);
            let secret = if index % 4 == 0 {
                secret(0)
            } else {
                secret(index)
            };
            tokio::spawn(async move { (index, store.put_secret(&secret).await) })
        })
        .collect();
    for write in writes {
        let (index, result) = write.await.unwrap();
        assert_eq!(result.is_err(), index % 4 == 0, "write {index}: {result:?}");
    }
    for index in (0..=60).filter(|index| index % 4 != 0 || *index == 0) {
        assert_eq!(
            store
                .find_secret("download_token", &format!("h{index}"), NOW)
                .await
                .unwrap(),
            Some(format!("certificate-{index}")),
            "secret {index}"
        );
    }
}

async fn failed_savepoint_leaves_concurrent_writes_standing(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    let record = |index: u32, entry: u32| CertificateRecord {
        status_entry: Some(StatusEntry {
            list: 1,
            index: entry,
        }),
        ..certificate(
            &format!("00000000-0000-7000-8000-{index:012}"),
            "client-a",
            "personbevis",
        )
    };
    let key = |index: u32| Idempotency {
        key: format!("key-{index}"),
        request_hash: format!("request-{index}"),
    };
    store.create_certificate(&record(0, 0), None).await.unwrap();
    // Each create claims its idempotency key and inserts the certificate in one savepoint. Every
    // fourth takes the first certificate's status entry, so its insert fails after its claim.
    let creates: Vec<_> = (1..=40)
        .map(|index| {
            let store = Arc::clone(&store);
            let entry = if index % 4 == 0 { 0 } else { index };
            tokio::spawn(async move {
                let result = store
                    .create_certificate(&record(index, entry), Some(&key(index)))
                    .await;
                (index, result)
            })
        })
        .collect();
    for create in creates {
        let (index, result) = create.await.unwrap();
        if index % 4 == 0 {
            assert!(
                matches!(
                    result,
                    Err(StoreError::StatusEntryTaken { list: 1, index: 0 })
                ),
                "create {index}: {result:?}"
            );
        } else {
            assert!(
                matches!(result, Ok(CreateOutcome::Created(_))),
                "create {index}: {result:?}"
            );
        }
    }

    // The failed creates' claims were rolled back with their savepoint, so a retry with the same
    // key and a free entry creates the certificate.
    for index in (4..=40).step_by(4) {
        let retried = store
            .create_certificate(&record(index, 1000 + index), Some(&key(index)))
            .await
            .unwrap();
        assert!(
            matches!(retried, CreateOutcome::Created(_)),
            "retry {index}: {retried:?}"
        );
    }
    for index in 0..=40 {
        let id = format!("00000000-0000-7000-8000-{index:012}");
        assert!(
            store.certificate_by_id(&id).await.unwrap().is_some(),
            "certificate {index} missing"
        );
    }
}

async fn access_token_found_until_expiry(store: Arc<dyn Store>) {
    let token = AccessTokenRecord {
        hash: "t1".into(),
        certificate_id: "certificate-1".into(),
        client_id: None,
        dpop_jkt: Some("thumbprint".into()),
        credential_identifiers: Some(vec!["personbevis.dc+sd-jwt".into()]),
        expires_at: NOW + 300,
    };
    store.put_access_token(&token).await.unwrap();
    assert_eq!(
        store.access_token("t1", NOW).await.unwrap(),
        Some(token.clone())
    );
    assert_eq!(store.access_token("t1", NOW).await.unwrap(), Some(token));
    assert_eq!(store.access_token("t1", NOW + 300).await.unwrap(), None);
    assert_eq!(store.access_token("t2", NOW).await.unwrap(), None);
}

async fn pending_certificate_approved_once(store: Arc<dyn Store>) {
    with_clients(store.as_ref()).await;
    let mut record = certificate(
        "00000000-0000-7000-8000-000000000001",
        "client-a",
        "personbevis",
    );
    record.status = Status::Pending;
    store.create_certificate(&record, None).await.unwrap();
    assert_eq!(
        store
            .certificate_by_id(&record.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        Status::Pending
    );
    assert!(store
        .approve_certificate("client-b", &record.id, NOW + 1, "client-b")
        .await
        .unwrap()
        .is_none());
    let approved = store
        .approve_certificate("client-a", &record.id, NOW + 1, "client-a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(approved.status, Status::Active);
    store
        .approve_certificate("client-a", &record.id, NOW + 2, "client-a")
        .await
        .unwrap();
    let approvals = store
        .audit_events(&record.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event.action == "certificate.approved")
        .count();
    assert_eq!(approvals, 1);
}

async fn deferred_credential_taken_once(store: Arc<dyn Store>) {
    let deferred = DeferredCredential {
        transaction_hash: "x1".into(),
        certificate_id: "certificate-1".into(),
        credential_configuration: "personbevis.dc+sd-jwt".into(),
        holder_jwks: "[]".into(),
        expires_at: NOW + 300,
    };
    store.put_deferred_credential(&deferred).await.unwrap();
    assert_eq!(
        store.deferred_credential("x1", NOW).await.unwrap(),
        Some(deferred.clone())
    );
    assert_eq!(
        store.take_deferred_credential("x1", NOW).await.unwrap(),
        Some(deferred)
    );
    assert_eq!(
        store.take_deferred_credential("x1", NOW).await.unwrap(),
        None
    );
}

async fn audit_event_recorded(store: Arc<dyn Store>) {
    let event = AuditEvent {
        at: NOW,
        actor: "wallet".into(),
        action: "wallet.credential_accepted".into(),
        certificate_id: Some("certificate-1".into()),
        detail: None,
    };
    store.record_audit(&event).await.unwrap();
    assert_eq!(
        store.audit_events("certificate-1").await.unwrap(),
        vec![event]
    );
}

macro_rules! contract {
    ($backend:ident, $open:ident, [$($case:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    if let Some((store, _dir)) = super::$open().await {
                        super::$case(store).await;
                    }
                }
            )*
        }
    };
}

contract!(
    sqlite,
    open_sqlite,
    [
        clients_found_by_key_hash,
        certificate_visible_only_to_owner,
        idempotency_replays_and_conflicts,
        listing_filters_and_pages,
        revocation_recorded_once,
        retention_deletes_data_keeps_record,
        secret_consumed_once,
        reusable_secret_found_until_expiry,
        certificate_found_by_id_alone,
        concurrent_consumers_one_wins,
        status_entry_taken_once,
        suspension_and_reinstatement,
        secrets_deleted_by_subject,
        pass_registrations_follow_certificate_changes,
        ping_answers,
        offer_stored_and_found,
        pre_authorized_code_redeemed_once,
        suspended_certificate_code_kept,
        tx_code_attempts_lock_offer,
        right_tx_code_redeems,
        concurrent_redemptions_one_wins,
        secret_put_once,
        failed_write_leaves_concurrent_writes_standing,
        failed_savepoint_leaves_concurrent_writes_standing,
        access_token_found_until_expiry,
        pending_certificate_approved_once,
        deferred_credential_taken_once,
        audit_event_recorded,
    ]
);

contract!(
    postgres,
    open_postgres,
    [
        clients_found_by_key_hash,
        certificate_visible_only_to_owner,
        idempotency_replays_and_conflicts,
        listing_filters_and_pages,
        revocation_recorded_once,
        retention_deletes_data_keeps_record,
        secret_consumed_once,
        reusable_secret_found_until_expiry,
        certificate_found_by_id_alone,
        concurrent_consumers_one_wins,
        status_entry_taken_once,
        suspension_and_reinstatement,
        secrets_deleted_by_subject,
        pass_registrations_follow_certificate_changes,
        ping_answers,
        offer_stored_and_found,
        pre_authorized_code_redeemed_once,
        suspended_certificate_code_kept,
        tx_code_attempts_lock_offer,
        right_tx_code_redeems,
        concurrent_redemptions_one_wins,
        secret_put_once,
        failed_write_leaves_concurrent_writes_standing,
        failed_savepoint_leaves_concurrent_writes_standing,
        access_token_found_until_expiry,
        pending_certificate_approved_once,
        deferred_credential_taken_once,
        audit_event_recorded,
    ]
);
