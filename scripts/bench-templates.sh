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
java = {line.split()[0]: float(line.split()[1]) for line in java_out.splitlines() if line.strip()}
print(f"{'template':<10} {'ours ns/render':>15} {'FreeMarker ns/render':>21} {'speed-up':>9}")
for name in ("event", "user", "cart"):
    with open(f"{target}/criterion/render/{name}/new/estimates.json") as f:
        est = json.load(f)
    ours = est["mean"]["point_estimate"] / events
    print(f"{name:<10} {ours:>15.0f} {java[name]:>21.0f} {java[name] / ours:>8.1f}x")
print(f"({events} events per iteration; ours = criterion mean / events; FreeMarker = median of 5 one-second rounds)")
PY
