#!/usr/bin/env bash
# The project's test command (README): installs what the tests use besides Rust if it is missing
# (scripts/test-deps.sh), then runs every unit, integration, conformance and end-to-end test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/test-deps.sh
cargo test --workspace --locked "$@"
