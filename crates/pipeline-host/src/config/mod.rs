//! The pipeline config file: reading it with its environment variables replaced ([`env`]),
//! parsing the TOML, validating every component strictly (unknown keys refused, errors naming
//! the key path) and checking the `inputs` graph.

pub mod env;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use pipeline_core::config::join_path;
use pipeline_core::{deserialize_table, ConfigError, FactoryContext, Registry, SinkConfig};
use serde::Deserialize;

use crate::sinks::register_builtins;
use crate::sources::http_server::HttpServerConfig;
use crate::sources::{AmplitudeHttpConfig, DemoConfig, StdinConfig};
use crate::transforms::{DedupeConfig, FilterConfig, UserStateConfig};

/// Where state lives when the config does not say; like any relative `data_dir`, it is taken
/// from the config file's directory (or the working directory for config text without a file).
pub const DEFAULT_DATA_DIR: &str = "./data";

const TOP_LEVEL_KEYS: [&str; 5] = ["data_dir", "api", "sources", "transforms", "sinks"];

/// A validated pipeline config.
#[derive(Debug)]
pub struct Config {
    /// Directory for durable state, handed to sinks. A relative `data_dir` is already joined to
    /// the config file's directory here, so the state does not move with the working directory.
    pub data_dir: PathBuf,
    /// The `/health` and `/metrics` server, when configured.
    pub api: Option<ApiConfig>,
    /// Sources, by id order.
    pub sources: Vec<SourceEntry>,
    /// Transforms, by id order.
    pub transforms: Vec<TransformEntry>,
    /// Sinks, by id order.
    pub sinks: Vec<SinkEntry>,
}

/// `[api]`: where to serve `/health` and `/metrics`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// The address to listen on, e.g. `127.0.0.1:9598`.
    pub address: SocketAddr,
}

/// A `[sources.ID]` table.
#[derive(Clone, Debug)]
pub struct SourceEntry {
    /// The source's id.
    pub id: String,
    /// Its validated settings.
    pub config: SourceConfig,
}

/// The built-in source types.
#[derive(Clone, Debug)]
pub enum SourceConfig {
    /// `type = "stdin"`: NDJSON from standard input.
    Stdin(StdinConfig),
    /// `type = "demo"`: synthetic Amplitude events.
    Demo(DemoConfig),
    /// `type = "amplitude_http"`: Amplitude's HTTP V2, Batch and Identify ingestion APIs.
    AmplitudeHttp(AmplitudeHttpConfig),
    /// `type = "http_server"`: JSON, JSON arrays or NDJSON posted by any HTTP client.
    HttpServer(HttpServerConfig),
}

impl SourceConfig {
    /// The config `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            SourceConfig::Stdin(_) => "stdin",
            SourceConfig::Demo(_) => "demo",
            SourceConfig::AmplitudeHttp(_) => "amplitude_http",
            SourceConfig::HttpServer(_) => "http_server",
        }
    }
}

/// A `[transforms.ID]` table.
#[derive(Clone, Debug)]
pub struct TransformEntry {
    /// The transform's id.
    pub id: String,
    /// The ids of the components feeding it.
    pub inputs: Vec<String>,
    /// Its validated settings.
    pub config: TransformConfig,
}

/// The built-in transform types.
#[derive(Clone, Debug)]
pub enum TransformConfig {
    /// `type = "filter"`: keeps events matching a condition.
    Filter(FilterConfig),
    /// `type = "dedupe"`: drops resent events, durably.
    Dedupe(DedupeConfig),
    /// `type = "user_state"`: gives every event its user's resolved properties.
    UserState(UserStateConfig),
}

impl TransformConfig {
    /// The config `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            TransformConfig::Filter(_) => "filter",
            TransformConfig::Dedupe(_) => "dedupe",
            TransformConfig::UserState(_) => "user_state",
        }
    }
}

/// A `[sinks.ID]` table.
#[derive(Debug)]
pub struct SinkEntry {
    /// The sink's id.
    pub id: String,
    /// Its `type` (a registry name).
    pub component_type: String,
    /// The ids of the components feeding it.
    pub inputs: Vec<String>,
    /// Its validated settings, from the registry's factory.
    pub config: Box<dyn SinkConfig>,
}

