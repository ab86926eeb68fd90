#!/usr/bin/env bash
# The whole `render` job, ours against Apache FreeMarker's, in the same minutes: N events (default
# 300,000: the benchmark events repeated) through a template (default the seed's event template),
# read, parsed, rendered and written to /dev/null, each a fresh process (the JVM's start and warm-up
# included, as a user runs it). Rounds interleave; medians of the wall times and their ratio.
#   scripts/bench-render-job.sh [TEMPLATE] ; EVENTS=300000 ROUNDS=5
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
template=${1:-examples/templates/event.ftl}
events=${EVENTS:-300000}
rounds=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$events" crates/freemarker/benches/events.ndjson "$work/in.ndjson" <<'PY'
import sys
n, src, dst = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lines = [l for l in open(src, encoding="utf-8") if l.strip()]
with open(dst, "w", encoding="utf-8") as out:
    for i in range(n):
        out.write(lines[i % len(lines)])
PY
cargo build --release --quiet --bin webhook-sink
cp=$(scripts/ftl-bench/build.sh)
ours=() java_times=()
time_it() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l; }
# One untimed run each: the page cache and the JIT's class files.
target/release/webhook-sink render --template "$template" --input "$work/in.ndjson" >/dev/null
java -cp "$cp" FtlJob "$template" "$work/in.ndjson" number_format=computer >/dev/null
for round in $(seq "$rounds"); do
  ours+=("$(time_it target/release/webhook-sink render --template "$template" --input "$work/in.ndjson")")
  java_times+=("$(time_it java -cp "$cp" FtlJob "$template" "$work/in.ndjson" number_format=computer)")
  echo "round $round: ours ${ours[-1]} s, Apache FreeMarker ${java_times[-1]} s" >&2
done
python3 - "$events" "${ours[*]}" "${java_times[*]}" <<'PY'
import statistics, sys
events = int(sys.argv[1])
ours = [float(x) for x in sys.argv[2].split()]
java = [float(x) for x in sys.argv[3].split()]
o, j = statistics.median(ours), statistics.median(java)
print(f"render job, {events} events: ours {o:.3f} s ({events / o / 1000:.0f}k events/s), "
      f"Apache FreeMarker {j:.3f} s ({events / j / 1000:.0f}k events/s): {j / o:.1f}x (medians of {len(ours)})")
PY
