//! Apple Wallet passes (`.pkpass`): a zip of `pass.json`, the images, the Swedish and English
//! `pass.strings`, `manifest.json` with the SHA-1 of every other file, and `signature`, a detached
//! CMS signature of the manifest made with the Pass Type ID certificate.
//!
//! The pass uses the generic style. Its barcode carries the certificate's signed 2D code, the same
//! payload as in the PDF, so a verifier checks a pass with the same `intyg verify` as the PDF. The labels in
//! `pass.json` are keys that the `.lproj` folders translate, so a phone set to Swedish shows
//! Swedish and any other shows English.

mod strings;

use std::borrow::Cow;
use std::io::{Cursor, Write};

use serde_json::{json, Map, Value};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

pub use self::strings::{escape_strings_value, strings_file};
use super::claims::{self, Label};
use super::{hcert, rfc3339, FormatError, Issuance};
use crate::crypto::{PassSigningKey, Signer};

/// The media type of a pass.
pub const CONTENT_TYPE: &str = "application/vnd.apple.pkpass";

/// The shortest authentication token Apple accepts.
pub const MIN_AUTHENTICATION_TOKEN_LENGTH: usize = 16;

/// The PassKit web service of a pass and the token that authorizes its requests.
#[derive(Debug, Clone, Copy)]
pub struct WebService<'a> {
    /// The PassKit web service URL; the device appends `/v1/...`.
    pub url: &'a str,
    pub authentication_token: &'a str,
}

/// The certificate's status as its pass shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PassState {
    /// Valid: the pass carries the 2D code.
    #[default]
    Valid,
    /// Suspended: the pass shows the status and no barcode until the certificate is reinstated.
    Suspended,
    /// Revoked: the pass is voided and carries no barcode.
    Revoked,
}

/// Settings of a pass beyond the certificate itself.
#[derive(Debug, Clone, Copy)]
pub struct PassOptions<'a> {
    /// The agency's name, shown on the lock screen and in notifications.
    pub organization_name: &'a str,
    pub web_service: Option<WebService<'a>>,
    pub state: PassState,
}

/// Issues the pass of one certificate: signs its 2D code (only while the certificate is valid),
/// builds the files and signs the manifest.
pub fn issue(
    issuance: &Issuance<'_>,
    signer: &dyn Signer,
    key: &PassSigningKey,
    options: &PassOptions<'_>,
) -> Result<Vec<u8>, FormatError> {
    let payload = match options.state {
        PassState::Valid => Some(hcert::issue(issuance, signer)?),
        PassState::Suspended | PassState::Revoked => None,
    };
    build(issuance, payload.as_deref(), key, options)
}

