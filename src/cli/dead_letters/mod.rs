//! `webhook-sink dead-letters list|show|replay|purge --config FILE --sink ID`: the operator's
//! tool for the records one sink gave up on (its retry store under `data_dir/<sink id>/`).
//!
//! `list` prints a table (or `--json` lines), `show` one record with its request, `replay` moves
//! records back to the waiting ones with a fresh schedule, `purge` deletes them. `list`, `replay`
//! and `purge` take the same filters (`--id`, `--stream`, `--before`, `--since`, combined with
//! AND, applied in SQL); `purge` refuses to delete everything without `--all`. Everything works
//! while the sink runs. The store work is [`webhook_sink::retry::dead_letters`]; this module is
//! its command line: [`table`] and [`show`] print, [`time`] reads and prints times.

mod show;
mod table;
mod time;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use pipeline_host::Config;
use webhook_sink::retry::dead_letters::{DeadLetters, Filter};
use webhook_sink::retry::store::StoreError;
use webhook_sink::stream::Stream;
use webhook_sink::WebhookSinkConfig;

use time::{now_ms, TimeArg};

/// Arguments of `dead-letters`.
#[derive(Debug, clap::Args)]
pub struct DeadLettersArgs {
    #[command(subcommand)]
    action: Action,
}

/// What to do with the dead letters.
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Print the dead letters as a table (id, stream, insert id, event type, user id,
    /// attempts, age, last error), or as JSON lines with `--json`.
    List(ListArgs),
    /// Print one dead letter in full: its failed attempts, then the request's headers (secret
    /// values redacted) and its payload.
    Show(ShowArgs),
    /// Move dead letters back to the waiting records, due at once with a fresh schedule of
    /// attempts; a running sink sends them within a second.
    Replay(ReplayArgs),
    /// Delete dead letters for good (`--all`, or the filtered ones).
    Purge(PurgeArgs),
}

/// Which sink's store.
#[derive(Debug, clap::Args)]
struct Target {
    /// The pipeline config (TOML); its `data_dir` locates the store, and the sink's table
    /// names its custom headers (redacted by `show`).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// The id of the webhook sink (`hook` for `[sinks.hook]`).
    #[arg(long, value_name = "ID")]
    sink: String,
}

/// Which dead letters; every filter given must match (AND).
#[derive(Debug, clap::Args)]
struct Filters {
    /// Only the dead letter with this id (as `list` shows it); repeat the flag, or separate ids
    /// with commas, for several.
    #[arg(
        long = "id",
        value_name = "N",
        value_delimiter = ',',
        value_parser = clap::value_parser!(i64).range(1..)
    )]
    ids: Vec<i64>,

    /// Only the dead letters of this stream.
    #[arg(long, value_enum, value_name = "STREAM")]
    stream: Option<StreamArg>,

    /// Only the records that became dead letters before TIME: an RFC 3339 time such as
    /// 2024-05-01T12:00:00Z, or an age such as 30m, 2h, 7d or 1d12h meaning that long ago
    /// (`--before 7d`: given up on more than a week ago).
    #[arg(long, value_name = "TIME", value_parser = time::parse_time)]
    before: Option<TimeArg>,

    /// Only the records that became dead letters at or after TIME (same forms as --before;
    /// `--since 1h`: given up on in the last hour, i.e. AGE below 1h in `list`).
    #[arg(long, value_name = "TIME", value_parser = time::parse_time)]
    since: Option<TimeArg>,
}

/// The stream names `--stream` accepts.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum StreamArg {
    /// The event stream.
    Events,
    /// The user stream.
    Users,
}

impl Filters {
    /// The store's filter, with relative times counted back from `now_ms`.
    fn resolve(&self, now_ms: i64) -> Filter {
        Filter {
            ids: self.ids.clone(),
            stream: self.stream.map(|stream| match stream {
                StreamArg::Events => Stream::Events,
                StreamArg::Users => Stream::Users,
            }),
            dead_before: self.before.map(|time| time.resolve(now_ms)),
            dead_since: self.since.map(|time| time.resolve(now_ms)),
        }
    }
}

/// Arguments of `dead-letters list`.
#[derive(Debug, clap::Args)]
struct ListArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    filters: Filters,
    /// One JSON object per line with every field (times as RFC 3339, the failure history)
    /// instead of the table; nothing at all when there are no dead letters.
    #[arg(long)]
    json: bool,
}

/// Arguments of `dead-letters show`.
#[derive(Debug, clap::Args)]
struct ShowArgs {
    #[command(flatten)]
    target: Target,
    /// The dead letter's id (as `list` shows it).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    id: i64,
}

/// Arguments of `dead-letters replay`.
#[derive(Debug, clap::Args)]
struct ReplayArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    filters: Filters,
}

