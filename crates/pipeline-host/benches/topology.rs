//! Host throughput: how fast the condition language matches records, and how many events per
//! second flow `demo -> filter -> blackhole` through the bounded channels (generation included).
//! Run with `cargo bench -p pipeline-host`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pipeline_core::condition::Condition;
use pipeline_core::Registry;
use pipeline_host::{Config, RunningTopology};

fn condition_matching(c: &mut Criterion) {
    let records = pipeline_host::sources::generate_demo_record(1, 1000);
    let table: toml::Table = r#"condition = { all = [
        { field = "event_type", op = "is", value = ["Purchase", "Add To Cart"] },
        { field = "event_properties.price", op = "greater_than", value = 20 },
        { not = { field = "user_properties.plan", op = "is", value = "free" } },
    ] }"#
        .parse()
        .expect("condition parses");
    let condition: Condition =
        serde_path_to_error::deserialize(table["condition"].clone()).expect("condition is valid");
    let mut group = c.benchmark_group("condition");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("match_1000_demo_records", |b| {
        b.iter(|| records.iter().filter(|r| condition.matches(r)).count())
    });
    group.finish();
}

fn demo_generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("demo");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("generate_1000_records", |b| {
        b.iter(|| pipeline_host::sources::generate_demo_record(1, 1000))
    });
    group.finish();
}

fn topology_throughput(c: &mut Criterion) {
    const EVENTS: u64 = 20_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let data_dir = std::env::temp_dir().join("pipeline-host-bench");
    let text = format!(
        r#"
data_dir = "{}"
[sources.demo]
type = "demo"
count = {EVENTS}
[transforms.purchases]
type = "filter"
inputs = ["demo"]
condition = {{ field = "event_type", op = "is_not", value = "$groupidentify" }}
[sinks.out]
type = "blackhole"
inputs = ["purchases"]
acknowledgements = true
"#,
        data_dir.display()
    );
    let mut group = c.benchmark_group("topology");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("demo_filter_blackhole_20k", |b| {
        b.iter_batched(
            || Config::from_toml_str(&text, &Registry::new()).expect("config is valid"),
            |config| {
                runtime.block_on(async {
                    let topology = RunningTopology::start(config).await.expect("starts");
                    topology.wait().await.expect("finishes");
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    condition_matching,
    demo_generation,
    topology_throughput
);
criterion_main!(benches);
