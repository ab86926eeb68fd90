//! The `webhook-sink` binary: the pipeline host with the plugin sinks compiled in, plus the
//! command-line tools around it (see `cli`).

mod cli;

/// mimalloc: the sink allocates and frees many small buffers per request, where glibc's
/// allocator spends a quarter of the CPU (see README, Performance). Its v2 line (the crate's
/// `v2` feature): 3-5% less CPU per event than v3 on the throughput benchmark, where payloads
/// allocated on one thread are freed on another.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
