#!/usr/bin/env bash
# The project's test command (README): every unit, integration, conformance and end-to-end test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --locked "$@"
