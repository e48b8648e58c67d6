//! The public Swedish DCC test certificates issued by intyg and verified by independent
//! verifiers: `@sd-jwt/sd-jwt-vc` and `jose` (npm), and `sd-jwt` (PyPI).

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

/// Claims the formats add around the certificate; removed before comparing with the input.
const FORMAT_CLAIMS: [&str; 7] = ["iss", "iat", "nbf", "exp", "vct", "cnf", "_sd_alg"];

fn node_ready() -> bool {
    let installed = repository()
        .join("tests/interop/node_modules/@sd-jwt/sd-jwt-vc")
        .is_dir();
    installed
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

fn python_ready() -> bool {
    Command::new("python3")
        .args(["-c", "import sd_jwt.verifier, cryptography"])
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Issues every test vector in `format` and returns the credentials file and the expected claims.
fn issue_vectors(dir: &std::path::Path, format: &str) -> (std::path::PathBuf, Vec<Value>) {
    let vectors = dcc_vectors();
    let input: String = vectors
        .iter()
        .map(|(_, vector)| format!("{}\n", vector["JSON"]))
        .collect();
    let out = dir.join(format!("{format}.txt"));
    let mut command = intyg();
    command
        .args([
            "issue",
            "--type",
            "covid-certificate",
            "--format",
            format,
            "--out",
        ])
        .arg(&out);
    let output = run_with_input(command, &input);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    (
        out,
        vectors
            .into_iter()
            .map(|(_, vector)| vector["JSON"].clone())
            .collect(),
    )
}

fn reports(output: &std::process::Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn certificate_claims(claims: &Value) -> Value {
    let mut claims = claims.clone();
    if let Some(object) = claims.as_object_mut() {
        for name in FORMAT_CLAIMS {
            object.remove(name);
        }
    }
    claims
}

#[test]
fn npm_verifiers_accept_every_format() {
    if skip_without(
        "node with tests/interop/node_modules (npm ci --prefix tests/interop)",
        node_ready(),
    ) {
        return;
    }
    let dir = temp_dir();
    let anchor = repository().join("keys-example/issuer-ca.crt.pem");
    for format in ["dc+sd-jwt", "vc+jwt", "jwt_vc_json"] {
        let (credentials, expected) = issue_vectors(dir.path(), format);
        let output = Command::new("node")
            .arg(repository().join("tests/interop/verify-credentials.mjs"))
            .arg(&credentials)
            .arg(&anchor)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{format}: {}{}",
            stdout(&output),
            stderr(&output)
        );
        let reports = reports(&output);
        assert_eq!(reports.len(), expected.len(), "{format}");
        for (report, expected) in reports.iter().zip(&expected) {
            assert_eq!(report["valid"], true, "{format}: {report}");
            let subject = match format {
                "dc+sd-jwt" => certificate_claims(&report["claims"]),
                "vc+jwt" => report["claims"]["credentialSubject"].clone(),
                _ => report["claims"]["vc"]["credentialSubject"].clone(),
            };
            assert_eq!(&subject, expected, "{format}");
        }
    }
}

#[test]
fn npm_verifier_rejects_other_anchor() {
    if skip_without(
        "node with tests/interop/node_modules (npm ci --prefix tests/interop)",
        node_ready(),
    ) {
        return;
    }
    let dir = temp_dir();
    let (credentials, _) = issue_vectors(dir.path(), "dc+sd-jwt");
    let output = Command::new("node")
        .arg(repository().join("tests/interop/verify-credentials.mjs"))
        .arg(&credentials)
        .arg(repository().join("keys-example/apple-root.crt.pem"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(reports(&output)
        .iter()
        .all(|report| report["valid"] == false));
}

#[test]
fn python_sd_jwt_accepts_sd_jwt_vc() {
    if skip_without(
        "python3 with sd-jwt (pip install -r tests/interop/requirements.txt)",
        python_ready(),
    ) {
        return;
    }
    let dir = temp_dir();
    let (credentials, expected) = issue_vectors(dir.path(), "dc+sd-jwt");
    let output = Command::new("python3")
        .arg(repository().join("tests/interop/verify_sd_jwt.py"))
        .arg(&credentials)
        .arg(repository().join("keys-example/issuer-ca.crt.pem"))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}{}",
        stdout(&output),
        stderr(&output)
    );
    let reports = reports(&output);
    assert_eq!(reports.len(), expected.len());
    for (report, expected) in reports.iter().zip(&expected) {
        assert_eq!(report["valid"], true, "{report}");
        assert_eq!(&certificate_claims(&report["claims"]), expected);
    }
}

#[test]
fn python_sd_jwt_rejects_tampered_signature() {
    if skip_without(
        "python3 with sd-jwt (pip install -r tests/interop/requirements.txt)",
        python_ready(),
    ) {
        return;
    }
    let dir = temp_dir();
    let (credentials, _) = issue_vectors(dir.path(), "dc+sd-jwt");
    let first = std::fs::read_to_string(&credentials)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    // Changing the first character of the signature changes its first byte.
    let signature_start = first
        .find('~')
        .map(|end| first[..end].rfind('.').unwrap() + 1)
        .unwrap();
    let mut tampered = first.clone();
    let replacement = if first.as_bytes()[signature_start] == b'A' {
        "B"
    } else {
        "A"
    };
    tampered.replace_range(signature_start..signature_start + 1, replacement);
    let tampered = write(dir.path(), "tampered.txt", &tampered);
    let output = Command::new("python3")
        .arg(repository().join("tests/interop/verify_sd_jwt.py"))
        .arg(&tampered)
        .arg(repository().join("keys-example/issuer-ca.crt.pem"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(reports(&output)[0]["valid"], false);
}
