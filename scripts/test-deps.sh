#!/usr/bin/env bash
# Installs what the tests use besides Rust, when it is missing: Debian's `chromium` (the dashboard
# test loads the page in it), `prometheus` (the Grafana dashboard test queries it), and Python with
# the official Amplitude SDK (the ingestion end-to-end test) and the Standard Webhooks and Svix
# verifiers (tests/sink_signing.rs), and npm with Amplitude's browser SDK
# (tests/browser_sdk.rs loads it into Chromium). Needs root (or sudo) for apt-get;
# does nothing when everything is there. The tests fail, never skip, without these.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v prometheus >/dev/null || missing+=(prometheus)
command -v python3 >/dev/null || missing+=(python3 python3-pip)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v openssl >/dev/null || missing+=(openssl)
[ -d /etc/ssl/certs ] && [ -n "$(ls /etc/ssl/certs)" ] || missing+=(ca-certificates)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! python3 -c 'import amplitude' 2>/dev/null; then
  echo "== python3 -m pip install amplitude-analytics"
  python3 -m pip install --quiet --disable-pip-version-check amplitude-analytics \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages amplitude-analytics
fi

if ! python3 -c 'import standardwebhooks, svix' 2>/dev/null; then
  echo "== python3 -m pip install standardwebhooks svix"
  python3 -m pip install --quiet --disable-pip-version-check standardwebhooks svix \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages standardwebhooks svix
fi

if [ ! -d tests/browser_sdk/node_modules/@amplitude/analytics-browser ]; then
  echo "== npm ci (tests/browser_sdk: @amplitude/analytics-browser)"
  npm ci --prefix tests/browser_sdk --no-audit --no-fund --silent
fi
