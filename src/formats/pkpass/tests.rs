use std::io::Read;
use std::path::Path;

use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::*;
use crate::certificate::CertificateType;
use crate::formats::test_support::{certificate_type, development_key, personbevis_claims};

fn pass_key() -> PassSigningKey {
    let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys-example");
    PassSigningKey::load(
        &keys.join("pass-type-id.crt.pem"),
        &keys.join("pass-type-id.key.pem"),
        &keys.join("apple-wwdr.crt.pem"),
        None,
        None,
    )
    .unwrap()
}

fn issuance<'a>(
    certificate_type: &'a CertificateType,
    claims: &'a Map<String, Value>,
) -> Issuance<'a> {
    let issued_at = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
    Issuance {
        certificate_type,
        claims,
        issuer: "https://intyg.example.se",
        certificate_id: "0193a8e4-0000-7000-8000-000000000001",
        issued_at,
        valid_from: issued_at,
        valid_until: issued_at + Duration::days(90),
        holder_jwk: None,
        status: None,
    }
}

fn read_entry(pass: &[u8], name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(pass)).unwrap();
    let mut entry = archive.by_name(name).unwrap();
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).unwrap();
    bytes
}

const OPTIONS: PassOptions<'static> = PassOptions {
    organization_name: "Skatteverket",
    web_service: Some(WebService {
        url: "https://intyg.example.se/passkit",
        authentication_token: "abcdefghijklmnopqrstuvwxyz012345",
    }),
    state: PassState::Valid,
};

#[test]
fn front_fields_follow_the_pass_rules() {
    let personbevis = certificate_type("personbevis");
    let claims = personbevis_claims();
    let fields = front(&issuance(&personbevis, &claims));
    let shown: Vec<(&str, &str, &str)> = fields
        .iter()
        .map(|field| {
            (
                field.label.sv.as_str(),
                field.label.en.as_str(),
                field.value.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("Efternamn", "Family name", "Öberg"),
            ("Förnamn", "Given name", "Åsa"),
            ("Personnummer", "Personal identity number", "198112289874"),
            ("Utdragsdatum", "Date of extract", "2026-12-04"),
        ]
    );
}

#[test]
fn nested_back_labels_name_their_heading() {
    let personbevis = certificate_type("personbevis");
    let claims = personbevis_claims();
    let rows = back_rows(&issuance(&personbevis, &claims));
    let street = rows
        .iter()
        .find(|(_, value)| value == "Storgatan 1")
        .unwrap();
    assert_eq!(street.0.sv, "Folkbokföringsadress – Gatuadress");
    assert_eq!(street.0.en, "Registered address – Street address");
}

#[test]
fn pass_json_carries_the_certificate() {
    let personbevis = certificate_type("personbevis");
    let claims = personbevis_claims();
    let pass = build(
        &issuance(&personbevis, &claims),
        Some("INTYG1:TEST"),
        &pass_key(),
        &OPTIONS,
    )
    .unwrap();
    let json: Value = serde_json::from_slice(&read_entry(&pass, "pass.json")).unwrap();
    assert_eq!(json["serialNumber"], "0193a8e4-0000-7000-8000-000000000001");
    assert_eq!(json["passTypeIdentifier"], "pass.se.intyg.development");
    assert_eq!(json["teamIdentifier"], "INTYGDEV01");
    assert_eq!(json["barcodes"][0]["message"], "INTYG1:TEST");
    assert_eq!(json["barcodes"][0]["format"], "PKBarcodeFormatQR");
    assert_eq!(json["expirationDate"], "2027-02-28T00:53:20Z");
    assert_eq!(json["webServiceURL"], "https://intyg.example.se/passkit");
    assert_eq!(json["voided"], false);
    assert_eq!(json["backgroundColor"], "rgb(0, 62, 114)");
}

#[test]
fn voided_pass_has_no_barcode() {
    let personbevis = certificate_type("personbevis");
    let claims = personbevis_claims();
    let options = PassOptions {
        state: PassState::Revoked,
        ..OPTIONS
    };
    let pass = issue(
        &issuance(&personbevis, &claims),
        &development_key(),
        &pass_key(),
        &options,
    )
    .unwrap();
    let json: Value = serde_json::from_slice(&read_entry(&pass, "pass.json")).unwrap();
    assert_eq!(json["voided"], true);
    assert!(json.get("barcodes").is_none());
    let english = String::from_utf8(read_entry(&pass, "en.lproj/pass.strings")).unwrap();
    assert!(
        english.contains("\"status.revoked\" = \"Revoked\";"),
        "{english}"
    );
}

#[test]
fn short_authentication_token_rejected() {
    let personbevis = certificate_type("personbevis");
    let claims = personbevis_claims();
    let options = PassOptions {
        web_service: Some(WebService {
            url: "https://intyg.example.se/passkit",
            authentication_token: "short",
        }),
        ..OPTIONS
    };
    let error = build(
        &issuance(&personbevis, &claims),
        None,
        &pass_key(),
        &options,
    )
    .unwrap_err();
    assert!(error.to_string().contains("at least 16"), "{error}");
}

#[test]
fn strings_values_are_escaped() {
    let file = strings_file(vec![("key".into(), "say \"hej\"\\ny rad\nåäö".into())]);
    assert_eq!(file, "\"key\" = \"say \\\"hej\\\"\\\\ny rad\\nåäö\";\n");
}

#[test]
fn claims_at_keeps_places_and_order() {
    let claims = serde_json::json!({
        "nam": {"fn": "Lövström", "gn": "Oscar", "fnt": "LOEVSTROEM"},
        "v": [{"dt": "2021-01-01", "co": "SE"}, {"dt": "2021-02-01", "co": "NO"}],
        "ver": "1.3.0"
    });
    let paths: Vec<Vec<String>> = [
        vec!["nam", "gn"],
        vec!["v", "1", "co"],
        vec!["nam", "fn"],
        vec!["v", "0", "dt"],
        vec!["missing"],
        vec!["nam"],
    ]
    .into_iter()
    .map(|path| path.into_iter().map(str::to_owned).collect())
    .collect();
    let selected = claims_at(claims.as_object().unwrap(), paths.iter());
    assert_eq!(
        Value::Object(selected),
        serde_json::json!({
            "nam": {"fn": "Lövström", "gn": "Oscar"},
            "v": [{"dt": "2021-01-01"}, {"co": "NO"}]
        })
    );
}
