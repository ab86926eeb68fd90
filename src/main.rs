//! The `webhook-sink` binary: the pipeline host with the plugin sinks compiled in, plus the
//! command-line tools around it (see `cli`).

mod cli;

/// mimalloc: the sink allocates and frees many small buffers per request, where glibc's
/// allocator spends a quarter of the CPU (see README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
