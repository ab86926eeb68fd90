//! The `blackhole` sink: takes every event, counts it as sent and acknowledges it as delivered.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use pipeline_core::metrics_names::{ComponentKind, ComponentMetrics};
use pipeline_core::{
    deserialize_table, BuildError, ConfigError, EventArray, EventStatus, FactoryContext,
    Healthcheck, SinkConfig, SinkContext, StreamSink,
};
use serde::Deserialize;

/// `[sinks.ID]` with `type = "blackhole"`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BlackholeConfig {
    /// Whether sources should wait for this sink's acknowledgements.
    #[serde(default)]
    pub acknowledgements: bool,
}

pub(super) fn factory(
    table: toml::Table,
    _cx: &FactoryContext,
) -> Result<Box<dyn SinkConfig>, ConfigError> {
    Ok(Box::new(deserialize_table::<BlackholeConfig>(table)?))
}

#[async_trait]
impl SinkConfig for BlackholeConfig {
    async fn build(
        &self,
        cx: SinkContext,
    ) -> Result<(Box<dyn StreamSink>, Healthcheck), BuildError> {
        let metrics = ComponentMetrics::new(ComponentKind::Sink, &cx.component_id, "blackhole");
        Ok((Box::new(Blackhole { metrics }), Box::pin(async { Ok(()) })))
    }

    fn acknowledgements(&self) -> bool {
        self.acknowledgements
    }
}

struct Blackhole {
    metrics: ComponentMetrics,
}

#[async_trait]
impl StreamSink for Blackhole {
    async fn run(self: Box<Self>, mut input: BoxStream<'_, EventArray>) -> Result<(), ()> {
        while let Some(batch) = input.next().await {
            let bytes = batch.json_byte_size();
            let count = batch.len();
            for event in batch {
                event
                    .metadata()
                    .finalizers()
                    .update_status(EventStatus::Delivered);
            }
            self.metrics.sent_events(count, bytes);
        }
        Ok(())
    }
}
