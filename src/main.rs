//! The `intyg` command: serve, issue, verify and keys.

/// mimalloc instead of the system allocator: a request allocates and frees many small buffers
/// across the runtime's threads, where glibc's allocator took about a tenth of the server's CPU
/// time in the wallet flow benchmark (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    intyg::cli::main()
}