/// Builds the pass around an already signed 2D code `payload`.
pub fn build(
    issuance: &Issuance<'_>,
    payload: Option<&str>,
    key: &PassSigningKey,
    options: &PassOptions<'_>,
) -> Result<Vec<u8>, FormatError> {
    if let Some(web_service) = options.web_service {
        if web_service.authentication_token.len() < MIN_AUTHENTICATION_TOKEN_LENGTH {
            return Err(FormatError::Encode(format!(
                "the pass authentication token has {} characters; Apple requires at least {MIN_AUTHENTICATION_TOKEN_LENGTH}",
                web_service.authentication_token.len()
            )));
        }
    }
    let texts = Texts::new(issuance, options.state);
    let pass = pass_json(issuance, payload, key, options, &texts);
    let pass_bytes = serde_json::to_vec(&pass).map_err(encode_error)?;

    // Every file is stored, not deflated: setting up a compressor for each file took longer
    // than the few kilobytes of JSON and strings it saved.
    let mut files: Vec<(&str, Cow<'_, [u8]>)> = vec![("pass.json", Cow::Owned(pass_bytes))];
    for image in &issuance.certificate_type.pass_images {
        files.push((image.name, Cow::Borrowed(&image.png)));
    }
    files.push((
        "sv.lproj/pass.strings",
        Cow::Owned(strings_file(texts.entries(Locale::Swedish)).into_bytes()),
    ));
    files.push((
        "en.lproj/pass.strings",
        Cow::Owned(strings_file(texts.entries(Locale::English)).into_bytes()),
    ));

    let manifest: Map<String, Value> = files
        .iter()
        .map(|(name, bytes)| ((*name).to_owned(), Value::String(sha1_hex(bytes))))
        .collect();
    let manifest = serde_json::to_vec(&manifest).map_err(encode_error)?;
    let signature = key.sign_manifest(&manifest)?;
    files.push(("manifest.json", Cow::Owned(manifest)));
    files.push(("signature", Cow::Owned(signature)));

    write_zip(&files)
}

/// Builds `pass.json`.
fn pass_json(
    issuance: &Issuance<'_>,
    payload: Option<&str>,
    key: &PassSigningKey,
    options: &PassOptions<'_>,
    texts: &Texts,
) -> Value {
    let display = &issuance.certificate_type.pass;
    let valid_until = rfc3339(issuance.valid_until);
    let mut header_fields = vec![json!({
        "key": "valid_until",
        "label": "field.valid_until",
        "value": valid_until,
        "dateStyle": "PKDateStyleShort",
        "timeStyle": "PKDateStyleNone",
    })];
    let status = match options.state {
        PassState::Valid => None,
        PassState::Suspended => Some("status.suspended"),
        PassState::Revoked => Some("status.revoked"),
    };
    if let Some(status) = status {
        header_fields = vec![json!({
            "key": "status",
            "label": "field.status",
            "value": status,
        })];
    }
    let mut back_fields: Vec<Value> = texts
        .back
        .iter()
        .enumerate()
        .map(|(index, (_, value))| {
            json!({ "key": format!("claim{index}"), "label": format!("claim.back.{index}"), "value": value })
        })
        .collect();
    back_fields.extend([
        json!({ "key": "valid_from", "label": "field.valid_from", "value": rfc3339(issuance.valid_from), "dateStyle": "PKDateStyleMedium", "timeStyle": "PKDateStyleShort" }),
        json!({ "key": "valid_until_back", "label": "field.valid_until", "value": valid_until, "dateStyle": "PKDateStyleMedium", "timeStyle": "PKDateStyleShort" }),
        json!({ "key": "certificate_id", "label": "field.certificate_id", "value": issuance.certificate_id }),
        json!({ "key": "issuer", "label": "field.issuer", "value": issuance.issuer }),
        json!({ "key": "verify", "label": "field.verify", "value": "field.verify.text" }),
    ]);
    let front = |group: Group| -> Vec<Value> {
        texts
            .front
            .iter()
            .filter(|field| field.group == group)
            .map(
                |field| json!({ "key": field.key, "label": field.label_key, "value": field.value }),
            )
            .collect()
    };

    let mut pass = json!({
        "formatVersion": 1,
        "passTypeIdentifier": key.pass_type_id(),
        "teamIdentifier": key.team_id(),
        "serialNumber": issuance.certificate_id,
        "organizationName": options.organization_name,
        "description": "pass.description",
        "logoText": "pass.logo_text",
        "backgroundColor": display.background_color.css(),
        "foregroundColor": display.foreground_color.css(),
        "labelColor": display.label_color.css(),
        "expirationDate": valid_until,
        "sharingProhibited": true,
        "voided": options.state == PassState::Revoked,
        "generic": {
            "headerFields": header_fields,
            "primaryFields": front(Group::Primary),
            "secondaryFields": front(Group::Secondary),
            "auxiliaryFields": front(Group::Auxiliary),
            "backFields": back_fields,
        },
    });
    if let Some(payload) = payload {
        pass["barcodes"] = json!([{
            "format": "PKBarcodeFormatQR",
            "message": payload,
            "messageEncoding": "iso-8859-1",
        }]);
    }
    if let Some(web_service) = options.web_service {
        pass["webServiceURL"] = json!(web_service.url);
        pass["authenticationToken"] = json!(web_service.authentication_token);
    }
    pass
}

/// The two languages of a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locale {
    Swedish,
    English,
}

/// The row of the front of the pass that a field is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Primary,
    Secondary,
    Auxiliary,
}

/// A field on the front of the pass.
#[derive(Debug, Clone)]
pub(super) struct FrontField {
    group: Group,
    key: String,
    label_key: String,
    pub label: Label,
    pub value: String,
}

impl FrontField {
    pub(super) fn is_primary(&self) -> bool {
        self.group == Group::Primary
    }
}