impl Config {
    /// Read and validate the config at `path`; sink types are looked up in `registry` (plus the
    /// host's built-ins). A relative `data_dir`, and the relative paths in sink tables, are
    /// resolved against the file's directory.
    ///
    /// The text is read with [`read_config_text`], so `${VAR}` references are replaced first.
    pub fn from_path(path: &Path, registry: &Registry) -> Result<Config, ConfigError> {
        let text = read_config_text(path)?;
        let config_dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        Config::from_toml_str_in(&text, registry, config_dir)
    }

    /// Validate a config given as TOML text; sink types are looked up in `registry` (plus the
    /// host's built-ins). `data_dir` and sinks take relative paths from the working directory.
    /// The text is taken as it is: environment variables are replaced only when reading a file
    /// (or by calling [`env::interpolate_env`] first).
    pub fn from_toml_str(text: &str, registry: &Registry) -> Result<Config, ConfigError> {
        Config::parse(text, registry, &FactoryContext::default())
    }

    /// Validate config text read from a file in `config_dir`, against which a relative
    /// `data_dir` and the sinks' relative paths (e.g. `template_file`) are resolved.
    pub fn from_toml_str_in(
        text: &str,
        registry: &Registry,
        config_dir: &Path,
    ) -> Result<Config, ConfigError> {
        Config::parse(text, registry, &FactoryContext::in_dir(config_dir))
    }

    /// Validate config text; `cx` tells the sink factories where the text came from.
    fn parse(text: &str, registry: &Registry, cx: &FactoryContext) -> Result<Config, ConfigError> {
        let mut registry = registry.clone();
        register_builtins(&mut registry);
        let document: toml::Table = text.parse().map_err(|error: toml::de::Error| {
            ConfigError::new("", error.to_string().trim_end().to_string())
        })?;
        // Explicit: next to the config file when relative. Default: `./data` of the working
        // directory, as DESIGN.md documents it.
        let mut data_dir = None;
        let mut api = None;
        let mut sources = Vec::new();
        let mut transforms = Vec::new();
        let mut sinks = Vec::new();
        for (key, value) in document {
            match key.as_str() {
                "data_dir" => {
                    data_dir = match value {
                        toml::Value::String(path) if !path.is_empty() => {
                            Some(resolve_data_dir(PathBuf::from(path), cx))
                        }
                        _ => return Err(ConfigError::new("data_dir", "expected a directory path")),
                    }
                }
                "api" => {
                    let table = expect_table(value, "api")?;
                    api = Some(deserialize_table(table).map_err(|e| e.within("api"))?);
                }
                "sources" => {
                    for (id, table) in components(value, "sources")? {
                        sources.push(parse_source(id, table, cx.config_dir.as_deref())?);
                    }
                }
                "transforms" => {
                    for (id, table) in components(value, "transforms")? {
                        transforms.push(parse_transform(id, table)?);
                    }
                }
                "sinks" => {
                    for (id, table) in components(value, "sinks")? {
                        sinks.push(parse_sink(id, table, &registry, cx)?);
                    }
                }
                _ => {
                    return Err(ConfigError::new(
                        key,
                        format!(
                            "unknown key, expected one of: {}",
                            TOP_LEVEL_KEYS.join(", ")
                        ),
                    ))
                }
            }
        }
        let config = Config {
            data_dir: data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            api,
            sources,
            transforms,
            sinks,
        };
        config.check_graph()?;
        Ok(config)
    }

