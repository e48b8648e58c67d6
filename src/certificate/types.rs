use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::validation::{SchemaViolation, ValidationError};

/// A name or description in one language, as OpenID4VCI `display` entries carry it.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Display {
    /// BCP 47 language tag, `sv` or `en` in the shipped types.
    pub locale: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Display texts and disclosure rule of one claim, addressed by an SD-JWT VC claim path.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClaimRule {
    /// Claim path: object member names, and `null` for every element of an array.
    pub path: Vec<Option<String>>,
    /// Whether the claim is selectively disclosable in SD-JWT VC.
    #[serde(default)]
    pub sd: bool,
    #[serde(default)]
    pub display: Vec<Display>,
}

/// The contents of a type folder's `type.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeFile {
    vct: String,
    w3c_type: String,
    default_validity_days: u32,
    retention_days: u32,
    display: Vec<Display>,
    claims: Vec<ClaimRule>,
    #[serde(default)]
    pass: PassDisplay,
}

/// A colour as red, green and blue, 0 to 255.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct Rgb(pub [u8; 3]);

impl Rgb {
    /// Returns the CSS form that Apple Wallet accepts, such as `rgb(0, 62, 114)`.
    pub fn css(self) -> String {
        let [r, g, b] = self.0;
        format!("rgb({r}, {g}, {b})")
    }
}

/// Display rules of the type's Apple Wallet and Google Wallet passes: colours, and the claims
/// shown on the front. Every claim is listed on the back of the pass.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PassDisplay {
    pub background_color: Rgb,
    pub foreground_color: Rgb,
    pub label_color: Rgb,
    /// Claim paths of the front's primary, secondary and auxiliary fields. A path is a list of
    /// object member names and array indexes, such as `["v", "0", "dt"]`.
    #[serde(default)]
    pub primary: Vec<Vec<String>>,
    #[serde(default)]
    pub secondary: Vec<Vec<String>>,
    #[serde(default)]
    pub auxiliary: Vec<Vec<String>>,
}

impl Default for PassDisplay {
    fn default() -> Self {
        Self {
            background_color: Rgb([0, 62, 114]),
            foreground_color: Rgb([255, 255, 255]),
            label_color: Rgb([200, 220, 240]),
            primary: Vec::new(),
            secondary: Vec::new(),
            auxiliary: Vec::new(),
        }
    }
}

/// The names of the images in a pass, each at 1x, 2x and 3x.
pub const PASS_IMAGE_NAMES: [&str; 6] = [
    "icon.png",
    "icon@2x.png",
    "icon@3x.png",
    "logo.png",
    "logo@2x.png",
    "logo@3x.png",
];

/// The images shipped for a type that has no `pass/` folder of its own.
const DEFAULT_PASS_IMAGES: [&[u8]; 6] = [
    include_bytes!("../../assets/pass/icon.png"),
    include_bytes!("../../assets/pass/icon@2x.png"),
    include_bytes!("../../assets/pass/icon@3x.png"),
    include_bytes!("../../assets/pass/logo.png"),
    include_bytes!("../../assets/pass/logo@2x.png"),
    include_bytes!("../../assets/pass/logo@3x.png"),
];

/// A pass image: its file name in the pass and its PNG bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassImage {
    pub name: &'static str,
    pub png: Arc<[u8]>,
}

/// One certificate type: its claim schema, display texts and issuance rules.
pub struct CertificateType {
    /// The folder name, used as `--type` and in the API.
    pub id: String,
    /// SD-JWT VC credential type.
    pub vct: String,
    /// The type name added after `VerifiableCredential` in W3C credentials.
    pub w3c_type: String,
    pub default_validity_days: u32,
    /// Days after which the claims of an issued certificate are deleted.
    pub retention_days: u32,
    pub display: Vec<Display>,
    pub claims: Vec<ClaimRule>,
    pub pass: PassDisplay,
    /// The pass images, from the type's `pass/` folder or the shipped defaults.
    pub pass_images: Vec<PassImage>,
    pub schema: Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for CertificateType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateType")
            .field("id", &self.id)
            .field("vct", &self.vct)
            .finish_non_exhaustive()
    }
}

/// Failure to load a certificate type folder.
#[derive(Debug, thiserror::Error)]
pub enum TypeError {
    #[error("cannot read certificate types from {path}: {source}; set schemas_dir (INTYG_SCHEMAS_DIR) to the folder that holds one folder per type")]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "no certificate types found in {0}; each type is a folder with schema.json and type.json"
    )]
    Empty(PathBuf),
    #[error("unknown certificate type {requested:?}; known types: {known}")]
    Unknown { requested: String, known: String },
}

impl CertificateType {
    /// Loads the type in `dir`, named after the folder, from its `schema.json` and `type.json`.
    pub fn load(dir: &Path) -> Result<Self, TypeError> {
        let id = dir
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or_else(|| TypeError::Invalid {
                path: dir.to_path_buf(),
                message: "the folder name must be UTF-8".into(),
            })?
            .to_owned();

        let schema_path = dir.join("schema.json");
        let schema: Value = read_json(&schema_path)?;
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|error| TypeError::Invalid {
                path: schema_path.clone(),
                message: format!("not a valid JSON Schema 2020-12: {error}"),
            })?;

