//! The host's health board: every component's [`HealthHandle`] and the host's own phase, which
//! `GET /health` reports.
//!
//! The host is *serving* once its topology has started and until a shutdown begins, and no
//! component has failed. A degraded component (e.g. a sink whose webhook fails) still serves:
//! its records go to its retry store, so a load balancer should keep sending. `/health` answers
//! 200 while serving and 503 otherwise (starting, draining, or a component failed).

use std::sync::{Arc, Mutex};

use pipeline_core::{Health, HealthHandle};
use serde::Serialize;

/// Where the host is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Building its components.
    Starting,
    /// Running its topology.
    Serving,
    /// Sources stopped; in-flight work drains.
    Draining,
    /// Every component has finished.
    Stopped,
}

/// The health of every component and the host's phase, shared by the topology (which writes)
/// and the API (which reads).
#[derive(Clone, Debug)]
pub struct HealthBoard(Arc<Mutex<Board>>);

#[derive(Debug)]
struct Board {
    phase: Phase,
    components: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    kind: &'static str,
    id: String,
    component_type: String,
    health: HealthHandle,
}

/// What `/health` answers.
#[derive(Debug, Serialize)]
pub struct HealthReport {
    /// `healthy`, `degraded` or `failed`: the worst of the components.
    pub status: &'static str,
    /// Whether the host takes traffic (the HTTP status is 200 exactly when it does).
    pub serving: bool,
    /// The host's phase.
    pub phase: Phase,
    /// Each component's state, in the order they were built.
    pub components: Vec<ComponentReport>,
}

/// One component in a [`HealthReport`].
#[derive(Debug, Serialize)]
pub struct ComponentReport {
    /// `source`, `transform` or `sink`.
    pub kind: &'static str,
    /// The component's id in the config.
    pub id: String,
    /// Its `type`.
    #[serde(rename = "type")]
    pub component_type: String,
    /// `healthy`, `degraded` or `failed`.
    pub status: &'static str,
    /// Why it is not healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Default for HealthBoard {
    fn default() -> Self {
        HealthBoard::new()
    }
}

impl HealthBoard {
    /// An empty board, starting.
    pub fn new() -> HealthBoard {
        HealthBoard(Arc::new(Mutex::new(Board {
            phase: Phase::Starting,
            components: Vec::new(),
        })))
    }

    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a component; it reports through the handle returned.
    pub fn register(&self, kind: &'static str, id: &str, component_type: &str) -> HealthHandle {
        let health = HealthHandle::default();
        self.board().components.push(Entry {
            kind,
            id: id.to_owned(),
            component_type: component_type.to_owned(),
            health: health.clone(),
        });
        health
    }

    /// The host is now in `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.board().phase = phase;
    }

    /// Every component's health and the host's.
    pub fn report(&self) -> HealthReport {
        let board = self.board();
        let mut overall = Health::Healthy;
        let components = board
            .components
            .iter()
            .map(|entry| {
                let health = entry.health.get();
                let report = ComponentReport {
                    kind: entry.kind,
                    id: entry.id.clone(),
                    component_type: entry.component_type.clone(),
                    status: health.status(),
                    reason: health.reason().map(str::to_owned),
                };
                overall = std::mem::take(&mut overall).worst(health);
                report
            })
            .collect();
        let failed = matches!(overall, Health::Failed(_));
        HealthReport {
            status: overall.status(),
            serving: board.phase == Phase::Serving && !failed,
            phase: board.phase,
            components,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_needs_the_serving_phase_and_no_failed_component() {
        let board = HealthBoard::new();
        let sink = board.register("sink", "hook", "webhook");
        let source = board.register("source", "in", "stdin");
        assert!(!board.report().serving, "starting is not serving");
        board.set_phase(Phase::Serving);
        assert!(board.report().serving);
        assert_eq!(board.report().status, "healthy");

        sink.set(Health::Degraded("the webhook fails".into()));
        let report = board.report();
        assert!(report.serving, "a degraded sink still serves");
        assert_eq!(report.status, "degraded");
        assert_eq!(
            report.components[0].reason.as_deref(),
            Some("the webhook fails")
        );

        source.set(Health::Failed("stopped with an error".into()));
        let report = board.report();
        assert!(!report.serving);
        assert_eq!(report.status, "failed");

        source.set(Health::Healthy);
        board.set_phase(Phase::Draining);
        assert!(!board.report().serving, "draining is not serving");
    }
}
