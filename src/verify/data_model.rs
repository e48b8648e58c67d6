//! Strict checks of the W3C Verifiable Credentials Data Model 2.0 (VCDM 2.0, section 4) for
//! credentials that arrive from outside, as the VC-API endpoints receive them. Each violation
//! names its member by JSON pointer.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::certificate::FieldError;
use crate::formats::vc_jwt::VCDM2_CONTEXT;

/// Checks `credential` against the data model and returns every violation, with pointers under
/// `base` (such as `/credential`).
pub fn check_credential(credential: &Value, base: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut fail = |member: &str, detail: &str| {
        errors.push(FieldError {
            pointer: format!("{base}{member}"),
            detail: detail.to_owned(),
        })
    };
    let Some(credential) = credential.as_object() else {
        fail("", "the credential must be a JSON object");
        return errors;
    };

    let contexts = credential.get("@context").and_then(Value::as_array);
    match contexts {
        Some(contexts) if contexts.first().and_then(Value::as_str) == Some(VCDM2_CONTEXT) => {
            for (index, context) in contexts.iter().enumerate() {
                let valid = context.is_object() || context.as_str().is_some_and(is_url);
                if !valid {
                    fail(
                        &format!("/@context/{index}"),
                        "a context is a URL or an object",
                    );
                }
            }
        }
        _ => fail(
            "/@context",
            &format!("@context must be an array whose first item is {VCDM2_CONTEXT}"),
        ),
    }

    match types(credential.get("type")) {
        Some(types) if types.contains(&"VerifiableCredential") => {}
        Some(_) => fail("/type", "type must include VerifiableCredential"),
        None => fail(
            "/type",
            "type is missing, or is not a string or an array of strings",
        ),
    }
    if let Some(id) = credential.get("id") {
        if !id.as_str().is_some_and(is_url) {
            fail("/id", "id must be a URL");
        }
    }

    match credential.get("issuer") {
        Some(Value::String(issuer)) if is_url(issuer) => {}
        Some(Value::Object(issuer))
            if issuer.get("id").and_then(Value::as_str).is_some_and(is_url) => {}
        Some(Value::Object(_)) => fail("/issuer/id", "the issuer object needs a URL in id"),
        Some(_) => fail("/issuer", "issuer must be a URL or an object with a URL id"),
        None => fail("/issuer", "issuer is missing"),
    }

    match credential.get("credentialSubject") {
        Some(Value::Object(subject)) if !subject.is_empty() => {}
        Some(Value::Array(subjects)) if !subjects.is_empty() => {
            for (index, subject) in subjects.iter().enumerate() {
                if subject.as_object().is_none_or(Map::is_empty) {
                    fail(
                        &format!("/credentialSubject/{index}"),
                        "each credential subject must be a non-empty object",
                    );
                }
            }
        }
        Some(_) => fail(
            "/credentialSubject",
            "credentialSubject must be a non-empty object or a non-empty array of them",
        ),
        None => fail("/credentialSubject", "credentialSubject is missing"),
    }

    let valid_from = date_time(credential, "validFrom", &mut fail);
    let valid_until = date_time(credential, "validUntil", &mut fail);
    if let (Some(from), Some(until)) = (valid_from, valid_until) {
        if from > until {
            fail("/validUntil", "validUntil is before validFrom");
        }
    }

    check_entries(credential, "credentialStatus", &["type"], &mut fail);
    check_entries(credential, "credentialSchema", &["id", "type"], &mut fail);
    for member in ["evidence", "termsOfUse", "refreshService"] {
        check_entries(credential, member, &["type"], &mut fail);
    }
    errors
}