/// Arguments of `dead-letters purge`.
#[derive(Debug, clap::Args)]
struct PurgeArgs {
    #[command(flatten)]
    target: Target,
    #[command(flatten)]
    filters: Filters,
    /// Delete every dead letter. Without it, purge needs a filter: deleting everything is never
    /// the default.
    #[arg(long, conflicts_with_all = ["ids", "stream", "before", "since"])]
    all: bool,
}

/// Why a command failed, and so its exit code.
enum CommandError {
    /// The command line asks for something refused (exit 2, like clap's usage errors).
    Usage(String),
    /// The config, the store or the output failed, or the record does not exist (exit 1).
    Failed(String),
}

impl From<StoreError> for CommandError {
    fn from(error: StoreError) -> CommandError {
        CommandError::Failed(error.to_string())
    }
}

/// Runs the action; exit 1 with the reason when the config or the store cannot be used, exit 2
/// when `purge` is given neither `--all` nor a filter.
pub fn execute(args: DeadLettersArgs) -> ExitCode {
    let result = match args.action {
        Action::List(args) => list(&args),
        Action::Show(args) => show(&args),
        Action::Replay(args) => replay(&args),
        Action::Purge(args) => purge(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CommandError::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(CommandError::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `list`: the matching dead letters as a table or JSON lines.
fn list(args: &ListArgs) -> Result<(), CommandError> {
    let (_, store) = open(&args.target)?;
    let now = now_ms();
    let letters = store.list(&args.filters.resolve(now))?;
    let mut out = io::stdout().lock();
    if args.json {
        output(table::write_json_lines(&mut out, &letters, now))
    } else {
        output(table::write_table(&mut out, &letters, now))
    }
}

/// `show`: one dead letter and its request; exit 1 when there is none with that id.
fn show(args: &ShowArgs) -> Result<(), CommandError> {
    let (sink, store) = open(&args.target)?;
    let found = store.get(args.id)?;
    let Some((letter, request)) = found else {
        return Err(CommandError::Failed(format!(
            "no dead letter with id {}",
            args.id
        )));
    };
    // The custom headers are the ones the config marks sensitive (the presets are not).
    let custom: Vec<String> = sink
        .config
        .headers
        .iter()
        .filter(|(_, value)| value.is_sensitive())
        .map(|(name, _)| name.as_str().to_owned())
        .collect();
    let mut out = io::stdout().lock();
    let url = &sink.config.url;
    output(show::write_letter(
        &mut out,
        &letter,
        &request,
        url,
        &custom,
        now_ms(),
    ))
}

/// `replay`: the matching dead letters back to the waiting records.
fn replay(args: &ReplayArgs) -> Result<(), CommandError> {
    let (_, mut store) = open(&args.target)?;
    let replayed = store.replay(&args.filters.resolve(now_ms()))?;
    output(writeln!(io::stdout(), "replayed {replayed} dead letters"))
}

/// `purge`: deletes the matching dead letters; an unfiltered purge must say `--all`, since a
/// forgotten filter would otherwise delete everything.
fn purge(args: &PurgeArgs) -> Result<(), CommandError> {
    let filter = args.filters.resolve(now_ms());
    if filter.is_all() && !args.all {
        return Err(CommandError::Usage(
            "purge deletes dead letters for good, so it needs --all (every dead letter) or a \
             filter (--id, --stream, --before, --since)"
                .to_owned(),
        ));
    }
    let (_, store) = open(&args.target)?;
    let purged = store.purge(&filter)?;
    output(writeln!(io::stdout(), "purged {purged} dead letters"))
}

/// Reads the config (which must have `[sinks.ID]` of type `webhook`) and opens that sink's
/// store with the store's own opener (busy timeout included, so it waits out a running sink's
/// commits).
fn open(target: &Target) -> Result<(WebhookSinkConfig, DeadLetters), CommandError> {
    let invalid = |error: &dyn std::fmt::Display| {
        CommandError::Failed(format!(
            "invalid config {}: {error}",
            target.config.display()
        ))
    };
    let config = Config::from_path(&target.config, &super::registry()).map_err(|e| invalid(&e))?;
    let text = pipeline_host::config::read_config_text(&target.config).map_err(|e| invalid(&e))?;
    let sink =
        webhook_sink::prepare::preview::sink_config_in(&text, &target.sink, target.config.parent())
            .map_err(|e| invalid(&e))?;
    let dir = config.data_dir.join(&target.sink);
    let store = DeadLetters::open(&dir).map_err(|e| CommandError::Failed(e.to_string()))?;
    Ok((sink, store))
}

/// A write to standard output; a closed pipe (`list | head`) is not an error.
fn output(result: io::Result<()>) -> Result<(), CommandError> {
    match result {
        Err(error) if error.kind() != io::ErrorKind::BrokenPipe => Err(CommandError::Failed(
            format!("writing to standard output: {error}"),
        )),
        _ => Ok(()),
    }
}
