//! Keeps `plugin-manifest.toml` in step with the code: the host API version, the metric names
//! of the component specification, and the config keys of the sink.

use std::collections::BTreeSet;

use pipeline_core::manifest::Manifest;
use pipeline_core::{FactoryContext, SinkFactory};

fn manifest() -> Manifest {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/plugin-manifest.toml");
    let text = std::fs::read_to_string(path).expect("plugin-manifest.toml is readable");
    Manifest::from_toml_str(&text).unwrap_or_else(|error| panic!("plugin-manifest.toml: {error}"))
}

/// The config keys the manifest declares; the lead compares them with the webhook sink via
/// `check_config_keys(registry.sink_factory("webhook")?, &manifest_config_keys())`.
pub fn manifest_config_keys() -> BTreeSet<String> {
    manifest().config_keys.into_iter().collect()
}

#[test]
fn manifest_names_the_webhook_sink_for_log_events() {
    let manifest = manifest();
    assert_eq!(manifest.name, "webhook");
    assert_eq!(manifest.kind, "sink");
    assert_eq!(manifest.input, "log");
}

#[test]
fn manifest_api_version_is_the_host_api_version() {
    let manifest = manifest();
    assert_eq!(manifest.api_version, pipeline_core::HOST_API_VERSION);
    assert!(manifest.is_compatible_with(pipeline_core::HOST_API_VERSION));
}

#[test]
fn manifest_lists_every_component_metric_the_sink_emits() {
    let declared: BTreeSet<String> = manifest().metrics.into_iter().collect();
    // The sink receives from the host and sends over HTTP; it never decodes raw input bytes.
    let expected = pipeline_core::metrics_names::ALL
        .iter()
        .filter(|name| **name != pipeline_core::metrics_names::COMPONENT_RECEIVED_BYTES_TOTAL);
    for name in expected {
        assert!(declared.contains(*name), "manifest metrics lack {name}");
    }
}

#[test]
fn manifest_config_keys_are_unique_and_sub_tables_are_declared() {
    let listed = manifest().config_keys;
    let keys = manifest_config_keys();
    assert_eq!(
        keys.len(),
        listed.len(),
        "duplicate config keys in the manifest"
    );
    for key in &keys {
        if let Some((table, _)) = key.rsplit_once('.') {
            assert!(
                keys.contains(table),
                "`{key}` is listed but its table `{table}` is not"
            );
        }
    }
    for required in ["type", "inputs", "url"] {
        assert!(
            keys.contains(required),
            "manifest config keys lack `{required}`"
        );
    }
}

/// Keys the host itself reads from every `[sinks.ID]` table; the factory never sees them.
const HOST_KEYS: [&str; 2] = ["type", "inputs"];

const PROBE: &str = "__manifest_probe__";

/// Compare `keys` (dotted, as in the manifest) with what the sink built by `factory` accepts.
///
/// At the top level and in every sub-table the manifest names, an unknown probe key is offered
/// to the factory; serde's refusal (`unknown field ..., expected one of ...`) lists every key
/// that level accepts, and that list must equal the manifest's. A level that is a free-form map
/// (e.g. `headers`) accepts the probe or refuses it differently, and is skipped; the top level
/// must be checkable.
pub fn check_config_keys(factory: SinkFactory, keys: &BTreeSet<String>) -> Result<(), String> {
    let keys: BTreeSet<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|key| !HOST_KEYS.contains(key))
        .collect();
    let mut levels: Vec<&str> = vec![""];
    levels.extend(keys.iter().filter(|key| {
        keys.iter()
            .any(|other| other.starts_with(&format!("{key}.")))
    }));
    let mut problems = Vec::new();
    for level in levels {
        let declared: BTreeSet<&str> = keys
            .iter()
            .filter_map(|key| match level {
                "" => Some(*key).filter(|k| !k.contains('.')),
                _ => key
                    .strip_prefix(level)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .filter(|rest| !rest.contains('.')),
            })
            .collect();
        let mut table = toml::Table::new();
        table.insert(PROBE.to_string(), toml::Value::Integer(1));
        for segment in level.rsplit('.').filter(|s| !s.is_empty()) {
            let mut outer = toml::Table::new();
            outer.insert(segment.to_string(), toml::Value::Table(table));
            table = outer;
        }
        let accepted = match factory(table, &FactoryContext::default()) {
            Err(error) if error.message.contains(&format!("unknown field `{PROBE}`")) => {
                expected_fields(&error.message)
            }
            _ if level.is_empty() => {
                return Err("the top level of the sink config does not refuse unknown keys".into())
            }
            _ => continue,
        };
        let accepted: BTreeSet<&str> = accepted.iter().map(String::as_str).collect();
        for missing in accepted.difference(&declared) {
            problems.push(format!(
                "the sink accepts `{}` but the manifest lacks it",
                dotted(level, missing)
            ));
        }
        for extra in declared.difference(&accepted) {
            problems.push(format!(
                "the manifest lists `{}` but the sink refuses it",
                dotted(level, extra)
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn dotted(level: &str, key: &str) -> String {
    if level.is_empty() {
        key.to_string()
    } else {
        format!("{level}.{key}")
    }
}

/// The backquoted names after "expected" in serde's unknown-field message.
fn expected_fields(message: &str) -> Vec<String> {
    let Some((_, expected)) = message.split_once("expected") else {
        return Vec::new();
    };
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn builtin_factory(ty: &str) -> SinkFactory {
    let mut registry = pipeline_core::Registry::new();
    pipeline_host::register_builtins(&mut registry);
    registry.sink_factory(ty).expect("built-in sink")
}

#[test]
fn key_check_accepts_a_matching_list_and_names_every_difference() {
    let factory = builtin_factory("blackhole");
    let keys = |list: &[&str]| list.iter().map(|k| k.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        check_config_keys(factory, &keys(&["type", "inputs", "acknowledgements"])),
        Ok(())
    );
    let error =
        check_config_keys(factory, &keys(&["type", "url", "retry", "retry.tries"])).unwrap_err();
    assert!(
        error.contains("the sink accepts `acknowledgements` but the manifest lacks it"),
        "{error}"
    );
    assert!(
        error.contains("the manifest lists `url` but the sink refuses it"),
        "{error}"
    );
    assert!(
        error.contains("the manifest lists `retry` but the sink refuses it"),
        "{error}"
    );
}

#[test]
fn manifest_config_keys_are_exactly_what_the_webhook_sink_accepts() {
    let mut registry = pipeline_core::Registry::new();
    webhook_sink::register(&mut registry);
    let factory = registry
        .sink_factory("webhook")
        .expect("the webhook sink is registered");
    if let Err(problems) = check_config_keys(factory, &manifest_config_keys()) {
        panic!("plugin-manifest.toml and the webhook sink disagree:\n{problems}");
    }
}

#[test]
fn manifest_lists_exactly_the_webhook_metrics_the_sink_emits() {
    let declared: BTreeSet<String> = manifest()
        .metrics
        .into_iter()
        .filter(|name| name.starts_with("webhook_"))
        .collect();
    let emitted: BTreeSet<String> = webhook_sink::telemetry::names::WEBHOOK
        .iter()
        .map(|name| name.to_string())
        .collect();
    assert_eq!(declared, emitted);
}
