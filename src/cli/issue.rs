//! `intyg issue`: claims in, one credential a line out, streaming and in parallel.
//!
//! The input is either one JSON document (one certificate) or JSON Lines (one certificate's claims
//! a line). A reader thread cuts the lines into chunks, one worker a core validates and signs them,
//! and the main thread writes the results in input order, so memory stays flat however long the
//! input is. A rejected line is reported with its number and the rest are still issued.
//!
//! With `--format pdf` or `--format pkpass` each worker writes one file a certificate into the
//! `--out` directory, named by the input line number (`000001.pdf`), and the output lists the
//! written paths in input order.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{load_signing_key, load_wallets, EXIT_USAGE};
use crate::certificate::TypeRegistry;
use crate::config::Config;
use crate::crypto::parse_holder_jwk;
use crate::formats::Format;
use crate::issuer::{IssueRequest, Issuer, PassRequest};

#[derive(Debug, Args)]
pub(super) struct IssueArgs {
    /// Certificate type: a folder name under schemas/, such as covid-certificate.
    #[arg(long = "type", value_name = "TYPE")]
    type_id: String,
    /// Output format: dc+sd-jwt, vc+jwt, jwt_vc_json, hcert (the signed 2D code payload), pdf or
    /// pkpass (an Apple Wallet pass); pdf and pkpass write one file a certificate into --out.
    #[arg(long, value_name = "FORMAT")]
    format: OutputFormat,
    /// Input: one JSON document or JSON Lines; - for standard input.
    #[arg(long = "in", value_name = "PATH|-", default_value = "-")]
    input: String,
    /// Output file, written whole or not at all [default: standard output]. With --format pdf or
    /// pkpass, the existing directory that receives the files.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// The holder's public JWK (JSON file); each credential is bound to it with cnf.jwk.
    #[arg(long, value_name = "PATH")]
    holder_jwk: Option<PathBuf>,
    /// Validity in days [default: the certificate type's default_validity_days].
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=36500))]
    validity_days: Option<u32>,
}

/// The output of `intyg issue`: credentials, one a line, or files, one a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputFormat {
    Credential(Format),
    Pdf,
    Pkpass,
}

impl OutputFormat {
    /// Returns the extension of the files this format writes, or `None` for credentials in lines.
    fn file_extension(self) -> Option<&'static str> {
        match self {
            OutputFormat::Credential(_) => None,
            OutputFormat::Pdf => Some("pdf"),
            OutputFormat::Pkpass => Some("pkpass"),
        }
    }
}

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "pdf" => return Ok(OutputFormat::Pdf),
            "pkpass" => return Ok(OutputFormat::Pkpass),
            _ => {}
        }
        Format::from_str(text)
            .map(OutputFormat::Credential)
            .map_err(|_| {
                format!("unknown format {text:?}; use dc+sd-jwt, vc+jwt, jwt_vc_json, hcert, pdf or pkpass")
            })
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputFormat::Credential(format) => format.fmt(f),
            OutputFormat::Pdf => f.write_str("pdf"),
            OutputFormat::Pkpass => f.write_str("pkpass"),
        }
    }
}

/// Lines per chunk handed to a worker: large enough that channel overhead is negligible next to
/// the signatures, small enough that a chunk in flight per worker keeps memory flat.
const CHUNK_LINES: usize = 256;

/// One input line: its 1-based number and text.
type Line = (usize, String);

/// The result of one line: a credential, or the message that rejects the line.
type Outcome = Result<String, String>;