        let type_path = dir.join("type.json");
        let file: TypeFile = read_json(&type_path)?;
        let has_locale = |locale: &str| file.display.iter().any(|d| d.locale == locale);
        if !has_locale("sv") || !has_locale("en") {
            return Err(TypeError::Invalid {
                path: type_path,
                message: "display needs a Swedish (sv) and an English (en) entry".into(),
            });
        }
        if file.default_validity_days == 0 {
            return Err(TypeError::Invalid {
                path: type_path,
                message: "default_validity_days must be at least 1".into(),
            });
        }
        for rule in &file.claims {
            if rule.path.is_empty() || rule.path[0].is_none() {
                return Err(TypeError::Invalid {
                    path: type_path,
                    message: "a claim path starts with a member name".into(),
                });
            }
        }

        let pass_images = load_pass_images(&dir.join("pass"))?;

        Ok(Self {
            id,
            vct: file.vct,
            w3c_type: file.w3c_type,
            default_validity_days: file.default_validity_days,
            retention_days: file.retention_days,
            display: file.display,
            claims: file.claims,
            pass: file.pass,
            pass_images,
            schema,
            validator,
        })
    }

    /// Checks `claims` against the type's JSON Schema and returns every violation.
    pub fn validate(&self, claims: &Value) -> Result<(), ValidationError> {
        let violations: Vec<SchemaViolation> = self
            .validator
            .iter_errors(claims)
            .map(|error| SchemaViolation {
                pointer: error.instance_path().to_string(),
                message: error.to_string(),
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(ValidationError {
                type_id: self.id.clone(),
                violations,
            })
        }
    }

    /// Returns whether the claim at `path` is selectively disclosable.
    pub fn is_disclosable(&self, path: &[Option<&str>]) -> bool {
        self.claims.iter().any(|rule| {
            rule.sd
                && rule.path.len() == path.len()
                && rule
                    .path
                    .iter()
                    .zip(path)
                    .all(|(rule, actual)| match (rule, actual) {
                        (None, _) => true,
                        (Some(expected), Some(actual)) => expected == actual,
                        (Some(_), None) => false,
                    })
        })
    }

    /// Returns the display entry for `locale`, or the first one.
    pub fn display_for(&self, locale: &str) -> &Display {
        self.display
            .iter()
            .find(|d| d.locale == locale)
            .unwrap_or(&self.display[0])
    }
}

/// Loads the pass images from `dir`, each file replacing its shipped default. Without the folder,
/// the type uses the defaults.
fn load_pass_images(dir: &Path) -> Result<Vec<PassImage>, TypeError> {
    let mut images = Vec::with_capacity(PASS_IMAGE_NAMES.len());
    for (name, default) in PASS_IMAGE_NAMES.into_iter().zip(DEFAULT_PASS_IMAGES) {
        let path = dir.join(name);
        let png: Arc<[u8]> = match fs::read(&path) {
            Ok(bytes) => {
                if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                    return Err(TypeError::Invalid {
                        path,
                        message: "a pass image must be a PNG file".into(),
                    });
                }
                bytes.into()
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => default.into(),
            Err(source) => return Err(TypeError::ReadFile { path, source }),
        };
        images.push(PassImage { name, png });
    }
    Ok(images)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, TypeError> {
    let text = fs::read_to_string(path).map_err(|source| TypeError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|error| TypeError::Invalid {
        path: path.to_path_buf(),
        message: error.to_string(),
    })
}

/// All certificate types known to this instance, by id.
#[derive(Debug, Clone, Default)]
pub struct TypeRegistry {
    types: BTreeMap<String, Arc<CertificateType>>,
}

impl TypeRegistry {
    /// Loads every sub-folder of `dir` as a certificate type.
    pub fn load(dir: &Path) -> Result<Self, TypeError> {
        let entries = fs::read_dir(dir).map_err(|source| TypeError::ReadDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut types = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|source| TypeError::ReadDir {
                path: dir.to_path_buf(),
                source,
            })?;
            let path = entry.path();
            if !path.is_dir() || entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let certificate_type = CertificateType::load(&path)?;
            types.insert(certificate_type.id.clone(), Arc::new(certificate_type));
        }
        if types.is_empty() {
            return Err(TypeError::Empty(dir.to_path_buf()));
        }
        Ok(Self { types })
    }

    /// Returns the type called `id`, or an error that lists the known types.
    pub fn get(&self, id: &str) -> Result<Arc<CertificateType>, TypeError> {
        self.types
            .get(id)
            .cloned()
            .ok_or_else(|| TypeError::Unknown {
                requested: id.to_owned(),
                known: self.types.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<CertificateType>> {
        self.types.values()
    }
}
