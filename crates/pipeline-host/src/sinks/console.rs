//! The `console` sink: writes each event as one JSON line to standard output (logs go to
//! standard error, so the two never mix). A reader that stops reading stalls it: a real
//! backpressure case.

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt};
use pipeline_core::metrics_names::{error_type, stage, ComponentKind, ComponentMetrics};
use pipeline_core::{
    deserialize_table, BuildError, ConfigError, EventArray, EventStatus, FactoryContext,
    Healthcheck, SinkConfig, SinkContext, StreamSink,
};
use serde::Deserialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// `[sinks.ID]` with `type = "console"`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Whether sources should wait for this sink's acknowledgements.
    #[serde(default)]
    pub acknowledgements: bool,
}

pub(super) fn factory(
    table: toml::Table,
    _cx: &FactoryContext,
) -> Result<Box<dyn SinkConfig>, ConfigError> {
    Ok(Box::new(deserialize_table::<ConsoleConfig>(table)?))
}

#[async_trait]
impl SinkConfig for ConsoleConfig {
    async fn build(
        &self,
        cx: SinkContext,
    ) -> Result<(Box<dyn StreamSink>, Healthcheck), BuildError> {
        let metrics = ComponentMetrics::new(ComponentKind::Sink, &cx.component_id, "console");
        let sink = Console {
            id: cx.component_id,
            metrics,
            output: tokio::io::stdout(),
        };
        Ok((Box::new(sink), Box::pin(async { Ok(()) })))
    }

    fn acknowledgements(&self) -> bool {
        self.acknowledgements
    }
}

struct Console<W> {
    id: String,
    metrics: ComponentMetrics,
    output: W,
}

#[async_trait]
impl<W: AsyncWrite + Unpin + Send> StreamSink for Console<W> {
    async fn run(mut self: Box<Self>, mut input: BoxStream<'_, EventArray>) -> Result<(), ()> {
        let mut buffer = Vec::new();
        while let Some(batch) = input.next().await {
            buffer.clear();
            for event in batch.iter() {
                // A map of JSON values always serializes.
                let _ = serde_json::to_writer(&mut buffer, event.fields());
                buffer.push(b'\n');
            }
            let written = async {
                self.output.write_all(&buffer).await?;
                self.output.flush().await
            }
            .await;
            let status = match &written {
                Ok(()) => EventStatus::Delivered,
                Err(_) => EventStatus::Errored,
            };
            for event in batch.iter() {
                event.metadata().finalizers().update_status(status);
            }
            if let Err(error) = written {
                self.metrics
                    .error(error_type::WRITER_FAILED, stage::SENDING);
                tracing::error!(component_id = %self.id, %error, "cannot write to standard output");
                return Err(());
            }
            self.metrics
                .sent_events(batch.len(), buffer.len() - batch.len());
            self.metrics.sent_bytes(buffer.len());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipeline_core::{BatchNotifier, BatchStatus, Event};
    use serde_json::json;

    #[tokio::test]
    async fn writes_one_json_line_per_event_and_acknowledges() {
        let (notifier, receiver) = BatchNotifier::new_with_receiver();
        let batch: EventArray = [json!({"b": 1, "a": "x"}), json!({"c": null})]
            .into_iter()
            .map(|v| Event::new(v.as_object().cloned().unwrap()).with_batch_notifier(&notifier))
            .collect();
        drop(notifier);
        let mut output = Vec::new();
        let sink = Box::new(Console {
            id: "out".into(),
            metrics: ComponentMetrics::new(ComponentKind::Sink, "out", "console"),
            output: &mut output,
        });
        sink.run(futures::stream::iter([batch]).boxed())
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(output).unwrap(),
            "{\"b\":1,\"a\":\"x\"}\n{\"c\":null}\n"
        );
        assert_eq!(receiver.await, BatchStatus::Delivered);
    }
}