pub(super) fn run(args: IssueArgs, config: &Config) -> ExitCode {
    let prepared = prepare(&args, config);
    let (issuer, holder_jwk) = match prepared {
        Ok(prepared) => prepared,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match issue_stream(&args, &issuer, holder_jwk.as_ref()) {
        Ok(summary) => {
            if summary.rejected == 0 {
                eprintln!("issued {} {} credentials", summary.issued, args.format);
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "issued {} {} credentials; rejected {} lines (see the messages above)",
                    summary.issued, args.format, summary.rejected
                );
                ExitCode::from(EXIT_USAGE)
            }
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn prepare(
    args: &IssueArgs,
    config: &Config,
) -> Result<(Issuer, Option<Map<String, Value>>), String> {
    if let Some(extension) = args.format.file_extension() {
        check_out_directory(extension, args.out.as_deref())?;
    }
    let types = TypeRegistry::load(&config.schemas_dir).map_err(|error| error.to_string())?;
    types
        .get(&args.type_id)
        .map_err(|error| error.to_string())?;
    let key = load_signing_key(config).map_err(|error| error.to_string())?;
    let holder_jwk = match &args.holder_jwk {
        Some(path) => Some(read_holder_jwk(path)?),
        None => None,
    };
    let wallets = match args.format {
        OutputFormat::Pkpass => Some(Arc::new(load_wallets(config)?)),
        _ => None,
    };
    let issuer = Issuer {
        types,
        key: Arc::new(key),
        issuer_id: config.public_url.clone(),
        wallets,
    };
    Ok((issuer, holder_jwk))
}

/// Checks that `--out` names an existing directory, as `--format pdf` and `pkpass` need.
fn check_out_directory(extension: &str, out: Option<&Path>) -> Result<(), String> {
    let Some(directory) = out else {
        return Err(format!(
            "--format {extension} writes one file a certificate, so it needs --out DIR naming an existing directory"
        ));
    };
    if !directory.is_dir() {
        return Err(format!(
            "--out {} is not a directory; --format {extension} writes one file a certificate into an existing directory, so create it first",
            directory.display()
        ));
    }
    Ok(())
}

fn read_holder_jwk(path: &Path) -> Result<Map<String, Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the holder JWK {}: {error}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|error| format!("the holder JWK {} is not JSON: {error}", path.display()))?;
    parse_holder_jwk(&value)
        .map_err(|error| format!("the holder JWK {} cannot be used: {error}", path.display()))
}

#[derive(Debug, Default)]
struct Summary {
    issued: usize,
    rejected: usize,
}

fn issue_stream(
    args: &IssueArgs,
    issuer: &Issuer,
    holder_jwk: Option<&Map<String, Value>>,
) -> Result<Summary, String> {
    let source: Box<dyn Read + Send> = if args.input == "-" {
        Box::new(io::stdin())
    } else {
        Box::new(
            File::open(&args.input)
                .map_err(|error| format!("cannot open {}: {error}", args.input))?,
        )
    };
    let mut reader = BufReader::with_capacity(1 << 16, source);
    let first = read_first_record(&mut reader, &args.input)?;

    // Files go into the --out directory, and the output lists their paths.
    let sink_path = match args.format {
        OutputFormat::Credential(_) => args.out.as_deref(),
        OutputFormat::Pdf | OutputFormat::Pkpass => None,
    };
    let mut sink = Sink::open(sink_path)?;
    let progress = Progress::new();
    let mut summary = Summary::default();
    let mut record = |outcome: Outcome, sink: &mut Sink| -> Result<(), String> {
        match outcome {
            Ok(credential) => {
                sink.write_line(&credential)?;
                summary.issued += 1;
            }
            Err(message) => {
                progress.suspend(|| eprintln!("{message}"));
                summary.rejected += 1;
            }
        }
        progress.tick();
        Ok(())
    };

    match first {
        FirstRecord::Empty => return Err(format!("{} holds no claims", input_name(&args.input))),
        FirstRecord::Document(claims) => {
            record(issue_line(issuer, args, holder_jwk, 1, &claims), &mut sink)?;
        }
        FirstRecord::JsonLines(first_line) => {
            let workers = std::thread::available_parallelism().map_or(2, usize::from);
            run_pipeline(
                reader,
                first_line,
                workers,
                |line| issue_json_line(issuer, args, holder_jwk, line),
                |outcome| record(outcome, &mut sink),
            )?;
        }
    }
    progress.finish();
    sink.commit(sink_path)?;
    Ok(summary)
}

/// The start of the input: nothing, a first JSON line (JSON Lines), or a whole document.
enum FirstRecord {
    Empty,
    JsonLines(Line),
    Document(Value),
}

/// Reads up to the first non-blank line. If that line is a complete JSON value the input is JSON
/// Lines, otherwise the input is read whole as one (pretty-printed) document.
fn read_first_record(reader: &mut impl BufRead, input: &str) -> Result<FirstRecord, String> {
    let mut number = 0;
    let mut line = String::new();
    loop {
        line.clear();
        number += 1;
        let read = reader
            .read_line(&mut line)
            .map_err(|error| format!("cannot read {}: {error}", input_name(input)))?;
        if read == 0 {
            return Ok(FirstRecord::Empty);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    if serde_json::from_str::<Value>(&line).is_ok() {
        return Ok(FirstRecord::JsonLines((number, line)));
    }
    let mut document = line;
    reader
        .read_to_string(&mut document)
        .map_err(|error| format!("cannot read {}: {error}", input_name(input)))?;
    serde_json::from_str(&document).map(FirstRecord::Document).map_err(|error| {
        format!(
            "{} is neither JSON Lines nor one JSON document: {error} (line {}, counting from the first non-blank line)",
            input_name(input),
            error.line()
        )
    })
}

fn input_name(input: &str) -> String {
    if input == "-" {
        "standard input".into()
    } else {
        input.to_owned()
    }
}

fn issue_json_line(
    issuer: &Issuer,
    args: &IssueArgs,
    holder_jwk: Option<&Map<String, Value>>,
    (number, text): Line,
) -> Option<Outcome> {
    if text.trim().is_empty() {
        return None;
    }
    Some(match serde_json::from_str::<Value>(&text) {
        Ok(claims) => issue_line(issuer, args, holder_jwk, number, &claims),
        Err(error) => Err(format!("line {number}: not valid JSON: {error}")),
    })
}

fn issue_line(
    issuer: &Issuer,
    args: &IssueArgs,
    holder_jwk: Option<&Map<String, Value>>,
    number: usize,
    claims: &Value,
) -> Outcome {
    let certificate_id = uuid::Uuid::new_v4().to_string();
    let format = match args.format {
        OutputFormat::Credential(format) => format,
        OutputFormat::Pdf | OutputFormat::Pkpass => Format::Hcert,
    };
    let request = IssueRequest {
        type_id: &args.type_id,
        format,
        claims,
        holder_jwk,
        certificate_id: &certificate_id,
        issued_at: OffsetDateTime::now_utc(),
        validity_days: args.validity_days,
        // The command line stores no certificate, so there is no status list entry to point at.
        status: None,
    };
    let file = match args.format {
        OutputFormat::Credential(_) => {
            return issuer
                .issue(&request)
                .map_err(|error| format!("line {number}: {error}"))
        }
        OutputFormat::Pdf => issuer.issue_pdf(&request),
        OutputFormat::Pkpass => issuer.issue_pass(&request, &PassRequest::default()),
    }
    .map_err(|error| format!("line {number}: {error}"))?;
    match (args.format.file_extension(), &args.out) {
        (Some(extension), Some(directory)) => write_file(directory, number, extension, &file)
            .map_err(|error| format!("line {number}: {error}")),
        _ => Err(format!(
            "line {number}: --format {} needs --out DIR naming an existing directory",
            args.format
        )),
    }
}

/// Writes `bytes` as `directory/NNNNNN.EXTENSION`, named by the input line number, through a
/// temporary file in the same directory, so the file appears whole or not at all. Returns its
/// path.
fn write_file(
    directory: &Path,
    number: usize,
    extension: &str,
    bytes: &[u8],
) -> Result<String, String> {
    let path = directory.join(format!("{number:06}.{extension}"));
    let mut file = tempfile::NamedTempFile::new_in(directory)
        .map_err(|error| format!("cannot create a file in {}: {error}", directory.display()))?;
    // A temporary file is private (mode 0600), and a PDF or pass is readable like any other file.
    #[cfg(unix)]
    let readable = std::os::unix::fs::PermissionsExt::from_mode(0o644);
    #[cfg(unix)]
    file.as_file()
        .set_permissions(readable)
        .map_err(|error| format!("cannot set the permissions of {}: {error}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    file.persist(&path).map_err(|error| {
        format!(
            "cannot move the file into {}: {}",
            path.display(),
            error.error
        )
    })?;
    Ok(path.display().to_string())
}

/// Runs `work` over every line on `workers` threads and hands the outcomes to `deliver` in input
/// order. Channels are bounded, so at most about three chunks per worker are in memory.
fn run_pipeline<W, D>(
    reader: impl BufRead + Send,
    first: Line,
    workers: usize,
    work: W,
    mut deliver: D,
) -> Result<(), String>
where
    W: Fn(Line) -> Option<Outcome> + Sync,
    D: FnMut(Outcome) -> Result<(), String>,
{
    let (chunk_sender, chunk_receiver) = sync_channel::<(usize, Vec<Line>)>(workers * 2);
    let (result_sender, result_receiver) = sync_channel::<(usize, Vec<Outcome>)>(workers * 2);
    let chunk_receiver = Arc::new(Mutex::new(chunk_receiver));

    std::thread::scope(|scope| {
        let reading = scope.spawn(move || read_chunks(reader, first, chunk_sender));
        for _ in 0..workers {
            let chunk_receiver = Arc::clone(&chunk_receiver);
            let result_sender = result_sender.clone();
            let work = &work;
            scope.spawn(move || {
                while let Some((sequence, lines)) = next_chunk(&chunk_receiver) {
                    let outcomes = lines.into_iter().filter_map(work).collect();
                    if result_sender.send((sequence, outcomes)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(result_sender);

        let delivered = deliver_in_order(&result_receiver, &mut deliver);
        // On a write error, dropping the receiver stops the workers, and they stop the reader.
        drop(result_receiver);
        let read = reading
            .join()
            .unwrap_or_else(|_| Err("the input reader stopped unexpectedly".into()));
        delivered.and(read)
    })
}

fn next_chunk(receiver: &Mutex<Receiver<(usize, Vec<Line>)>>) -> Option<(usize, Vec<Line>)> {
    // A poisoned lock means another worker panicked; stop taking work so the error surfaces.
    receiver.lock().ok()?.recv().ok()
}

fn read_chunks(
    mut reader: impl BufRead,
    first: Line,
    sender: std::sync::mpsc::SyncSender<(usize, Vec<Line>)>,
) -> Result<(), String> {
    let mut number = first.0;
    let mut chunk = Vec::with_capacity(CHUNK_LINES);
    chunk.push(first);
    let mut sequence = 0;
    loop {
        let mut text = String::new();
        let read = reader
            .read_line(&mut text)
            .map_err(|error| format!("cannot read line {}: {error}", number + 1))?;
        if read == 0 {
            break;
        }
        number += 1;
        chunk.push((number, text));
        if chunk.len() == CHUNK_LINES {
            if sender.send((sequence, std::mem::take(&mut chunk))).is_err() {
                return Ok(());
            }
            sequence += 1;
            chunk.reserve(CHUNK_LINES);
        }
    }
    if !chunk.is_empty() {
        let _ = sender.send((sequence, chunk));
    }
    Ok(())
}

fn deliver_in_order<D>(
    receiver: &Receiver<(usize, Vec<Outcome>)>,
    deliver: &mut D,
) -> Result<(), String>
where
    D: FnMut(Outcome) -> Result<(), String>,
{
    let mut pending = BTreeMap::new();
    let mut next = 0;
    for (sequence, outcomes) in receiver {
        pending.insert(sequence, outcomes);
        while let Some(outcomes) = pending.remove(&next) {
            for outcome in outcomes {
                deliver(outcome)?;
            }
            next += 1;
        }
    }
    Ok(())
}

/// The destination of credentials: standard output, or a temporary file beside the target that
/// replaces it only when everything was written, so a failed run leaves no half-written file.
enum Sink {
    Stdout(BufWriter<io::Stdout>),
    File(BufWriter<tempfile::NamedTempFile>),
}

impl Sink {
    fn open(out: Option<&Path>) -> Result<Self, String> {
        match out {
            None => Ok(Sink::Stdout(BufWriter::with_capacity(
                1 << 16,
                io::stdout(),
            ))),
            Some(path) => {
                let directory = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let file = tempfile::NamedTempFile::new_in(directory).map_err(|error| {
                    format!("cannot create a file in {}: {error}", directory.display())
                })?;
                Ok(Sink::File(BufWriter::with_capacity(1 << 16, file)))
            }
        }
    }

    fn write_line(&mut self, line: &str) -> Result<(), String> {
        let writer: &mut dyn Write = match self {
            Sink::Stdout(writer) => writer,
            Sink::File(writer) => writer,
        };
        writer
            .write_all(line.as_bytes())
            .and_then(|()| writer.write_all(b"\n"))
            .map_err(|error| format!("cannot write the output: {error}"))
    }

    fn commit(self, out: Option<&Path>) -> Result<(), String> {
        match (self, out) {
            (Sink::Stdout(mut writer), _) => writer
                .flush()
                .map_err(|error| format!("cannot write standard output: {error}")),
            (Sink::File(writer), Some(path)) => {
                let file = writer.into_inner().map_err(|error| {
                    format!("cannot write {}: {}", path.display(), error.error())
                })?;
                file.as_file()
                    .sync_all()
                    .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
                file.persist(path).map(drop).map_err(|error| {
                    format!(
                        "cannot move the output into {}: {}",
                        path.display(),
                        error.error
                    )
                })
            }
            (Sink::File(_), None) => Err("no output path for the output file".into()),
        }
    }
}

/// A progress bar on standard error that appears only once a run has taken more than a second.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: std::cell::Cell<bool>,
}

impl Progress {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {pos} lines processed, {per_sec} [{elapsed}]")
        {
            bar.set_style(style);
        }
        Self {
            bar,
            started: Instant::now(),
            shown: std::cell::Cell::new(false),
        }
    }

    fn tick(&self) {
        self.bar.inc(1);
        if !self.shown.get() && self.started.elapsed() > Duration::from_secs(1) {
            self.shown.set(true);
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn suspend(&self, action: impl FnOnce()) {
        self.bar.suspend(action);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