/// Returns the fields of the front, primary first, from the type's pass display rules. A rule
/// whose claim is missing, or is an object or array, shows nothing.
pub(super) fn front(issuance: &Issuance<'_>) -> Vec<FrontField> {
    let display = &issuance.certificate_type.pass;
    let mut front = Vec::new();
    for (group, paths) in [
        (Group::Primary, &display.primary),
        (Group::Secondary, &display.secondary),
        (Group::Auxiliary, &display.auxiliary),
    ] {
        for path in paths {
            if let Some((label, value)) = front_field(issuance, path) {
                let key = format!("front{}", front.len());
                front.push(FrontField {
                    group,
                    label_key: format!("claim.{key}"),
                    key,
                    label,
                    value,
                });
            }
        }
    }
    front
}

/// The translated texts of a pass and the claims it shows.
struct Texts {
    type_name: Label,
    type_description: Label,
    front: Vec<FrontField>,
    /// The back's claim labels and values, in table order.
    back: Vec<(Label, String)>,
    state: PassState,
}

impl Texts {
    fn new(issuance: &Issuance<'_>, state: PassState) -> Self {
        let certificate_type = issuance.certificate_type;
        let name = |locale: &str| certificate_type.display_for(locale).name.clone();
        let description = |locale: &str| {
            let display = certificate_type.display_for(locale);
            display
                .description
                .clone()
                .unwrap_or_else(|| display.name.clone())
        };
        let front = front(issuance);
        Self {
            type_name: Label {
                sv: name("sv"),
                en: name("en"),
            },
            type_description: Label {
                sv: description("sv"),
                en: description("en"),
            },
            front,
            back: back_rows(issuance),
            state,
        }
    }

    /// Returns every key of `pass.json` with its text in `locale`, for that locale's strings file.
    fn entries(&self, locale: Locale) -> Vec<(String, String)> {
        let pick = |label: &Label| match locale {
            Locale::Swedish => label.sv.clone(),
            // A claim without an English display name keeps its Swedish or member name.
            Locale::English if label.en.is_empty() => label.sv.clone(),
            Locale::English => label.en.clone(),
        };
        let fixed = |sv: &str, en: &str| match locale {
            Locale::Swedish => sv.to_owned(),
            Locale::English => en.to_owned(),
        };
        let mut entries = vec![
            ("pass.description".to_owned(), pick(&self.type_description)),
            ("pass.logo_text".to_owned(), pick(&self.type_name)),
            ("field.valid_from".to_owned(), fixed("Giltigt från", "Valid from")),
            ("field.valid_until".to_owned(), fixed("Giltigt till", "Valid until")),
            ("field.certificate_id".to_owned(), fixed("Intygets id", "Certificate id")),
            ("field.issuer".to_owned(), fixed("Utfärdare", "Issuer")),
            ("field.verify".to_owned(), fixed("Kontroll", "Verification")),
            (
                "field.verify.text".to_owned(),
                fixed(
                    "QR-koden är signerad av utfärdaren. Den som kontrollerar intyget läser koden och jämför uppgifterna med innehavarens id-handling.",
                    "The QR code is signed by the issuer. A verifier scans it and compares the details with the holder's identity document.",
                ),
            ),
        ];
        match self.state {
            PassState::Valid => {}
            PassState::Suspended => entries.extend([
                ("field.status".to_owned(), fixed("Status", "Status")),
                (
                    "status.suspended".to_owned(),
                    fixed("Tillfälligt spärrat", "Suspended"),
                ),
            ]),
            PassState::Revoked => entries.extend([
                ("field.status".to_owned(), fixed("Status", "Status")),
                ("status.revoked".to_owned(), fixed("Återkallat", "Revoked")),
            ]),
        }
        for field in &self.front {
            entries.push((field.label_key.clone(), pick(&field.label)));
        }
        for (index, (label, _)) in self.back.iter().enumerate() {
            entries.push((format!("claim.back.{index}"), pick(label)));
        }
        entries
    }
}

/// Returns the scalar claims at `paths` (member names and array indexes), in their places: the
/// chosen members of an object keep their names, and the chosen elements of an array keep their
/// order.
pub(super) fn claims_at<'p>(
    claims: &Map<String, Value>,
    paths: impl Iterator<Item = &'p Vec<String>>,
) -> Map<String, Value> {
    let paths: Vec<&[String]> = paths.map(Vec::as_slice).collect();
    match prune(&Value::Object(claims.clone()), &paths) {
        Some(Value::Object(members)) => members,
        _ => Map::new(),
    }
}

