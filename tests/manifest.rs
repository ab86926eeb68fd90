//! Keeps `plugin-manifest.toml` in step with the code: the host API version, the metric names
//! of the component specification, and the config keys of the sink.

use std::collections::BTreeSet;

use pipeline_core::manifest::Manifest;

fn manifest() -> Manifest {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/plugin-manifest.toml");
    let text = std::fs::read_to_string(path).expect("plugin-manifest.toml is readable");
    Manifest::from_toml_str(&text).unwrap_or_else(|error| panic!("plugin-manifest.toml: {error}"))
}

/// The config keys the manifest declares, for comparing with what the sink's config accepts.
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
