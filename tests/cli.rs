//! The `intyg` command line, run as a user runs it.

mod common;

use common::*;
use serde_json::{json, Value};

const FORMATS: [&str; 3] = ["dc+sd-jwt", "vc+jwt", "jwt_vc_json"];

fn verify_json(credentials: &str, extra: &[&str]) -> (Option<i32>, Vec<Value>) {
    let mut command = intyg();
    command.args(["verify", "--json"]).args(extra).arg("-");
    let output = run_with_input(command, credentials);
    let reports = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (output.status.code(), reports)
}

#[test]
fn dcc_vectors_issue_and_verify() {
    for (name, vector) in dcc_vectors() {
        for format in FORMATS {
            let mut command = intyg();
            command.args(["issue", "--type", "covid-certificate", "--format", format]);
            let issued = run_with_input(command, &vector["JSON"].to_string());
            assert_eq!(
                issued.status.code(),
                Some(0),
                "{name} {format}: {}",
                stderr(&issued)
            );
            assert_eq!(stdout(&issued).lines().count(), 1, "{name} {format}");

            let (code, reports) = verify_json(&stdout(&issued), &[]);
            assert_eq!(code, Some(0), "{name} {format}: {reports:?}");
            assert_eq!(reports[0]["valid"], true, "{name} {format}");
            assert_eq!(reports[0]["format"], format, "{name} {format}");
            assert_eq!(reports[0]["claims"], vector["JSON"], "{name} {format}");
        }
    }
}

#[test]
fn pretty_document_is_one_certificate() {
    let (_, vector) = dcc_vectors().remove(0);
    let mut command = intyg();
    command.args(["issue", "--type", "covid-certificate", "--format", "vc+jwt"]);
    let issued = run_with_input(
        command,
        &serde_json::to_string_pretty(&vector["JSON"]).unwrap(),
    );
    assert_eq!(issued.status.code(), Some(0), "{}", stderr(&issued));
    assert_eq!(stdout(&issued).lines().count(), 1);
}

#[test]
fn json_lines_bad_lines_reported_good_issued() {
    let (_, vector) = dcc_vectors().remove(0);
    let good = vector["JSON"].to_string();
    let mut bad_schema = vector["JSON"].clone();
    bad_schema["v"][0]["dn"] = json!(12);
    let input = format!("{good}\n{bad_schema}\n{{not json\n\n{good}\n");

    let dir = temp_dir();
    let out = dir.path().join("credentials.txt");
    let mut command = intyg();
    command
        .args([
            "issue",
            "--type",
            "covid-certificate",
            "--format",
            "dc+sd-jwt",
            "--out",
        ])
        .arg(&out);
    let output = run_with_input(command, &input);

    assert_eq!(output.status.code(), Some(2));
    let messages = stderr(&output);
    assert!(
        messages.contains("line 2: claims do not match the covid-certificate schema: at /v/0/dn"),
        "{messages}"
    );
    assert!(messages.contains("maximum of 9"), "{messages}");
    assert!(messages.contains("line 3: not valid JSON"), "{messages}");
    assert!(
        messages.contains("issued 2 dc+sd-jwt credentials; rejected 2 lines"),
        "{messages}"
    );
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.lines().count(), 2);
}

#[test]
fn single_document_schema_error_exits_2() {
    let mut command = intyg();
    command.args(["issue", "--type", "personbevis", "--format", "dc+sd-jwt"]);
    let output = run_with_input(command, r#"{"given_name": "Åsa"}"#);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("\"family_name\" is a required property"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn unknown_type_exits_2_naming_types() {
    let mut command = intyg();
    command.args(["issue", "--type", "passport", "--format", "dc+sd-jwt"]);
    let output = run_with_input(command, "{}");
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("unknown certificate type \"passport\""),
        "{message}"
    );
    assert!(
        message.contains("covid-certificate, personbevis"),
        "{message}"
    );
}

#[test]
fn unknown_format_exits_2() {
    let mut command = intyg();
    command.args(["issue", "--type", "personbevis", "--format", "mdoc"]);
    let output = run_with_input(command, "{}");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("unknown format \"mdoc\""),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unreadable_key_names_file() {
    let mut command = intyg();
    command
        .env("INTYG_SIGNING_KEY", "/nonexistent/signing.key.pem")
        .env(
            "INTYG_SIGNING_CHAIN",
            "keys-example/issuer-signing.chain.pem",
        )
        .args(["issue", "--type", "personbevis", "--format", "dc+sd-jwt"]);
    let output = run_with_input(command, "{}");
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("cannot read /nonexistent/signing.key.pem"),
        "{message}"
    );
    assert!(message.contains("INTYG_SIGNING_KEY"), "{message}");
}

