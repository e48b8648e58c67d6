use std::path::Path;

use serde_json::json;

use super::TypeRegistry;

fn registry() -> TypeRegistry {
    TypeRegistry::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")).unwrap()
}

fn dcc_vaccination() -> serde_json::Value {
    json!({
        "ver": "1.3.0",
        "nam": { "fn": "Lövström", "fnt": "LOEVSTROEM", "gn": "Oscar", "gnt": "OSCAR" },
        "dob": "1958-11-11",
        "v": [{ "tg": "840539006", "vp": "J07BX03", "mp": "EU/1/21/1529", "ma": "ORG-100030215",
                "dn": 2, "sd": 2, "dt": "2021-05-18", "co": "SE", "is": "Swedish eHealth Agency",
                "ci": "URN:UVCI:01:SE:EHM/V100000024GI5HM" }]
    })
}

#[test]
fn shipped_types_load() {
    let registry = registry();
    let ids: Vec<&str> = registry.iter().map(|t| t.id.as_str()).collect();
    assert!(ids.contains(&"covid-certificate"), "{ids:?}");
    assert!(ids.contains(&"personbevis"), "{ids:?}");
}

#[test]
fn dcc_vaccination_accepted() {
    let covid = registry().get("covid-certificate").unwrap();
    assert_eq!(covid.validate(&dcc_vaccination()), Ok(()));
}

#[test]
fn schema_violation_names_pointer_and_rule() {
    let covid = registry().get("covid-certificate").unwrap();
    let mut claims = dcc_vaccination();
    claims["v"][0]["dn"] = json!(12);
    let error = covid.validate(&claims).unwrap_err();
    assert_eq!(error.violations.len(), 1);
    assert_eq!(error.violations[0].pointer, "/v/0/dn");
    assert!(
        error.violations[0].message.contains("maximum of 9"),
        "{}",
        error.violations[0].message
    );
    assert!(error.to_string().contains("/v/0/dn"), "{error}");
}

#[test]
fn unknown_field_rejected() {
    let covid = registry().get("covid-certificate").unwrap();
    let mut claims = dcc_vaccination();
    claims["nickname"] = json!("Ogge");
    let error = covid.validate(&claims).unwrap_err();
    assert_eq!(error.violations[0].pointer, "");
    assert!(
        error.violations[0].message.contains("nickname"),
        "{}",
        error.violations[0].message
    );
}

#[test]
fn two_entry_kinds_rejected() {
    let covid = registry().get("covid-certificate").unwrap();
    let mut claims = dcc_vaccination();
    claims["r"] = json!([{ "tg": "840539006", "fr": "2021-06-04", "co": "SE", "is": "Swedish eHealth Agency",
                           "df": "2021-06-15", "du": "2021-09-13", "ci": "URN:UVCI:01:SE:EHM/R987765321" }]);
    assert!(covid.validate(&claims).is_err());
}

#[test]
fn bad_date_rejected_with_pointer() {
    let covid = registry().get("covid-certificate").unwrap();
    let mut claims = dcc_vaccination();
    claims["dob"] = json!("11/11/1958");
    let error = covid.validate(&claims).unwrap_err();
    assert_eq!(error.violations[0].pointer, "/dob");
    assert!(
        error.violations[0].message.contains("does not match"),
        "{}",
        error.violations[0].message
    );
}

#[test]
fn personal_identity_number_pattern_enforced() {
    let personbevis = registry().get("personbevis").unwrap();
    let claims = json!({
        "given_name": "Åsa", "family_name": "Öberg", "personal_identity_number": "640823-3234",
        "birthdate": "1964-08-23",
        "address": { "street_address": "Storgatan 1", "postal_code": "111 22", "locality": "Stockholm" },
        "county": { "code": "01", "name": "Stockholms län" },
        "municipality": { "code": "0180", "name": "Stockholm" },
        "extract_date": "2026-12-01"
    });
    let error = personbevis.validate(&claims).unwrap_err();
    assert_eq!(error.violations[0].pointer, "/personal_identity_number");
}

#[test]
fn unknown_type_lists_known_types() {
    let error = registry().get("passport").unwrap_err();
    let message = error.to_string();
    assert!(message.contains("\"passport\""), "{message}");
    assert!(message.contains("covid-certificate"), "{message}");
}

#[test]
fn disclosable_paths_follow_rules() {
    let covid = registry().get("covid-certificate").unwrap();
    assert!(covid.is_disclosable(&[Some("nam")]));
    assert!(!covid.is_disclosable(&[Some("ver")]));
    assert!(!covid.is_disclosable(&[Some("nam"), Some("fn")]));
}
