//! The delivery dashboard the host serves at `/dashboard`: one self-contained page (HTML, CSS,
//! JavaScript and SVG inside the binary: no CDN, no build step) that polls `/api/figures` and
//! `/health` every two seconds.
//!
//! The figures are read back from the host's own Prometheus exposition ([`exposition`]), so the
//! page shows exactly what `/metrics` says; a sampler keeps five minutes of rates for the chart.

pub mod exposition;
pub mod figures;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use figures::{Figures, History};

/// The page (served as is).
pub const PAGE: &str = include_str!("page.html");

/// How often the sampler records a point of history.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// Points of history kept: five minutes at [`SAMPLE_EVERY`].
const HISTORY_POINTS: usize = 150;

/// Renders the exposition the figures are read from.
type Render = Box<dyn Fn() -> String + Send + Sync>;

/// The figures behind the page, and their recent history.
pub struct Dashboard {
    render: Render,
    history: Mutex<VecDeque<Point>>,
}

/// The counters of every sink at one moment.
struct Point {
    at: f64,
    /// Per sink id: events in, and payloads delivered per stream.
    sinks: Vec<(String, f64, [f64; 2])>,
}

impl Dashboard {
    /// A dashboard over the exposition `render` returns (the host's `/metrics` text).
    pub fn new(render: impl Fn() -> String + Send + Sync + 'static) -> Arc<Dashboard> {
        Arc::new(Dashboard {
            render: Box::new(render),
            history: Mutex::new(VecDeque::with_capacity(HISTORY_POINTS + 1)),
        })
    }

    fn now() -> f64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }

    fn current(&self) -> Figures {
        figures::read(&exposition::parse(&(self.render)()), Dashboard::now())
    }

    /// Records a point of history now.
    pub fn sample(&self) {
        let figures = self.current();
        let point = Point {
            at: figures.at,
            sinks: figures
                .sinks
                .iter()
                .map(|sink| {
                    let delivered =
                        [0, 1].map(|i| sink.streams.get(i).map_or(0.0, |s| s.delivered));
                    (sink.id.clone(), sink.events_in, delivered)
                })
                .collect(),
        };
        let mut history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        history.push_back(point);
        while history.len() > HISTORY_POINTS {
            history.pop_front();
        }
    }

    /// Samples every [`SAMPLE_EVERY`], for as long as the runtime lives.
    pub fn spawn_sampler(self: &Arc<Dashboard>) -> tokio::task::JoinHandle<()> {
        let dashboard = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            loop {
                tick.tick().await;
                dashboard.sample();
            }
        })
    }

    /// The figures now, with each sink's history.
    pub fn figures(&self) -> Figures {
        let mut figures = self.current();
        let history = self.history.lock().unwrap_or_else(|p| p.into_inner());
        for sink in &mut figures.sinks {
            sink.history = rates(&history, &sink.id);
        }
        figures
    }

    /// [`Dashboard::figures`] as JSON (what `/api/figures` serves).
    pub fn figures_json(&self) -> String {
        serde_json::to_string(&self.figures())
            .unwrap_or_else(|error| format!(r#"{{"error":"{error}"}}"#))
    }
}

/// Sink `id`'s rates between consecutive points.
fn rates(points: &VecDeque<Point>, id: &str) -> History {
    let mut history = History::default();
    let of = |point: &Point| {
        point
            .sinks
            .iter()
            .find(|(sink, _, _)| sink == id)
            .map(|(_, events_in, delivered)| (*events_in, *delivered))
    };
    let mut previous: Option<(f64, (f64, [f64; 2]))> = None;
    for point in points {
        let Some(now) = of(point) else { continue };
        if let Some((at, before)) = previous {
            let seconds = point.at - at;
            if seconds > 0.0 {
                let rate = |now: f64, before: f64| ((now - before) / seconds).max(0.0);
                history.at.push(point.at);
                history.in_per_second.push(rate(now.0, before.0));
                for stream in 0..2 {
                    history.delivered_per_second[stream]
                        .push(rate(now.1[stream], before.1[stream]));
                }
            }
        }
        previous = Some((point.at, now));
    }
    history
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_holds_the_rates_between_samples() {
        let points: VecDeque<Point> = [(10.0, 0.0, 0.0), (12.0, 100.0, 50.0), (14.0, 300.0, 250.0)]
            .into_iter()
            .map(|(at, events_in, delivered)| Point {
                at,
                sinks: vec![("hook".into(), events_in, [delivered, 0.0])],
            })
            .collect();
        let history = rates(&points, "hook");
        assert_eq!(history.at, vec![12.0, 14.0]);
        assert_eq!(history.in_per_second, vec![50.0, 100.0]);
        assert_eq!(history.delivered_per_second[0], vec![25.0, 100.0]);
        assert!(rates(&points, "other").at.is_empty());
    }
}
