//! Schemathesis (PyPI) drives a running `intyg serve` from its own OpenAPI document: no request it
//! generates may get a 5xx, and every response must match the document.

mod common;

use std::process::Command;

use common::*;

#[test]
fn schemathesis_finds_no_violation() {
    let installed = Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if skip_without(
        "schemathesis (pip install -r tests/interop/requirements.txt)",
        installed,
    ) {
        return;
    }
    let server = Server::start(&[]);
    let key = server.add_client("schemathesis", "covid-certificate,personbevis", &[]);
    let output = Command::new("schemathesis")
        .args(["run", &format!("{}/api/v1/openapi.json", server.base_url)])
        .args(["--url", &server.base_url])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
        ])
        // One worker: with several, schemathesis 4.32 on CPython 3.11 sometimes fails inside
        // Python's compiler ("AST constructor recursion depth mismatch"), an error of the tool.
        .args(["--max-examples", "40", "--workers", "1", "--max-time", "60"])
        .env("NO_COLOR", "1")
        // Schemathesis keeps a cache folder in its working directory; keep it out of the checkout.
        .current_dir(server.data_dir.path())
        .output()
        .unwrap();
    let full_report = format!("{}{}", stdout(&output), stderr(&output));
    // The summary is at the end; a failure's full report can run to hundreds of kilobytes.
    let tail_start = full_report.len().saturating_sub(8000);
    let report = full_report.get(tail_start..).unwrap_or(&full_report);
    assert_eq!(output.status.code(), Some(0), "{report}");
    assert!(report.contains(" passed"), "{report}");
    assert!(!report.contains(" failed"), "{report}");
}
