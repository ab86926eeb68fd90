#!/usr/bin/env bash
# Renders the benchmark templates (crates/freemarker/benches/templates/*.ftl) over the benchmark events
# with our engine (criterion, crates/freemarker/benches/render.rs) and with Apache FreeMarker in a warm
# JVM (scripts/ftl-bench/FtlBench.java), then prints ns/render side by side with the speed-up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
events=$(grep -c . crates/freemarker/benches/events.ndjson)

echo "== ours (criterion) ==" >&2
cargo bench -p freemarker --bench render -- --noplot >&2
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')

echo "== Apache FreeMarker (warm JVM) ==" >&2
java_out=$(scripts/ftl-bench/run.sh)
echo "$java_out" >&2

python3 - "$target_dir" "$events" "$java_out" <<'PY'
import json, sys
target, events, java_out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# "<name> <median> ns/render median, <best> best (...)"
java = {l.split()[0]: (float(l.split()[1]), float(l.split()[4])) for l in java_out.splitlines() if l.strip()}
print("ns per render (one render = one event into a fresh output buffer); speed-up = FreeMarker / ours")
print(f"{'template':<9} {'ours median':>12} {'FM median':>10} {'speed-up':>9} | {'ours best':>10} {'FM best':>9} {'speed-up':>9}")
for name in ("event", "user", "cart"):
    base = f"{target}/criterion/render/{name}/new"
    with open(f"{base}/estimates.json") as f:
        ours_median = json.load(f)["median"]["point_estimate"] / events
    with open(f"{base}/sample.json") as f:
        sample = json.load(f)
    ours_best = min(t / n for t, n in zip(sample["times"], sample["iters"])) / events
    fm_median, fm_best = java[name]
    print(f"{name:<9} {ours_median:>12.0f} {fm_median:>10.0f} {fm_median / ours_median:>8.1f}x |"
          f" {ours_best:>10.0f} {fm_best:>9.0f} {fm_best / ours_best:>8.1f}x")
print(f"ours: criterion median / best sample over {events} events; FreeMarker: median / best of 5 one-second rounds, warm JVM")
PY