    /// Every id must be unique, every input must name a source or transform, transforms must
    /// not form a cycle, and there must be something to run.
    fn check_graph(&self) -> Result<(), ConfigError> {
        if self.sources.is_empty() {
            return Err(ConfigError::new(
                "sources",
                "at least one source is required",
            ));
        }
        if self.sinks.is_empty() {
            return Err(ConfigError::new("sinks", "at least one sink is required"));
        }
        let mut kinds: HashMap<&str, &str> = HashMap::new();
        let all_ids = self
            .sources
            .iter()
            .map(|s| (s.id.as_str(), "sources"))
            .chain(
                self.transforms
                    .iter()
                    .map(|t| (t.id.as_str(), "transforms")),
            )
            .chain(self.sinks.iter().map(|s| (s.id.as_str(), "sinks")));
        for (id, kind) in all_ids {
            if let Some(first) = kinds.insert(id, kind) {
                return Err(ConfigError::new(
                    format!("{kind}.{id}"),
                    format!("the id `{id}` is already used by `{first}.{id}`"),
                ));
            }
        }
        let edges = self
            .transforms
            .iter()
            .map(|t| (format!("transforms.{}", t.id), &t.inputs))
            .chain(
                self.sinks
                    .iter()
                    .map(|s| (format!("sinks.{}", s.id), &s.inputs)),
            );
        for (path, inputs) in edges {
            let path = format!("{path}.inputs");
            if inputs.is_empty() {
                return Err(ConfigError::new(path, "at least one input is required"));
            }
            for input in inputs {
                match kinds.get(input.as_str()) {
                    Some(&"sources") | Some(&"transforms") => {}
                    Some(_) => {
                        return Err(ConfigError::new(
                            path,
                            format!("`{input}` is a sink, not an input"),
                        ))
                    }
                    None => {
                        return Err(ConfigError::new(
                            path,
                            format!("no source or transform is named `{input}`"),
                        ))
                    }
                }
            }
        }
        self.check_no_cycle()
    }

    fn check_no_cycle(&self) -> Result<(), ConfigError> {
        let inputs: BTreeMap<&str, &Vec<String>> = self
            .transforms
            .iter()
            .map(|t| (t.id.as_str(), &t.inputs))
            .collect();
        let mut done: BTreeSet<&str> = BTreeSet::new();
        for start in inputs.keys() {
            let mut path: Vec<&str> = Vec::new();
            visit_upstream(start, &inputs, &mut path, &mut done)?;
        }
        Ok(())
    }

    /// The ids of the sinks reachable downstream of component `id`.
    pub fn downstream_sinks(&self, id: &str) -> Vec<&SinkEntry> {
        let mut reached: BTreeSet<&str> = BTreeSet::from([id]);
        let mut changed = true;
        while changed {
            changed = false;
            for transform in &self.transforms {
                if !reached.contains(transform.id.as_str())
                    && transform
                        .inputs
                        .iter()
                        .any(|i| reached.contains(i.as_str()))
                {
                    reached.insert(&transform.id);
                    changed = true;
                }
            }
        }
        self.sinks
            .iter()
            .filter(|sink| sink.inputs.iter().any(|i| reached.contains(i.as_str())))
            .collect()
    }
}

/// The text of the config file at `path` with its environment variable references replaced
/// (`${VAR}`, `${VAR:-default}`, `$$`; see [`env`]): what every command that reads a config file
/// parses, so they all see the same config.
///
/// Fails when the file cannot be read, or with every reference that names an unset variable or
/// is malformed, each with its line, column and key.
pub fn read_config_text(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        ConfigError::new("", format!("cannot read {}: {error}", path.display()))
    })?;
    env::interpolate_env(&text).map_err(|error| ConfigError::new("", error.to_string()))
}

/// `data_dir` under the config file's directory when it is relative and the config came from a
/// file; as given otherwise.
fn resolve_data_dir(data_dir: PathBuf, cx: &FactoryContext) -> PathBuf {
    match &cx.config_dir {
        Some(dir) if data_dir.is_relative() => dir.join(data_dir),
        _ => data_dir,
    }
}

/// Depth-first walk from transform `id` up its inputs; `path` holds the walk so far, `done` the
/// transforms known to lead to no cycle.
fn visit_upstream<'a>(
    id: &'a str,
    inputs: &BTreeMap<&'a str, &'a Vec<String>>,
    path: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
) -> Result<(), ConfigError> {
    if done.contains(id) {
        return Ok(());
    }
    if path.contains(&id) {
        return Err(ConfigError::new(
            format!("transforms.{id}.inputs"),
            format!("the transforms form a cycle: {} -> {id}", path.join(" -> ")),
        ));
    }
    if let Some(upstream) = inputs.get(id) {
        path.push(id);
        for input in upstream.iter() {
            visit_upstream(input, inputs, path, done)?;
        }
        path.pop();
    }
    done.insert(id);
    Ok(())
}