/// Returns the `type` values when `value` is a string or an array of strings.
fn types(value: Option<&Value>) -> Option<Vec<&str>> {
    match value? {
        Value::String(single) => Some(vec![single.as_str()]),
        Value::Array(entries) if !entries.is_empty() => entries.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// Parses a date-time member, which must be an XML Schema `dateTimeStamp`: an RFC 3339
/// date-time with a time zone.
fn date_time(
    credential: &Map<String, Value>,
    name: &str,
    fail: &mut impl FnMut(&str, &str),
) -> Option<OffsetDateTime> {
    let value = credential.get(name)?;
    let parsed = value
        .as_str()
        .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok());
    if parsed.is_none() {
        fail(
            &format!("/{name}"),
            &format!("{name} must be a date-time with a time zone, such as 2026-12-04T10:00:00Z"),
        );
    }
    parsed
}

/// Checks that each entry of an object-or-array member has `required` members, a URL `id`, and a
/// `type` that is a string or an array of strings.
fn check_entries(
    credential: &Map<String, Value>,
    name: &str,
    required: &[&str],
    fail: &mut impl FnMut(&str, &str),
) {
    let entries: Vec<(String, &Value)> = match credential.get(name) {
        None => return,
        Some(Value::Array(entries)) => entries
            .iter()
            .enumerate()
            .map(|(index, entry)| (format!("/{name}/{index}"), entry))
            .collect(),
        Some(entry) => vec![(format!("/{name}"), entry)],
    };
    for (pointer, entry) in entries {
        let Some(entry) = entry.as_object() else {
            fail(&pointer, &format!("each {name} entry must be an object"));
            continue;
        };
        for member in required {
            if !entry.contains_key(*member) {
                fail(
                    &format!("{pointer}/{member}"),
                    &format!("a {name} entry needs {member}"),
                );
            }
        }
        if let Some(id) = entry.get("id") {
            if !id.as_str().is_some_and(is_url) {
                fail(&format!("{pointer}/id"), "id must be a URL");
            }
        }
        if entry.contains_key("type") && types(entry.get("type")).is_none() {
            fail(
                &format!("{pointer}/type"),
                "type must be a string or an array of strings",
            );
        }
    }
}

/// Returns whether `text` is an absolute URL: a scheme (RFC 3986, section 3.1), a colon, and a
/// rest without white space.
pub fn is_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !text.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "@context": [VCDM2_CONTEXT, "https://www.w3.org/ns/credentials/examples/v2"],
            "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
            "type": ["VerifiableCredential", "ExampleCredential"],
            "issuer": "https://intyg.example.se",
            "validFrom": "2026-01-01T00:00:00Z",
            "validUntil": "2027-01-01T00:00:00+01:00",
            "credentialSubject": { "id": "did:example:1", "name": "Åsa" },
            "credentialSchema": { "id": "https://example.org/schema.json", "type": "JsonSchema" },
            "credentialStatus": { "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                "statusListIndex": "1", "statusListCredential": "https://example.org/status/0" }
        })
    }

    fn pointers(credential: &Value) -> Vec<String> {
        check_credential(credential, "")
            .into_iter()
            .map(|error| error.pointer)
            .collect()
    }

    #[test]
    fn valid_credential_passes() {
        assert_eq!(pointers(&valid()), Vec::<String>::new());
        let mut with_issuer_object = valid();
        with_issuer_object["issuer"] = json!({ "id": "https://intyg.example.se", "name": "x" });
        assert_eq!(pointers(&with_issuer_object), Vec::<String>::new());
    }

    #[test]
    fn each_rule_names_its_member() {
        let cases: [(&str, Value, &str); 12] = [
            (
                "@context",
                json!(["https://www.w3.org/2018/credentials/v1"]),
                "/@context",
            ),
            ("@context", json!(VCDM2_CONTEXT), "/@context"),
            ("type", json!(["ExampleCredential"]), "/type"),
            ("issuer", json!("not a url"), "/issuer"),
            ("issuer", json!({ "name": "x" }), "/issuer/id"),
            ("credentialSubject", json!({}), "/credentialSubject"),
            ("credentialSubject", json!([]), "/credentialSubject"),
            ("validFrom", json!("2026-01-01T00:00:00"), "/validFrom"),
            ("validUntil", json!("2025-01-01T00:00:00Z"), "/validUntil"),
            (
                "credentialStatus",
                json!({ "id": "https://example.org/1" }),
                "/credentialStatus/type",
            ),
            (
                "credentialSchema",
                json!([{ "type": "JsonSchema" }]),
                "/credentialSchema/0/id",
            ),
            ("id", json!("no scheme"), "/id"),
        ];
        for (member, value, pointer) in cases {
            let mut credential = valid();
            credential[member] = value;
            assert_eq!(pointers(&credential), [pointer], "{member}");
        }
        let mut credential = valid();
        credential.as_object_mut().unwrap().remove("issuer");
        assert_eq!(pointers(&credential), ["/issuer"]);
    }

    #[test]
    fn url_needs_scheme() {
        assert!(is_url("https://example.org"));
        assert!(is_url("urn:uuid:1"));
        assert!(is_url("did:example:1"));
        assert!(!is_url("example.org"));
        assert!(!is_url("1http://x"));
        assert!(!is_url("https://a b"));
        assert!(!is_url("https:"));
    }
}
