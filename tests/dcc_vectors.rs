//! The EU DCC test vectors for Sweden through `intyg verify`. Each payload verifies at its
//! validation clock with its signer certificate as the only trust anchor, decodes to its JSON,
//! and meets every expected result. Altered payloads are rejected, each with its own error code.

mod pdf_channel;

use std::io::Write;

use ciborium::Value as Cbor;
use coset::TaggedCborSerializable;
use flate2::write::ZlibEncoder;
use flate2::Compression;
use intyg::certificate::CertificateType;
use intyg::formats::base45;
use intyg::formats::hcert::DCC_PREFIX;
use intyg::verify::{cbor_to_json, DecodedHcert};
use serde_json::Value;

use pdf_channel::{error_codes, intyg, vectors, verify_json, Vector};

#[test]
fn vectors_verify_with_cli() {
    let dir = tempfile::tempdir().unwrap();
    for vector in vectors() {
        let trust = vector.write_signer_pem(dir.path());
        let (report, exit) = verify_json(vector.payload(), &trust, Some(vector.validation_clock()));
        assert_eq!(exit, 0, "{}: {report}", vector.name);
        assert_eq!(report["valid"], true, "{}: {report}", vector.name);
        assert_eq!(report["format"], "hcert", "{}", vector.name);
        assert_eq!(&report["claims"], vector.claims(), "{}", vector.name);
        assert_eq!(report["metadata"]["issuer"], "SE", "{}", vector.name);
    }
}

#[test]
fn vectors_meet_expected_results() {
    let dir = tempfile::tempdir().unwrap();
    let schema =
        CertificateType::load(&pdf_channel::crate_root().join("schemas/covid-certificate"))
            .unwrap();
    for vector in vectors() {
        let trust = vector.write_signer_pem(dir.path());
        let (report, _) = verify_json(vector.payload(), &trust, Some(vector.validation_clock()));
        let codes = error_codes(&report);
        let expected = vector.document["EXPECTEDRESULTS"].as_object().unwrap();
        assert!(!expected.is_empty(), "{}: no expected results", vector.name);

        for (key, expected) in expected {
            let expected = expected.as_bool().unwrap();
            let outcome = match key.as_str() {
                // The payload is the prefix HC1: followed by the Base45 text.
                "EXPECTEDUNPREFIX" => {
                    vector.payload().strip_prefix(DCC_PREFIX) == Some(vector.field("BASE45"))
                }
                // Base45 decodes to the zlib stream.
                "EXPECTEDB45DECODE" => {
                    base45::decode(vector.field("BASE45")).ok() == Some(vector.hex("COMPRESSED"))
                }
                // The zlib stream decompresses to the COSE_Sign1 structure.
                "EXPECTEDCOMPRESSION" => DecodedHcert::decode(vector.payload())
                    .is_ok_and(|decoded| decoded.cose == vector.hex("COSE")),
                // The COSE payload decodes as CBOR, and its DCC equals the vector's CBOR. The two
                // order their map keys differently, so they are compared as JSON.
                "EXPECTEDDECODE" => {
                    let expected: Cbor =
                        ciborium::from_reader(vector.hex("CBOR").as_slice()).unwrap();
                    let expected = cbor_to_json(&expected).unwrap();
                    DecodedHcert::decode(vector.payload()).is_ok_and(|decoded| {
                        dcc_of(&decoded).and_then(|dcc| cbor_to_json(dcc).ok()) == Some(expected)
                    })
                }
                // The decoded certificate is the vector's JSON.
                "EXPECTEDVALIDJSON" => &report["claims"] == vector.claims(),
                // The signature verifies with the signer certificate.
                "EXPECTEDVERIFY" => {
                    report["valid"] == true
                        && !codes
                            .iter()
                            .any(|code| code == "signature_invalid" || code == "unknown_kid")
                }
                // At the validation clock the payload has not expired.
                "EXPECTEDEXPIRATIONCHECK" => !codes.iter().any(|code| code == "expired"),
                // The decoded certificate matches the covid-certificate schema.
                "EXPECTEDSCHEMAVALIDATION" => schema.validate(&report["claims"]).is_ok(),
                // The PNG of the QR code decodes to the payload.
                "EXPECTEDPICTUREDECODE" => {
                    read_qr_png(&vector.picture()).as_deref() == Some(vector.payload())
                }
                other => panic!("{}: unknown expected result {other}", vector.name),
            };
            assert_eq!(outcome, expected, "{}: {key}", vector.name);
        }
    }
}