fn expect_table(value: toml::Value, path: &str) -> Result<toml::Table, ConfigError> {
    match value {
        toml::Value::Table(table) => Ok(table),
        other => Err(ConfigError::new(
            path,
            format!("expected a table, found {}", other.type_str()),
        )),
    }
}

/// The `(id, table)` pairs of a `[sources]`/`[transforms]`/`[sinks]` section.
fn components(
    value: toml::Value,
    section: &str,
) -> Result<Vec<(String, toml::Table)>, ConfigError> {
    let mut out = Vec::new();
    for (id, value) in expect_table(value, section)? {
        let path = join_path(section, &id);
        let valid = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(ConfigError::new(
                path,
                "component ids use only letters, digits, `_` and `-`",
            ));
        }
        out.push((id, expect_table(value, &path)?));
    }
    Ok(out)
}

/// Remove and return `type` (required) from a component table.
fn take_type(table: &mut toml::Table, path: &str) -> Result<String, ConfigError> {
    match table.remove("type") {
        Some(toml::Value::String(ty)) => Ok(ty),
        Some(other) => Err(ConfigError::new(
            join_path(path, "type"),
            format!("expected a string, found {}", other.type_str()),
        )),
        None => Err(ConfigError::new(join_path(path, "type"), "missing `type`")),
    }
}

/// Remove and return `inputs` (required) from a transform or sink table.
fn take_inputs(table: &mut toml::Table, path: &str) -> Result<Vec<String>, ConfigError> {
    let inputs_path = join_path(path, "inputs");
    let value = table
        .remove("inputs")
        .ok_or_else(|| ConfigError::new(&inputs_path, "missing `inputs`"))?;
    let toml::Value::Array(items) = value else {
        return Err(ConfigError::new(
            inputs_path,
            "expected a list of component ids",
        ));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| match item {
            toml::Value::String(id) => Ok(id),
            _ => Err(ConfigError::new(
                format!("{inputs_path}[{index}]"),
                "expected a component id",
            )),
        })
        .collect()
}

/// `[sources.ID]`; `config_dir` is where relative paths (`tls.cert_file`) are taken from.
fn parse_source(
    id: String,
    mut table: toml::Table,
    config_dir: Option<&Path>,
) -> Result<SourceEntry, ConfigError> {
    let path = format!("sources.{id}");
    let ty = take_type(&mut table, &path)?;
    let config = match ty.as_str() {
        "stdin" => SourceConfig::Stdin(deserialize_table(table).map_err(|e| e.within(&path))?),
        "demo" => {
            let demo: DemoConfig = deserialize_table(table).map_err(|e| e.within(&path))?;
            demo.validate().map_err(|e| e.within(&path))?;
            SourceConfig::Demo(demo)
        }
        "amplitude_http" => {
            let mut amplitude: AmplitudeHttpConfig =
                deserialize_table(table).map_err(|e| e.within(&path))?;
            if let Some(tls) = &mut amplitude.tls {
                tls.validate_in(config_dir).map_err(|e| e.within(&path))?;
            }
            SourceConfig::AmplitudeHttp(amplitude)
        }
        "http_server" => {
            let mut http: HttpServerConfig =
                deserialize_table(table).map_err(|e| e.within(&path))?;
            http.validate().map_err(|e| e.within(&path))?;
            if let Some(tls) = &mut http.tls {
                tls.validate_in(config_dir).map_err(|e| e.within(&path))?;
            }
            SourceConfig::HttpServer(http)
        }
        other => {
            return Err(ConfigError::new(
                join_path(&path, "type"),
                format!(
                    "unknown source type `{other}`, expected one of: amplitude_http, demo, http_server, stdin"
                ),
            ))
        }
    };
    Ok(SourceEntry { id, config })
}

