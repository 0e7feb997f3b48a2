#!/usr/bin/env bash
# Sets up everything the demo and the tests need, from nothing but Python 3, Rust and the package
# registries: a venv at .venv with the pinned tools of scripts/requirements.txt (moto, cargo-lambda,
# ziglang, boto3, pytest, cfn-lint with the serverless rules, aws-sam-cli), and one at .venv-checkov
# with checkov (scripts/requirements-checkov.txt), whose own pins (boto3 among them) conflict with
# the first, and one at .venv-ministack with ministack (scripts/requirements-ministack.txt), the
# second, independent AWS stand-in, which pins its own botocore. Re-running it is cheap: it reinstalls a venv only when its requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."

# install VENV REQUIREMENTS
install() {
  local venv="$1" reqs="$2"
  local stamp="$venv/.requirements.sha256" want
  want="$(sha256sum "$reqs" | cut -d' ' -f1)"
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating $venv" >&2
    python3 -m venv "$venv"
  fi
  if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
    echo "setup: installing $reqs into $venv (first time: a minute or two)" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$reqs"
    echo "$want" > "$stamp"
  fi
}

# The three venvs are independent: installed side by side (a fresh clone's setup is mostly
# downloading and unpacking wheels, one core each).
pids=()
install .venv scripts/requirements.txt & pids+=($!)
install .venv-checkov scripts/requirements-checkov.txt & pids+=($!)
install .venv-ministack scripts/requirements-ministack.txt & pids+=($!)
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[[ $failed == 0 ]] || { echo "setup: installing a venv FAILED (its pip output is above)" >&2; exit 1; }

for tool in cargo rustc; do
  command -v "$tool" >/dev/null || { echo "setup: $tool not found; install Rust (rustup) first" >&2; exit 1; }
done
echo "setup: ready ($(.venv/bin/cargo-lambda lambda --version 2>/dev/null || echo cargo-lambda), $(.venv/bin/python -c 'import moto; print("moto", moto.__version__)'), checkov $(.venv-checkov/bin/checkov --version 2>/dev/null), ministack $(.venv-ministack/bin/python -c 'import importlib.metadata as m; print(m.version("ministack"))'))" >&2
