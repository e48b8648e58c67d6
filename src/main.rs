//! The `intyg` command: serve, issue, verify and keys.

fn main() -> std::process::ExitCode {
    intyg::cli::main()
}
