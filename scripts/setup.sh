#!/usr/bin/env bash
# Sets up everything the demo and the tests need, from nothing but Python 3, Rust and the package
# registries: a venv at .venv with the pinned tools of scripts/requirements.txt (moto, cargo-lambda,
# ziglang, boto3, pytest, cfn-lint, aws-sam-cli). Re-running it is cheap: it reinstalls only when
# the requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
REQS=scripts/requirements.txt
STAMP="$VENV/.requirements.sha256"
want="$(sha256sum "$REQS" | cut -d' ' -f1)"

if [[ ! -x "$VENV/bin/python" ]]; then
  echo "setup: creating $VENV" >&2
  python3 -m venv "$VENV"
fi
if [[ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]]; then
  echo "setup: installing $REQS into $VENV (first time: a minute or two)" >&2
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r "$REQS"
  echo "$want" > "$STAMP"
fi

for tool in cargo rustc; do
  command -v "$tool" >/dev/null || { echo "setup: $tool not found; install Rust (rustup) first" >&2; exit 1; }
done
echo "setup: ready ($("$VENV/bin/cargo-lambda" lambda --version 2>/dev/null || echo cargo-lambda), $("$VENV/bin/python" -c 'import moto; print("moto", moto.__version__)'))" >&2