#[test]
fn other_key_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let generated = intyg(
        &["keys", "generate", "--out", keys.to_str().unwrap()],
        "",
        &[],
    );
    assert!(generated.status.success(), "{generated:?}");

    let vector = &vectors()[0];
    let issued = intyg(
        &["issue", "--type", "covid-certificate", "--format", "hcert"],
        &vector.claims().to_string(),
        &[
            ("INTYG_SIGNING_KEY", &keys.join("issuer-signing.key.pem")),
            (
                "INTYG_SIGNING_CHAIN",
                &keys.join("issuer-signing.chain.pem"),
            ),
        ],
    );
    assert!(issued.status.success(), "{issued:?}");
    let payload = String::from_utf8(issued.stdout).unwrap();

    let trust = vector.write_signer_pem(dir.path());
    let (report, exit) = verify_json(payload.trim(), &trust, None);
    assert_eq!(exit, 1, "{report}");
    assert_eq!(error_codes(&report), ["unknown_kid"]);
}

#[test]
fn tampered_payload_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let vector = &vectors()[0];
    let tampered = rewrite_payload(vector, |payload| {
        let at = payload
            .windows(5)
            .position(|window| window == b"Oscar")
            .expect("the vector names Oscar");
        payload[at + 4] = b's';
    });

    let trust = vector.write_signer_pem(dir.path());
    let (report, exit) = verify_json(&tampered, &trust, Some(vector.validation_clock()));
    assert_eq!(exit, 1, "{report}");
    assert_eq!(error_codes(&report), ["signature_invalid"]);
    assert_eq!(report["claims"]["nam"]["gn"], "Oscas");
}

#[test]
fn expired_payload_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let vector = &vectors()[0];
    let trust = vector.write_signer_pem(dir.path());
    // After the payload's expiry (2021-09-13) and before the signer's (2023-05-12).
    let (report, exit) = verify_json(vector.payload(), &trust, Some("2022-06-01T00:00:00Z"));
    assert_eq!(exit, 1, "{report}");
    assert_eq!(error_codes(&report), ["expired"]);
}

#[test]
fn expired_signer_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let vector = &vectors()[0];
    let trust = vector.write_signer_pem(dir.path());
    let (report, exit) = verify_json(vector.payload(), &trust, Some("2024-01-01T00:00:00Z"));
    assert_eq!(exit, 1, "{report}");
    assert!(
        error_codes(&report).contains(&"signer_not_valid".to_owned()),
        "{report}"
    );
}

#[test]
fn malformed_payload_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let vector = &vectors()[0];
    let trust = vector.write_signer_pem(dir.path());
    let truncated = &vector.payload()[..vector.payload().len() - 30];
    let (report, exit) = verify_json(truncated, &trust, Some(vector.validation_clock()));
    assert_eq!(exit, 1, "{report}");
    assert_eq!(error_codes(&report), ["malformed"]);
}

/// Returns the DCC of a decoded HCERT: claim -260, key 1.
fn dcc_of(decoded: &DecodedHcert) -> Option<&Cbor> {
    let Cbor::Map(hcert) = decoded.claim(&Cbor::from(-260))? else {
        return None;
    };
    hcert
        .iter()
        .find(|(key, _)| *key == Cbor::from(1))
        .map(|(_, dcc)| dcc)
}

/// Re-encodes a vector's payload after `change` edits its COSE payload, keeping the signature.
fn rewrite_payload(vector: &Vector, change: impl FnOnce(&mut Vec<u8>)) -> String {
    let decoded = DecodedHcert::decode(vector.payload()).unwrap();
    let mut sign1 = decoded.sign1;
    change(sign1.payload.as_mut().unwrap());
    let cose = sign1.to_tagged_vec().unwrap();
    let mut compressor = ZlibEncoder::new(Vec::new(), Compression::default());
    compressor.write_all(&cose).unwrap();
    format!(
        "{DCC_PREFIX}{}",
        base45::encode(&compressor.finish().unwrap())
    )
}

/// Decodes the QR code in a PNG with rqrr, a decoder independent of intyg.
fn read_qr_png(png_bytes: &[u8]) -> Option<String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().ok()?;
    let mut pixels = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut pixels).ok()?;
    let channels = frame.color_type.samples();
    let width = frame.width as usize;
    let grey = |x: usize, y: usize| -> u8 {
        let at = (y * width + x) * channels;
        match channels {
            1 | 2 => pixels[at],
            _ => {
                let sum =
                    u16::from(pixels[at]) + u16::from(pixels[at + 1]) + u16::from(pixels[at + 2]);
                (sum / 3) as u8
            }
        }
    };
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, frame.height as usize, grey);
    let grids = image.detect_grids();
    let (_, content) = grids.first()?.decode().ok()?;
    Some(content)
}

#[test]
fn schema_rejects_broken_claims() {
    // The schema check above can fail: a DCC without its name does not validate.
    let schema =
        CertificateType::load(&pdf_channel::crate_root().join("schemas/covid-certificate"))
            .unwrap();
    let mut claims: Value = vectors()[0].claims().clone();
    claims.as_object_mut().unwrap().remove("nam");
    assert!(schema.validate(&claims).is_err());
}
