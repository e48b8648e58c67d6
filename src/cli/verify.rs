use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use openssl::x509::X509;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::EXIT_USAGE;
use crate::config::Config;
use crate::verify::status::StatusLists;
use crate::verify::{
    apply_status, verify, StatusList, StatusListFetcher, Verification, VerifyOptions,
};
use std::sync::Arc;

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// PEM file of certificates to trust (repeatable); replaces the configured trust anchors.
    #[arg(long, value_name = "PEM")]
    trust: Vec<PathBuf>,
    /// Check validity at this RFC 3339 time instead of now, such as 2021-06-16T09:50:03Z.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Print one JSON object a credential: {"valid", "format", "claims", "checks", "errors", ...}.
    #[arg(long)]
    json: bool,
    /// File with a status list (a statuslist+jwt or a Bitstring Status List credential as
    /// vc+jwt), used instead of fetching the list from its URL (repeatable).
    #[arg(long, value_name = "FILE")]
    status_list: Vec<PathBuf>,
    /// Fetch no status list over the network; a credential whose list was not given with
    /// --status-list then fails the status check.
    #[arg(long)]
    offline: bool,
    /// File with one credential a line, or - for standard input.
    #[arg(value_name = "PATH|-", default_value = "-")]
    input: String,
}

pub(super) fn run(args: VerifyArgs, config: &Config) -> ExitCode {
    match verify_all(&args, config) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Verifies every non-empty line of the input and returns whether all were valid.
fn verify_all(args: &VerifyArgs, config: &Config) -> Result<bool, String> {
    let at = match &args.at {
        Some(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|error| format!("--at {text:?} is not an RFC 3339 date-time ({error}); use a form such as 2021-06-16T09:50:03Z"))?,
        None => OffsetDateTime::now_utc(),
    };
    let anchor_paths = if args.trust.is_empty() {
        &config.trust_anchors
    } else {
        &args.trust
    };
    let anchors = load_anchors(anchor_paths)?;
    let options = VerifyOptions::new(anchors, at);
    let given_lists = load_status_lists(&args.status_list, &options)?;
    let fetcher = if args.offline {
        None
    } else {
        Some(StatusFetch::new()?)
    };

    let mut text = String::new();
    if args.input == "-" {
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|error| format!("cannot read standard input: {error}"))?;
    } else {
        text = fs::read_to_string(&args.input)
            .map_err(|error| format!("cannot read {}: {error}", args.input))?;
    }

    let mut all_valid = true;
    let mut count = 0;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        count += 1;
        let mut verification = verify(line, &options);
        if !verification.status.is_empty() {
            let mut lists = given_lists.clone();
            let missing: Vec<String> = verification
                .status_uris()
                .into_iter()
                .filter(|uri| !lists.contains_key(uri))
                .collect();
            if let Some(fetch) = &fetcher {
                lists.extend(fetch.lists(&missing, &options));
            }
            apply_status(&mut verification, &lists);
        }
        all_valid &= verification.valid;
        let written = if args.json {
            writeln!(out, "{}", json_report(&verification))
        } else {
            write_text_report(&mut out, &verification)
        };
        written.map_err(|error| format!("cannot write the result: {error}"))?;
    }
    if count == 0 {
        return Err(format!(
            "{} holds no credential",
            if args.input == "-" {
                "standard input"
            } else {
                &args.input
            }
        ));
    }
    Ok(all_valid)
}

pub(super) fn load_anchors(paths: &[PathBuf]) -> Result<Vec<X509>, String> {
    let mut anchors = Vec::new();
    for path in paths {
        let pem = fs::read(path)
            .map_err(|error| format!("cannot read trust anchor {}: {error}", path.display()))?;
        let certificates = X509::stack_from_pem(&pem).map_err(|error| {
            format!("{} is not a PEM certificate file: {error}", path.display())
        })?;
        if certificates.is_empty() {
            return Err(format!("{} holds no PEM certificate", path.display()));
        }
        anchors.extend(certificates);
    }
    Ok(anchors)
}

/// Reads the status list files, verifies each, and returns them by the URL each names itself by.
fn load_status_lists(paths: &[PathBuf], options: &VerifyOptions) -> Result<StatusLists, String> {
    let mut lists = StatusLists::new();
    for path in paths {
        let text = fs::read_to_string(path)
            .map_err(|error| format!("cannot read the status list {}: {error}", path.display()))?;
        let list = StatusList::parse(&text, None, options)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        lists.insert(list.uri.clone(), Ok(Arc::new(list)));
    }
    Ok(lists)
}

/// Fetches status lists over HTTP on a runtime of its own, for the synchronous command line.
struct StatusFetch {
    runtime: tokio::runtime::Runtime,
    fetcher: StatusListFetcher,
}

impl StatusFetch {
    fn new() -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| format!("cannot start the async runtime: {error}"))?;
        Ok(Self {
            runtime,
            fetcher: StatusListFetcher::new(None)?,
        })
    }

    fn lists(&self, uris: &[String], options: &VerifyOptions) -> StatusLists {
        if uris.is_empty() {
            return StatusLists::new();
        }
        self.runtime.block_on(self.fetcher.lists(uris, options))
    }
}

fn json_report(verification: &Verification) -> serde_json::Value {
    json!({
        "valid": verification.valid,
        "format": verification.format,
        "claims": verification.claims,
        "metadata": verification.metadata,
        "checks": verification.checks(),
        "errors": verification.errors,
    })
}

fn write_text_report(out: &mut impl Write, verification: &Verification) -> io::Result<()> {
    let format = verification
        .format
        .map_or("unknown format", |format| format.as_str());
    if verification.valid {
        let issuer = verification
            .metadata
            .get("issuer")
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        let until = verification
            .metadata
            .get("valid_until")
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        writeln!(
            out,
            "valid {format} credential from {issuer}, valid until {until}"
        )?;
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&verification.claims).unwrap_or_default()
        )?;
    } else {
        writeln!(out, "invalid {format} credential")?;
        for error in &verification.errors {
            writeln!(out, "  {}: {error}", error.code())?;
        }
    }
    Ok(())
}
