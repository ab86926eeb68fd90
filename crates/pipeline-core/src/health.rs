//! Component health, as the host's `/health` reports it.
//!
//! Each component holds a [`HealthHandle`] and says how it is: a sink whose destination fails,
//! or whose buffer is nearly full, is degraded; the host marks a component failed when its task
//! stops with an error. The host combines them: failed if any component failed, degraded if any
//! is degraded, healthy otherwise.

use std::sync::{Arc, Mutex};

/// How a component is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Health {
    /// Working as configured.
    #[default]
    Healthy,
    /// Working, but not as it should: the reason says why (e.g. the destination fails).
    Degraded(String),
    /// Not working any more: the reason says why.
    Failed(String),
}

impl Health {
    /// `healthy`, `degraded` or `failed`.
    pub fn status(&self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded(_) => "degraded",
            Health::Failed(_) => "failed",
        }
    }

    /// Why it is not healthy.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Health::Healthy => None,
            Health::Degraded(reason) | Health::Failed(reason) => Some(reason),
        }
    }

    /// The worse of two states (failed > degraded > healthy; the first reason wins a tie).
    pub fn worst(self, other: Health) -> Health {
        let rank = |h: &Health| match h {
            Health::Healthy => 0,
            Health::Degraded(_) => 1,
            Health::Failed(_) => 2,
        };
        if rank(&other) > rank(&self) {
            other
        } else {
            self
        }
    }
}

/// One component's health, shared by the component (which sets it) and the host (which reads it).
#[derive(Clone, Debug, Default)]
pub struct HealthHandle(Arc<Mutex<Health>>);

impl HealthHandle {
    /// Sets the component's health.
    pub fn set(&self, health: Health) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = health;
    }

    /// The component's health now.
    pub fn get(&self) -> Health {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_state_wins_and_a_handle_is_shared() {
        let degraded = Health::Degraded("slow".into());
        assert_eq!(Health::Healthy.worst(degraded.clone()), degraded);
        assert_eq!(
            degraded
                .clone()
                .worst(Health::Failed("gone".into()))
                .status(),
            "failed"
        );
        assert_eq!(
            degraded.clone().worst(Health::Degraded("other".into())),
            degraded
        );
        let handle = HealthHandle::default();
        let seen = handle.clone();
        assert_eq!(seen.get(), Health::Healthy);
        handle.set(Health::Degraded("the webhook is down".into()));
        assert_eq!(seen.get().reason(), Some("the webhook is down"));
    }
}