/// Keeps the scalars of `value` that one of `paths` (member names and array indexes) leads to,
/// or returns `None` when none does. The paths are relative to `value`.
fn prune(value: &Value, paths: &[&[String]]) -> Option<Value> {
    if !value.is_object() && !value.is_array() {
        return paths
            .iter()
            .any(|path| path.is_empty())
            .then(|| value.clone());
    }
    // A path that ends at an object or array selects nothing; only scalars are shown.
    let paths: Vec<&[String]> = paths
        .iter()
        .filter(|path| !path.is_empty())
        .copied()
        .collect();
    let below = |segment: &str| -> Vec<&[String]> {
        paths
            .iter()
            .filter(|path| path[0] == segment)
            .map(|path| &path[1..])
            .collect()
    };
    match value {
        Value::Object(members) => {
            let kept: Map<String, Value> = members
                .iter()
                .filter_map(|(name, member)| {
                    let paths = below(name);
                    if paths.is_empty() {
                        return None;
                    }
                    Some((name.clone(), prune(member, &paths)?))
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(elements) => {
            let kept: Vec<Value> = elements
                .iter()
                .enumerate()
                .filter_map(|(index, element)| {
                    let paths = below(&index.to_string());
                    if paths.is_empty() {
                        return None;
                    }
                    prune(element, &paths)
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

/// Returns the label and text of the claim at `path` (member names and array indexes), or `None`
/// when the claims have no scalar there.
fn front_field(issuance: &Issuance<'_>, path: &[String]) -> Option<(Label, String)> {
    let (first, rest) = path.split_first()?;
    let mut value = issuance.claims.get(first)?;
    let mut rule_path: Vec<Option<&str>> = vec![Some(first.as_str())];
    for segment in rest {
        value = match value {
            Value::Object(members) => {
                rule_path.push(Some(segment.as_str()));
                members.get(segment)?
            }
            Value::Array(elements) => {
                rule_path.push(None);
                elements.get(segment.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    if value.is_object() || value.is_array() {
        return None;
    }
    let name = path.last()?;
    let label = claims::label(issuance.certificate_type, &rule_path, name);
    Some((label, claims::format_value(value)))
}

/// Flattens the claims table into labelled values. A nested value's label names its headings,
/// such as "Vaccination – Dosnummer", because the back of a pass has no indentation.
fn back_rows(issuance: &Issuance<'_>) -> Vec<(Label, String)> {
    let mut headings: Vec<Label> = Vec::new();
    let mut rows = Vec::new();
    for row in claims::rows(issuance.certificate_type, issuance.claims) {
        headings.truncate(row.depth);
        match row.value {
            None => headings.push(row.label),
            Some(value) => {
                let join = |pick: fn(&Label) -> &str| {
                    headings
                        .iter()
                        .chain(std::iter::once(&row.label))
                        .map(pick)
                        .filter(|text| !text.is_empty())
                        .collect::<Vec<_>>()
                        .join(" – ")
                };
                let label = Label {
                    sv: join(|label| &label.sv),
                    en: if row.label.en.is_empty() {
                        String::new()
                    } else {
                        join(|label| {
                            if label.en.is_empty() {
                                &label.sv
                            } else {
                                &label.en
                            }
                        })
                    },
                };
                rows.push((label, value));
            }
        }
    }
    rows
}

fn write_zip(files: &[(&str, Cow<'_, [u8]>)]) -> Result<Vec<u8>, FormatError> {
    let size = files.iter().map(|(_, bytes)| bytes.len() + 128).sum();
    let mut zip = ZipWriter::new(Cursor::new(Vec::with_capacity(size)));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .unix_permissions(0o644);
    for (name, bytes) in files {
        zip.start_file(*name, options).map_err(encode_error)?;
        zip.write_all(bytes).map_err(encode_error)?;
    }
    let cursor = zip.finish().map_err(encode_error)?;
    Ok(cursor.into_inner())
}

fn sha1_hex(bytes: &[u8]) -> String {
    openssl::sha::sha1(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn encode_error(error: impl std::fmt::Display) -> FormatError {
    FormatError::Encode(format!("the pass: {error}"))
}

#[cfg(test)]
mod tests;