fn parse_transform(id: String, mut table: toml::Table) -> Result<TransformEntry, ConfigError> {
    let path = format!("transforms.{id}");
    let ty = take_type(&mut table, &path)?;
    let inputs = take_inputs(&mut table, &path)?;
    let config = match ty.as_str() {
        "filter" => TransformConfig::Filter(deserialize_table(table).map_err(|e| e.within(&path))?),
        "dedupe" => {
            let dedupe: DedupeConfig = deserialize_table(table).map_err(|e| e.within(&path))?;
            dedupe.validate().map_err(|e| e.within(&path))?;
            TransformConfig::Dedupe(dedupe)
        }
        "user_state" => {
            TransformConfig::UserState(deserialize_table(table).map_err(|e| e.within(&path))?)
        }
        other => {
            return Err(ConfigError::new(
                join_path(&path, "type"),
                format!(
                    "unknown transform type `{other}`, expected one of: dedupe, filter, user_state"
                ),
            ))
        }
    };
    Ok(TransformEntry { id, inputs, config })
}

fn parse_sink(
    id: String,
    mut table: toml::Table,
    registry: &Registry,
    cx: &FactoryContext,
) -> Result<SinkEntry, ConfigError> {
    let path = format!("sinks.{id}");
    let ty = take_type(&mut table, &path)?;
    let inputs = take_inputs(&mut table, &path)?;
    let factory = registry.sink_factory(&ty).ok_or_else(|| {
        let known: Vec<&str> = registry.sink_types().collect();
        ConfigError::new(
            join_path(&path, "type"),
            format!(
                "unknown sink type `{ty}`, expected one of: {}",
                known.join(", ")
            ),
        )
    })?;
    let config = factory(table, cx).map_err(|e| e.within(&path))?;
    Ok(SinkEntry {
        id,
        component_type: ty,
        inputs,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, &Registry::new())
    }

    const VALID: &str = r#"
data_dir = "/tmp/x"
[api]
address = "127.0.0.1:9598"
[sources.in]
type = "stdin"
[transforms.purchases]
type = "filter"
inputs = ["in"]
condition = { all = [ { field = "event_type", op = "is", value = "Purchase" } ] }
[sinks.out]
type = "blackhole"
inputs = ["purchases", "in"]
"#;

    #[test]
    fn valid_config_is_read() {
        let config = parse(VALID).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.api.unwrap().address.port(), 9598);
        assert_eq!(config.sources[0].config.type_name(), "stdin");
        assert_eq!(config.transforms[0].inputs, ["in"]);
        assert_eq!(config.sinks[0].component_type, "blackhole");
        assert_eq!(config.sinks[0].inputs, ["purchases", "in"]);
    }

    fn error_of(text: &str) -> ConfigError {
        parse(text).expect_err("config should be refused")
    }

    #[test]
    fn errors_name_the_key_path() {
        let cases = [
            (
                VALID.replace("data_dir", "data_dri"),
                "data_dri",
                "unknown key",
            ),
            (
                VALID.replace("address =", "adress ="),
                "api.adress",
                "unknown field",
            ),
            (
                VALID.replace("\"127.0.0.1:9598\"", "\"nowhere\""),
                "api.address",
                "invalid",
            ),
            (
                VALID.replace("type = \"stdin\"", "type = \"stdin\"\nbatch = 3"),
                "sources.in.batch",
                "unknown field",
            ),
            (
                VALID.replace("type = \"stdin\"", "type = \"kafka\""),
                "sources.in.type",
                "unknown source type",
            ),
            (
                VALID.replace("op = \"is\"", "op = \"equals\""),
                "transforms.purchases.condition.all[0]",
                "unknown op",
            ),
            (
                VALID.replace("type = \"blackhole\"", "type = \"blackhole\"\nbogus = 1"),
                "sinks.out.bogus",
                "unknown field",
            ),
            (
                VALID.replace("type = \"blackhole\"", "type = \"webhook\""),
                "sinks.out.type",
                "unknown sink type",
            ),
            (
                VALID.replace("inputs = [\"purchases\", \"in\"]", "inputs = [\"nope\"]"),
                "sinks.out.inputs",
                "no source or transform is named `nope`",
            ),
            (
                VALID.replace("inputs = [\"purchases\", \"in\"]", "inputs = []"),
                "sinks.out.inputs",
                "at least one input",
            ),
            (
                VALID.replace("inputs = [\"in\"]", "inputs = [\"in\", 3]"),
                "transforms.purchases.inputs[1]",
                "expected a component id",
            ),
            (
                VALID.replace("[sinks.out]", "[sinks.in]"),
                "sinks.in",
                "already used",
            ),
            (
                VALID.replace("[sinks.out]", "[sinks.\"a b\"]"),
                "sinks.a b",
                "component ids",
            ),
        ];
        for (text, path, reason) in cases {
            let error = error_of(&text);
            assert_eq!(error.path, path, "{error}");
            assert!(error.message.contains(reason), "{error}");
        }
    }

    #[test]
    fn toml_syntax_errors_carry_line_and_column() {
        let error = error_of("[sources.in]\ntype = \"stdin\"\ncount = = 3\n");
        assert!(error.message.contains("line 3"), "{error}");
    }

    #[test]
    fn stateful_transform_mistakes_name_their_key() {
        let with = |table: &str| {
            format!(
                "[sources.in]\ntype = \"stdin\"\n[transforms.t]\ninputs = [\"in\"]\n{table}\n\
                 [sinks.out]\ntype = \"blackhole\"\ninputs = [\"t\"]\n"
            )
        };
        let cases = [
            (
                "type = \"user_state\"\ncache_size = 0",
                "transforms.t.cache_size",
                "nonzero",
            ),
            (
                "type = \"user_state\"\ncache = 5",
                "transforms.t.cache",
                "unknown field",
            ),
            (
                "type = \"dedupe\"\nwindow = \"7 days\"",
                "transforms.t.window",
                "not a duration",
            ),
            (
                "type = \"dedupe\"\nwindow = \"0s\"",
                "transforms.t.window",
                "longer than 0",
            ),
            (
                "type = \"dedupe\"\nmax_entries = 0",
                "transforms.t.max_entries",
                "at least 1",
            ),
            (
                "type = \"dedupe\"\nfields.match = []",
                "transforms.t.fields.match",
                "at least one",
            ),
            (
                "type = \"dedupe\"\nfields.ignore = [\"a\"]",
                "transforms.t.fields.ignore",
                "unknown field",
            ),
            (
                "type = \"dedup\"",
                "transforms.t.type",
                "dedupe, filter, user_state",
            ),
        ];
        for (table, path, reason) in cases {
            let error = error_of(&with(table));
            assert_eq!(error.path, path, "{error}");
            assert!(error.message.contains(reason), "{error}");
        }
        let registry = Registry::new();
        let config = Config::from_toml_str(&with("type = \"dedupe\""), &registry).unwrap();
        assert_eq!(config.transforms[0].config.type_name(), "dedupe");
    }

    #[test]
    fn cycles_between_transforms_are_refused() {
        let text = r#"
[sources.in]
type = "stdin"
[transforms.a]
type = "filter"
inputs = ["in", "b"]
condition = { all = [] }
[transforms.b]
type = "filter"
inputs = ["a"]
condition = { all = [] }
[sinks.out]
type = "blackhole"
inputs = ["b"]
"#;
        let error = error_of(text);
        assert!(error.message.contains("cycle"), "{error}");
    }

    #[test]
    fn missing_sources_or_sinks_are_refused() {
        assert_eq!(
            error_of("[sinks.out]\ntype = \"blackhole\"\ninputs = [\"x\"]").path,
            "sources"
        );
        assert_eq!(error_of("[sources.in]\ntype = \"stdin\"").path, "sinks");
    }

    const MINIMAL: &str =
        "[sources.in]\ntype = \"stdin\"\n[sinks.out]\ntype = \"blackhole\"\ninputs = [\"in\"]\n";

    #[test]
    fn a_relative_data_dir_is_resolved_against_the_config_file_directory() {
        let root = tempfile::tempdir().unwrap();
        let conf = root.path().join("conf");
        std::fs::create_dir_all(&conf).unwrap();
        let file = conf.join("pipeline.toml");
        let cases = [
            (
                format!("data_dir = \"state\"\n{MINIMAL}"),
                conf.join("state"),
            ),
            (
                format!("data_dir = \"../var/x\"\n{MINIMAL}"),
                conf.join("../var/x"),
            ),
            // The default stays the working directory's `./data`.
            (MINIMAL.to_string(), PathBuf::from(DEFAULT_DATA_DIR)),
            (
                format!("data_dir = {:?}\n{MINIMAL}", root.path().join("abs")),
                root.path().join("abs"),
            ),
        ];
        for (text, expected) in cases {
            std::fs::write(&file, &text).unwrap();
            let config = Config::from_path(&file, &Registry::new()).unwrap();
            assert_eq!(config.data_dir, expected, "{text}");
            let config = Config::from_toml_str_in(&text, &Registry::new(), &conf).unwrap();
            assert_eq!(config.data_dir, expected, "{text}");
        }
    }

    #[test]
    fn tls_files_are_taken_from_the_config_directory_and_checked_when_read() {
        let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/tls");
        for ty in ["amplitude_http", "http_server"] {
            let text = |key: &str| {
                format!(
                    "[sources.in]\ntype = \"{ty}\"\naddress = \"127.0.0.1:0\"\n\
                     [sources.in.tls]\ncert_file = \"ec.crt\"\nkey_file = \"{key}\"\n\
                     [sinks.out]\ntype = \"blackhole\"\ninputs = [\"in\"]\n"
                )
            };
            let config =
                Config::from_toml_str_in(&text("ec-sec1.key"), &Registry::new(), &testdata)
                    .unwrap();
            let tls = match &config.sources[0].config {
                SourceConfig::AmplitudeHttp(config) => config.tls.clone(),
                SourceConfig::HttpServer(config) => config.tls.clone(),
                other => panic!("{other:?}"),
            };
            assert_eq!(
                tls.map(|tls| (tls.cert_file, tls.key_file)),
                Some((testdata.join("ec.crt"), testdata.join("ec-sec1.key")))
            );
            let error =
                Config::from_toml_str_in(&text("rsa-pkcs8.key"), &Registry::new(), &testdata)
                    .unwrap_err();
            assert_eq!(error.path, "sources.in.tls.key_file", "{ty}: {error}");
            assert!(error.message.contains("does not match"), "{ty}: {error}");
        }
    }

    #[test]
    fn from_path_replaces_environment_variables_first() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pipeline.toml");
        let text = format!(
            "data_dir = \"${{PIPELINE_HOST_TEST_UNSET_DIR:-/tmp/from-default}}\"\n{MINIMAL}"
        );
        std::fs::write(&file, text).unwrap();
        let config = Config::from_path(&file, &Registry::new()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/tmp/from-default"));

        std::fs::write(
            &file,
            format!("{MINIMAL}max_line_bytes = ${{PIPELINE_HOST_TEST_UNSET}}\n"),
        )
        .unwrap();
        let error = Config::from_path(&file, &Registry::new()).unwrap_err();
        assert_eq!(error.path, "");
        assert_eq!(
            error.message,
            "environment variable PIPELINE_HOST_TEST_UNSET is not set (line 6, column 18, in key sinks.out.max_line_bytes)"
        );
        let missing = read_config_text(&dir.path().join("absent.toml")).unwrap_err();
        assert!(missing.message.starts_with("cannot read "), "{missing}");
    }

    #[test]
    fn config_text_without_a_file_keeps_data_dir_as_given() {
        let config = parse(&format!("data_dir = \"state\"\n{MINIMAL}")).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("state"));
        assert_eq!(
            parse(MINIMAL).unwrap().data_dir,
            PathBuf::from(DEFAULT_DATA_DIR)
        );
    }

    #[test]
    fn downstream_sinks_follow_transforms() {
        let config = parse(VALID).unwrap();
        let ids: Vec<&str> = config
            .downstream_sinks("in")
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(ids, ["out"]);
    }
}
