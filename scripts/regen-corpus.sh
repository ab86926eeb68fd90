#!/usr/bin/env bash
# Regenerates the `expected` sections of crates/freemarker/tests/corpus/*.ftlcases (or the named files)
# with Apache FreeMarker. Idempotent. Options: --via-oracle (one ftl-oracle call per case), --check
# (compare the batch harness with ftl-oracle, write nothing). See scripts/regen_corpus.py.
set -euo pipefail
exec python3 "$(dirname "$0")/regen_corpus.py" "$@"
