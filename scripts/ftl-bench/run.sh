#!/usr/bin/env bash
# Times the benchmark templates in Apache FreeMarker (warm JVM), with the sink's settings.
#   scripts/ftl-bench/run.sh            -> one "<template> <ns> ns/render ..." line per template
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
benches=$root/crates/freemarker/benches
cp=$("$here/build.sh")
exec java -cp "$cp" FtlBench "$benches/events.ndjson" \
  "$benches/templates/event.ftl" "$benches/templates/user.ftl" "$benches/templates/cart.ftl" \
  number_format=computer
