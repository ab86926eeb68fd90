//! Render speed on the sink's real work: the seed's event and user templates and a list/arithmetic-heavy
//! one (`benches/templates/*.ftl`) over realistic Amplitude events (`benches/events.ndjson`), with the
//! sink's settings. `scripts/bench-templates.sh` runs this and the same renders in Apache FreeMarker
//! (`scripts/ftl-bench/FtlBench.java`) and prints ns/render side by side.
//!
//! One iteration renders every event once (throughput = events), so ns/render = time / events.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use freemarker::{Settings, Template};
use serde_json::Value;

/// The benchmarked templates, by file stem under `benches/templates/`.
const TEMPLATES: [&str; 3] = ["event", "user", "cart"];

fn bench_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/benches"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The events, parsed once up front (FtlBench does the same on the Java side).
fn events() -> Vec<Value> {
    read(&bench_dir().join("events.ndjson"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad event line: {e}")))
        .collect()
}

/// A template compiled with the sink's settings (as FtlBench gets them: number_format=computer).
fn compile(name: &str) -> Template {
    let source = read(&bench_dir().join("templates").join(format!("{name}.ftl")));
    let mut settings = Settings::default();
    settings
        .set("number_format", "computer")
        .unwrap_or_else(|e| panic!("setting rejected: {e}"));
    Template::new(name, &source, settings).unwrap_or_else(|e| panic!("{name}.ftl: {e:#}"))
}

fn render_templates(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("render");
    group.throughput(Throughput::Elements(events.len() as u64));
    for name in TEMPLATES {
        let template = compile(name);
        // a bench of a failing render would time error paths: check every event renders first
        for (i, event) in events.iter().enumerate() {
            if let Err(e) = template.render(event) {
                panic!("{name}.ftl fails on event #{}: {e}", i + 1);
            }
        }
        let mut out = String::with_capacity(4096);
        group.bench_function(name, |b| {
            b.iter(|| {
                for event in &events {
                    out.clear();
                    if let Err(e) = template.render_to(black_box(event), &mut out) {
                        panic!("{name}.ftl: {e}");
                    }
                    black_box(out.len());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, render_templates);
criterion_main!(benches);
