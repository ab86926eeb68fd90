//! The dashboard's figures: per webhook sink and stream, what Amplitude's sync screen shows,
//! read from the host's own metrics.

use std::collections::BTreeMap;

use pipeline_core::metrics_names as component;
use serde::Serialize;

use super::exposition::Sample;
use crate::stream::Stream;
use crate::telemetry::names;

/// Every webhook sink's figures.
#[derive(Debug, Serialize)]
pub struct Figures {
    /// Unix time of the figures, in seconds.
    pub at: f64,
    /// One entry per webhook sink, by id.
    pub sinks: Vec<SinkFigures>,
}

/// One webhook sink.
#[derive(Debug, Serialize, Default)]
pub struct SinkFigures {
    /// The sink's id in the config.
    pub id: String,
    /// Events the sink took from its inputs.
    pub events_in: f64,
    /// Payloads whose template failed.
    pub template_errors: f64,
    /// `events` then `users`.
    pub streams: Vec<StreamFigures>,
    /// Rates over the last minutes, oldest first.
    pub history: History,
}

/// One stream of a sink.
#[derive(Debug, Serialize, Default, Clone)]
pub struct StreamFigures {
    /// `events` or `users`.
    pub stream: &'static str,
    /// Payloads delivered (2xx), on the first attempt or after a retry.
    pub delivered: f64,
    /// Payloads that will not be delivered: expired or discarded.
    pub not_delivered: f64,
    /// `delivered / (delivered + not_delivered)`; absent before any payload ended.
    pub delivery_rate: Option<f64>,
    /// The 95th percentile from ingest to 2xx, in seconds (recent deliveries).
    pub p95_latency_seconds: Option<f64>,
    /// Delivered on the first attempt.
    pub first_attempt: f64,
    /// Delivered on an attempt from the retry store.
    pub after_retry: f64,
    /// Every attempt failed: now a dead letter.
    pub expired: f64,
    /// Never sendable (template error) or dropped when the store was full.
    pub discarded: f64,
    /// HTTP tries by status (`200`, `503`, `error`, `timeout`, ...).
    pub requests: BTreeMap<String, f64>,
    /// HTTP tries in flight.
    pub in_flight: f64,
    /// Records waiting in the retry store.
    pub backlog: f64,
    /// Age of the oldest of them, in seconds.
    pub oldest_age_seconds: f64,
    /// Dead letters held.
    pub dead_letters: f64,
    /// Records stored without an attempt (circuit open, spill).
    pub absorbed: f64,
    /// `closed`, `open` or `probing`.
    pub circuit: &'static str,
}

/// A sink's rates over time, as parallel arrays (what a chart wants).
#[derive(Debug, Serialize, Default)]
pub struct History {
    /// Unix time of each point, in seconds.
    pub at: Vec<f64>,
    /// Events taken from the inputs per second.
    pub in_per_second: Vec<f64>,
    /// Payloads delivered per second, per stream (`events` then `users`).
    pub delivered_per_second: [Vec<f64>; 2],
}

/// The figures of every webhook sink in `samples` (without history).
pub fn read(samples: &[Sample], at: f64) -> Figures {
    let mut sinks: BTreeMap<String, SinkFigures> = BTreeMap::new();
    for sample in samples {
        if sample.label("component_type") != Some(crate::SINK_TYPE)
            || sample.label("component_kind") != Some("sink")
        {
            continue;
        }
        let Some(id) = sample.label("component_id") else {
            continue;
        };
        let sink = sinks.entry(id.to_owned()).or_insert_with(|| new_sink(id));
        add(sink, sample);
    }
    let mut sinks: Vec<SinkFigures> = sinks.into_values().collect();
    for sink in &mut sinks {
        for stream in &mut sink.streams {
            stream.delivered = stream.first_attempt + stream.after_retry;
            stream.not_delivered = stream.expired + stream.discarded;
            let ended = stream.delivered + stream.not_delivered;
            stream.delivery_rate = (ended > 0.0).then(|| stream.delivered / ended);
        }
    }
    Figures { at, sinks }
}

