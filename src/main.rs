//! The `webhook-sink` binary: the pipeline host with the plugin sinks compiled in, plus the
//! command-line tools around it (see `cli`).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
