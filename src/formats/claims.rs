//! The certificate's claims as rows of a table, labelled and ordered by the type's claim display
//! rules (`claims` in `type.json`). Claims without a rule are shown under their own name, so no
//! claim is left out.

use serde_json::{Map, Value};

use crate::certificate::{CertificateType, ClaimRule};

/// A label in Swedish and English. The English is empty for a claim without a display rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Label {
    pub sv: String,
    pub en: String,
}

impl Label {
    pub fn new(sv: &str, en: &str) -> Self {
        Self {
            sv: sv.to_owned(),
            en: en.to_owned(),
        }
    }
}

/// One row of the claims table: a heading for an object or array element, or a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub label: Label,
    /// The value as text; `None` for a heading.
    pub value: Option<String>,
    /// Nesting depth: 0 for top-level claims.
    pub depth: usize,
}

/// Builds the rows of `claims`: top-level claims in the order of their rules, then the rest in
/// their own order, with nested members indented below a heading.
pub(crate) fn rows(certificate_type: &CertificateType, claims: &Map<String, Value>) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut path = Vec::new();
    push_members(certificate_type, &mut path, claims, 0, &mut rows);
    rows
}

/// Returns the label of the claim at `path` from its display rule, or `name` when it has none.
pub(crate) fn label(
    certificate_type: &CertificateType,
    path: &[Option<&str>],
    name: &str,
) -> Label {
    match rule(certificate_type, path) {
        Some(rule) => Label {
            sv: display_name(rule, "sv").unwrap_or(name).to_owned(),
            en: display_name(rule, "en").unwrap_or_default().to_owned(),
        },
        None => Label::new(name, ""),
    }
}

/// Formats a scalar claim value: strings as they are, other values as JSON.
pub(crate) fn format_value(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "–".into(),
        other => other.to_string(),
    }
}

fn push_members<'a>(
    certificate_type: &CertificateType,
    path: &mut Vec<Option<&'a str>>,
    object: &'a Map<String, Value>,
    depth: usize,
    rows: &mut Vec<Row>,
) {
    for (name, value) in ordered_members(certificate_type, path, object) {
        path.push(Some(name));
        let label = label(certificate_type, path, name);
        push_value(certificate_type, path, label, value, depth, rows);
        path.pop();
    }
}

fn push_value<'a>(
    certificate_type: &CertificateType,
    path: &mut Vec<Option<&'a str>>,
    label: Label,
    value: &'a Value,
    depth: usize,
    rows: &mut Vec<Row>,
) {
    match value {
        Value::Object(members) => {
            rows.push(Row {
                label,
                value: None,
                depth,
            });
            push_members(certificate_type, path, members, depth + 1, rows);
        }
        Value::Array(elements) => {
            path.push(None);
            for (index, element) in elements.iter().enumerate() {
                // Number the elements only when there are several.
                let label = if elements.len() > 1 {
                    Label {
                        sv: format!("{} {}", label.sv, index + 1),
                        en: if label.en.is_empty() {
                            String::new()
                        } else {
                            format!("{} {}", label.en, index + 1)
                        },
                    }
                } else {
                    label.clone()
                };
                match element {
                    Value::Object(_) => {
                        push_value(certificate_type, path, label, element, depth, rows)
                    }
                    other => rows.push(Row {
                        label,
                        value: Some(format_value(other)),
                        depth,
                    }),
                }
            }
            path.pop();
        }
        scalar => rows.push(Row {
            label,
            value: Some(format_value(scalar)),
            depth,
        }),
    }
}

/// Orders the members of the object at `path`: those with a display rule in rule order, then
/// the others in their order in the claims.
fn ordered_members<'a>(
    certificate_type: &CertificateType,
    path: &[Option<&str>],
    object: &'a Map<String, Value>,
) -> Vec<(&'a str, &'a Value)> {
    let mut ordered: Vec<(&str, &Value)> = certificate_type
        .claims
        .iter()
        .filter(|rule| rule.path.len() == path.len() + 1 && path_matches(&rule.path, path))
        .filter_map(|rule| rule.path.last()?.as_deref())
        .filter_map(|name| object.get_key_value(name))
        .map(|(name, value)| (name.as_str(), value))
        .collect();
    for (name, value) in object {
        if !ordered.iter().any(|(seen, _)| *seen == name) {
            ordered.push((name, value));
        }
    }
    ordered
}

fn rule<'r>(certificate_type: &'r CertificateType, path: &[Option<&str>]) -> Option<&'r ClaimRule> {
    certificate_type
        .claims
        .iter()
        .find(|rule| rule.path.len() == path.len() && path_matches(&rule.path, path))
}

/// Returns whether `rule_path` starts with `path`, where `None` stands for an array element.
fn path_matches(rule_path: &[Option<String>], path: &[Option<&str>]) -> bool {
    rule_path
        .iter()
        .zip(path)
        .all(|(expected, actual)| expected.as_deref() == *actual)
}

fn display_name<'r>(rule: &'r ClaimRule, locale: &str) -> Option<&'r str> {
    rule.display
        .iter()
        .find(|display| display.locale == locale)
        .map(|display| display.name.as_str())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::formats::test_support::certificate_type;

    fn covid_certificate() -> CertificateType {
        certificate_type("covid-certificate")
    }

    #[test]
    fn rows_follow_rules() {
        let claims = json!({
            "dob": "1958-11-11",
            "nam": {"gn": "Oscar", "fn": "Lövström"},
            "ver": "1.3.0",
            "extra": 7
        });
        let rows = rows(&covid_certificate(), claims.as_object().unwrap());
        let labels: Vec<&str> = rows.iter().map(|row| row.label.sv.as_str()).collect();
        assert_eq!(
            labels,
            [
                "Schemaversion",
                "Namn",
                "Efternamn",
                "Förnamn",
                "Födelsedatum",
                "extra"
            ]
        );
        assert_eq!(rows[1].value, None);
        assert_eq!(rows[2].depth, 1);
        assert_eq!(rows[2].value.as_deref(), Some("Lövström"));
        assert_eq!(rows[5].value.as_deref(), Some("7"));
    }

    #[test]
    fn array_elements_use_element_rules() {
        let claims = json!({"v": [{"dn": 2, "tg": "840539006"}]});
        let rows = rows(&covid_certificate(), claims.as_object().unwrap());
        assert_eq!(rows[0].label, Label::new("Vaccination", "Vaccination"));
        assert_eq!(rows[0].value, None);
        assert_eq!(rows[1].label.en, "Disease or agent targeted");
        assert_eq!(rows[1].depth, 1);
        assert_eq!(rows[2].label.en, "Dose number");
        assert_eq!(rows[2].value.as_deref(), Some("2"));
    }
}
