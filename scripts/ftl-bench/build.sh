#!/usr/bin/env bash
# Compiles the Java helpers next to this script (FtlBatch, FtlBench) against the same jars as
# /work/shared/oracle/ftl-oracle, into a cache directory; prints the classpath to use.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
oracle_dir=${FTL_ORACLE_DIR:-/work/shared/oracle}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/ftl-bench
jars=/usr/share/java/freemarker.jar:/usr/share/java/jackson-databind.jar:/usr/share/java/jackson-core.jar:/usr/share/java/jackson-annotations.jar
if [ ! -f /usr/share/java/freemarker.jar ] || [ ! -f /usr/share/java/jackson-databind.jar ]; then
  # the oracle's first run installs the Debian packages; reuse that path
  "$oracle_dir/ftl-oracle" /dev/null /dev/null >/dev/null 2>&1 || true
fi
mkdir -p "$cache"
for src in "$here"/*.java; do
  cls="$cache/$(basename "${src%.java}").class"
  if [ ! -f "$cls" ] || [ "$src" -nt "$cls" ]; then
    javac -cp "$jars" -d "$cache" "$src" >&2
  fi
done
echo "$jars:$cache"
