//! The PDF read back as a person's tools read it: Poppler's `pdftoppm` renders the page, `zbarimg`
//! reads the QR code from the picture, and `pdftotext` extracts the Swedish text.

mod pdf_channel;

use std::path::{Path, PathBuf};
use std::process::Command;

use intyg::certificate::CertificateType;
use intyg::formats::{pdf, Issuance};
use serde_json::Value;
use time::macros::datetime;

use pdf_channel::{
    crate_root, intyg, issue_lines, personbevis_claims, tool_available, vectors, verify_json,
};

/// Renders the first page of `pdf` at 200 dpi and returns the QR code content zbarimg reads.
fn read_qr(pdf: &Path) -> String {
    let prefix = pdf.with_extension("");
    let rendered = Command::new("pdftoppm")
        .args(["-r", "200", "-png", "-f", "1", "-l", "1", "-singlefile"])
        .arg(pdf)
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(rendered.status.success(), "pdftoppm: {rendered:?}");
    let scanned = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(prefix.with_extension("png"))
        .output()
        .unwrap();
    assert!(
        scanned.status.success(),
        "zbarimg found no code: {scanned:?}"
    );
    String::from_utf8(scanned.stdout)
        .unwrap()
        .trim_end()
        .to_owned()
}

fn extract_text(pdf: &Path) -> String {
    let output = Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(output.status.success(), "pdftotext: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// Issues PDFs with `intyg issue --format pdf` and returns the written paths.
fn issue_pdfs(type_id: &str, claims: &[Value], out: &Path) -> Vec<PathBuf> {
    let out = out.to_str().unwrap();
    issue_lines(type_id, "pdf", claims, &["--out", out])
        .into_iter()
        .map(PathBuf::from)
        .collect()
}

#[test]
fn rendered_qr_is_payload() {
    if !tool_available("pdftoppm", "poppler-utils") || !tool_available("zbarimg", "zbar-tools") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let covid = CertificateType::load(&crate_root().join("schemas/covid-certificate")).unwrap();
    for vector in vectors() {
        let claims = vector.claims().as_object().unwrap().clone();
        let issuance = Issuance {
            certificate_type: &covid,
            claims: &claims,
            issuer: "https://intyg.example",
            certificate_id: "7d4c0b0e-0000-4000-8000-000000000001",
            issued_at: datetime!(2026-12-04 10:00 UTC),
            valid_from: datetime!(2026-12-04 10:00 UTC),
            valid_until: datetime!(2027-12-04 10:00 UTC),
            holder_jwk: None,
            status: None,
        };
        let bytes = pdf::render(&issuance, vector.payload()).unwrap();
        let path = dir.path().join(format!("{}.pdf", vector.name));
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(read_qr(&path), vector.payload(), "{}", vector.name);
    }
}

#[test]
fn issued_pdfs_verify() {
    if !tool_available("pdftoppm", "poppler-utils") || !tool_available("zbarimg", "zbar-tools") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vectors = vectors();
    let claims: Vec<Value> = vectors.iter().map(|v| v.claims().clone()).collect();
    let paths = issue_pdfs("covid-certificate", &claims, dir.path());
    let names: Vec<String> = paths
        .iter()
        .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "000001.pdf",
            "000002.pdf",
            "000003.pdf",
            "000004.pdf",
            "000005.pdf"
        ]
    );

    let trust = crate_root().join("keys-example/issuer-signing.chain.pem");
    for (vector, path) in vectors.iter().zip(&paths) {
        let payload = read_qr(path);
        assert!(payload.starts_with("HC1:"), "{}: {payload}", vector.name);
        let (report, exit) = verify_json(&payload, &trust, None);
        assert_eq!(exit, 0, "{}: {report}", vector.name);
        assert_eq!(&report["claims"], vector.claims(), "{}", vector.name);
    }
}

#[test]
fn pdf_text_keeps_swedish() {
    if !tool_available("pdftotext", "poppler-utils") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let covid_claims = vectors()[3].claims().clone();
    let covid = issue_pdfs("covid-certificate", &[covid_claims], dir.path());
    let text = extract_text(&covid[0]);
    for expected in [
        "Covidbevis",
        "Födelsedatum",
        "Oscar Lövström",
        "Giltigt från",
        "Utfärdare",
        "Axelsbergs vårdcentral",
        "Uppgifter i intyget",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }

    let personbevis_dir = dir.path().join("personbevis");
    std::fs::create_dir(&personbevis_dir).unwrap();
    let personbevis = issue_pdfs("personbevis", &[personbevis_claims()], &personbevis_dir);
    let text = extract_text(&personbevis[0]);
    for expected in [
        "Personbevis",
        "Åsa Öberg",
        "Folkbokföringsadress",
        "Län",
        "Stockholms län",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

#[test]
fn pdf_needs_out_directory() {
    let dir = tempfile::tempdir().unwrap();
    let claims = format!("{}\n", personbevis_claims());
    let missing = intyg(
        &["issue", "--type", "personbevis", "--format", "pdf"],
        &claims,
        &[],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("needs --out DIR"));

    let file = dir.path().join("file.pdf");
    std::fs::write(&file, b"").unwrap();
    let not_directory = intyg(
        &[
            "issue",
            "--type",
            "personbevis",
            "--format",
            "pdf",
            "--out",
            file.to_str().unwrap(),
        ],
        &claims,
        &[],
    );
    assert_eq!(not_directory.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&not_directory.stderr).contains("is not a directory"));
}