fn new_sink(id: &str) -> SinkFigures {
    SinkFigures {
        id: id.to_owned(),
        streams: Stream::ALL
            .iter()
            .map(|stream| StreamFigures {
                stream: stream.as_str(),
                circuit: "closed",
                ..StreamFigures::default()
            })
            .collect(),
        ..SinkFigures::default()
    }
}

/// Adds one sample of sink `sink` to its figures.
fn add(sink: &mut SinkFigures, sample: &Sample) {
    let value = sample.value;
    match sample.name.as_str() {
        component::COMPONENT_RECEIVED_EVENTS_TOTAL => sink.events_in += value,
        component::COMPONENT_ERRORS_TOTAL
            if sample.label("error_type") == Some("template_failed") =>
        {
            sink.template_errors += value;
        }
        _ => {}
    }
    let Some(stream) = sample
        .label("stream")
        .and_then(|name| sink.streams.iter_mut().find(|s| s.stream == name))
    else {
        return;
    };
    match sample.name.as_str() {
        names::DELIVERIES => match sample.label("outcome") {
            Some("first_attempt") => stream.first_attempt += value,
            Some("after_retry") => stream.after_retry += value,
            Some("expired") => stream.expired += value,
            Some("discarded") => stream.discarded += value,
            _ => {}
        },
        names::DELIVERY_LATENCY if sample.label("quantile") == Some("0.95") => {
            stream.p95_latency_seconds = value.is_finite().then_some(value);
        }
        names::REQUESTS => {
            let status = sample.label("status").unwrap_or("unknown").to_owned();
            *stream.requests.entry(status).or_default() += value;
        }
        names::IN_FLIGHT => stream.in_flight += value,
        names::RETRY_STORE_RECORDS => stream.backlog += value,
        names::RETRY_STORE_OLDEST_AGE => stream.oldest_age_seconds = value,
        names::DEAD_LETTER_RECORDS => stream.dead_letters += value,
        names::ABSORBED => stream.absorbed += value,
        names::CIRCUIT_STATE => {
            stream.circuit = match value as u8 {
                1 => "open",
                2 => "probing",
                _ => "closed",
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::exposition::parse;
    use super::*;

    #[test]
    fn a_sinks_figures_come_from_its_own_samples_only() {
        let labels = r#"component_id="hook",component_type="webhook",component_kind="sink""#;
        let text = format!(
            "component_received_events_total{{{labels}}} 100\n\
             component_received_events_total{{component_id=\"demo\",component_type=\"demo\",component_kind=\"source\"}} 100\n\
             webhook_deliveries_total{{{labels},stream=\"events\",outcome=\"first_attempt\"}} 90\n\
             webhook_deliveries_total{{{labels},stream=\"events\",outcome=\"after_retry\"}} 5\n\
             webhook_deliveries_total{{{labels},stream=\"events\",outcome=\"expired\"}} 4\n\
             webhook_deliveries_total{{{labels},stream=\"events\",outcome=\"discarded\"}} 1\n\
             webhook_requests_total{{{labels},stream=\"events\",status=\"200\"}} 95\n\
             webhook_requests_total{{{labels},stream=\"events\",status=\"503\"}} 30\n\
             webhook_delivery_latency_seconds{{{labels},stream=\"events\",quantile=\"0.95\"}} 0.25\n\
             webhook_circuit_state{{{labels},stream=\"users\"}} 1\n\
             webhook_retry_store_records{{{labels},stream=\"users\"}} 7\n\
             component_errors_total{{{labels},error_type=\"template_failed\",stage=\"processing\"}} 2\n"
        );
        let figures = read(&parse(&text), 1.0);
        assert_eq!(figures.sinks.len(), 1);
        let sink = &figures.sinks[0];
        assert_eq!((sink.id.as_str(), sink.events_in), ("hook", 100.0));
        assert_eq!(sink.template_errors, 2.0);
        let events = &sink.streams[0];
        assert_eq!((events.delivered, events.not_delivered), (95.0, 5.0));
        assert_eq!(events.delivery_rate, Some(0.95));
        assert_eq!(events.p95_latency_seconds, Some(0.25));
        assert_eq!(events.requests["503"], 30.0);
        let users = &sink.streams[1];
        assert_eq!((users.circuit, users.backlog), ("open", 7.0));
        assert_eq!(users.delivery_rate, None);
    }
}