#[test]
fn key_and_certificate_mismatch_named() {
    let dir = temp_dir();
    let generated = intyg()
        .args(["keys", "generate", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(generated.status.code(), Some(0), "{}", stderr(&generated));

    let mut command = intyg();
    command
        .env(
            "INTYG_SIGNING_KEY",
            dir.path().join("issuer-signing.key.pem"),
        )
        .env(
            "INTYG_SIGNING_CHAIN",
            "keys-example/issuer-signing.chain.pem",
        )
        .args(["issue", "--type", "personbevis", "--format", "dc+sd-jwt"]);
    let output = run_with_input(command, "{}");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("does not belong to the first certificate"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn generated_keys_issue_and_verify() {
    let dir = temp_dir();
    let generated = intyg()
        .args(["keys", "generate", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(generated.status.code(), Some(0));
    for name in [
        "issuer-ca.crt.pem",
        "apple-wwdr.crt.pem",
        "pass-type-id.crt.pem",
        "google-service-account.json",
    ] {
        assert!(dir.path().join(name).is_file(), "{name}");
    }
    let again = intyg()
        .args(["keys", "generate", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(2),
        "overwrote an existing key set"
    );

    let (_, vector) = dcc_vectors().remove(0);
    let mut command = intyg();
    command
        .env(
            "INTYG_SIGNING_KEY",
            dir.path().join("issuer-signing.key.pem"),
        )
        .env(
            "INTYG_SIGNING_CHAIN",
            dir.path().join("issuer-signing.chain.pem"),
        )
        .args([
            "issue",
            "--type",
            "covid-certificate",
            "--format",
            "dc+sd-jwt",
        ]);
    let issued = run_with_input(command, &vector["JSON"].to_string());
    assert_eq!(issued.status.code(), Some(0), "{}", stderr(&issued));
    assert!(
        !stderr(&issued).contains("development keys"),
        "{}",
        stderr(&issued)
    );

    let ca = dir.path().join("issuer-ca.crt.pem");
    let (code, reports) = verify_json(&stdout(&issued), &["--trust", ca.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{reports:?}");
    // The development CA from keys-example/ did not issue this key.
    let (code, reports) = verify_json(&stdout(&issued), &[]);
    assert_eq!(code, Some(1));
    assert_eq!(reports[0]["errors"][0]["code"], "untrusted_chain");
}

#[test]
fn failed_run_leaves_no_output_file() {
    let dir = temp_dir();
    let out = dir.path().join("credentials.txt");
    let mut command = intyg();
    command
        .args([
            "issue",
            "--type",
            "personbevis",
            "--format",
            "dc+sd-jwt",
            "--out",
        ])
        .arg(&out);
    let output = run_with_input(command, "{ \"given_name\": \n");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("neither JSON Lines nor one JSON document"),
        "{}",
        stderr(&output)
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a temporary file was left behind"
    );
}

#[test]
fn holder_jwk_binds_credential() {
    let dir = temp_dir();
    let holder = json!({
        "kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    });
    let path = write(dir.path(), "holder.jwk", &holder.to_string());
    let (_, vector) = dcc_vectors().remove(0);
    for format in FORMATS {
        let mut command = intyg();
        command
            .args([
                "issue",
                "--type",
                "covid-certificate",
                "--format",
                format,
                "--holder-jwk",
            ])
            .arg(&path);
        let issued = run_with_input(command, &vector["JSON"].to_string());
        assert_eq!(issued.status.code(), Some(0), "{}", stderr(&issued));
        let (code, reports) = verify_json(&stdout(&issued), &[]);
        assert_eq!(code, Some(0));
        assert_eq!(reports[0]["metadata"]["cnf"]["jwk"], holder, "{format}");
    }
}

#[test]
fn holder_jwk_with_private_key_rejected() {
    let dir = temp_dir();
    let holder = json!({
        "kty": "EC", "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
        "d": "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
    });
    let path = write(dir.path(), "holder.jwk", &holder.to_string());
    let mut command = intyg();
    command
        .args([
            "issue",
            "--type",
            "personbevis",
            "--format",
            "dc+sd-jwt",
            "--holder-jwk",
        ])
        .arg(&path);
    let output = run_with_input(command, "{}");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("private key member \"d\""),
        "{}",
        stderr(&output)
    );
}

#[test]
fn verify_exit_codes() {
    let (_, vector) = dcc_vectors().remove(0);
    let mut command = intyg();
    command.args(["issue", "--type", "covid-certificate", "--format", "vc+jwt"]);
    let credential = stdout(&run_with_input(command, &vector["JSON"].to_string()));

    let mut tampered = credential.trim().to_owned();
    tampered.truncate(tampered.len() - 4);
    tampered.push_str("AAAA");
    let (code, reports) = verify_json(&tampered, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(reports[0]["valid"], false);
    assert_eq!(reports[0]["errors"][0]["code"], "signature_invalid");

    let (code, reports) = verify_json(&credential, &["--at", "2100-01-01T00:00:00Z"]);
    assert_eq!(code, Some(1));
    let codes: Vec<&str> = reports[0]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"expired"), "{codes:?}");

    let mut command = intyg();
    command.args(["verify", "--at", "yesterday", "-"]);
    let output = run_with_input(command, &credential);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--at \"yesterday\" is not an RFC 3339 date-time"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn verify_text_output_lists_claims() {
    let (_, vector) = dcc_vectors().remove(0);
    let mut command = intyg();
    command.args([
        "issue",
        "--type",
        "covid-certificate",
        "--format",
        "dc+sd-jwt",
    ]);
    let credential = stdout(&run_with_input(command, &vector["JSON"].to_string()));
    let mut command = intyg();
    command.args(["verify", "-"]);
    let output = run_with_input(command, &credential);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.starts_with("valid dc+sd-jwt credential from http://127.0.0.1:8080"),
        "{text}"
    );
    assert!(text.contains("Lövström"), "{text}");
}
