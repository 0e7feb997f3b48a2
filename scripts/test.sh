#!/usr/bin/env bash
# `make test`: everything CI checks, ordered to keep this kind of machine's two cores busy.
#
# 1. Side by side: the venvs (`make setup`, mostly network) and the debug build of the tests and
#    the functions, linted as it compiles (below). When the venvs are ready, the template checks
#    run beside the build, and `sam build` for x86_64 starts in the background at the lowest
#    priority: it takes the core the debug build leaves idle (its last minutes are aws-sdk-ec2
#    alone, one rustc on one core).
# 2. When the debug build is done, `sam build` for arm64 starts in the background too, and unit
#    and integration run in front: the integration tests wait on the stand-ins part of
#    the time, and the release builds take that up instead of running after them.
# 3. Wait for both release builds; each is checked by scripts/check_artifacts.py.
#
# Linting while compiling: `cargo clippy` is `cargo check` with clippy-driver as the compiler of
# the workspace's own crates, so it compiles every dependency a second time, in check mode (the
# whole AWS SDK: minutes on a cold target directory). Here clippy-driver compiles the workspace's
# crates in the debug build itself (RUSTC_WORKSPACE_WRAPPER, with clippy's `-D warnings` in
# CLIPPY_ARGS), which lints the same targets as `cargo clippy --workspace --all-targets` (libraries,
# binaries, unit and integration tests; the workspace has no benches or examples) and fails the
# build on any warning, while the dependencies are built once, by rustc, for both. The variables
# stay set for every later cargo run of the debug build (unit, `cargo lambda watch`), since they are
# part of cargo's fingerprint, and are unset for `sam build`. `make lint` is the plain
# `cargo clippy`, for the edit loop.
#
# A phase that fails stops the background builds.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .local

total=$SECONDS
declare -A started pgid

# background NAME COMMAND...: runs COMMAND in a session of its own (so that a failure elsewhere can
# end it and everything it started), output in .local/make-NAME.log, exit code in
# .local/make-NAME.rc. Release builds run at the lowest priority: the tests are in front.
background() {
  local name=$1
  shift
  rm -f ".local/make-$name.rc"
  started[$name]=$SECONDS
  setsid bash -c 'name=$1; shift; "$@" > ".local/make-$name.log" 2>&1; echo $? > ".local/make-$name.rc"' \
    _ "$name" "$@" &
  pgid[$name]=$!
  echo "make test: $name started in the background (log: .local/make-$name.log)"
}

stop_background() {
  for name in "${!pgid[@]}"; do
    kill -TERM -- "-${pgid[$name]}" 2>/dev/null
  done
}

fail() {
  echo "make test: $1 FAILED"
  stop_background
  exit 1
}

# wait_for NAME: waits for a background job, shows its log, fails when it failed.
wait_for() {
  local name=$1
  while [ ! -f ".local/make-$name.rc" ]; do
    sleep 2
    # Ended without writing its exit code: killed.
    kill -0 "${pgid[$name]}" 2>/dev/null || [ -f ".local/make-$name.rc" ] || { echo 137 > ".local/make-$name.rc"; }
  done
  cat ".local/make-$name.log"
  [ "$(cat ".local/make-$name.rc")" = 0 ] || fail "$name"
  echo "make test: $name took $((SECONDS - started[$name])) s"
}

make_() { make --no-print-directory "$@"; }
# A release build: without the lint variables, at the lowest priority.
release() { env -u RUSTC_WORKSPACE_WRAPPER -u CLIPPY_ARGS nice -n 19 make --no-print-directory "$@"; }
export -f release

export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
RUSTC_WORKSPACE_WRAPPER=$(rustup which clippy-driver) || fail "finding clippy-driver (rustup component add clippy)"
CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__

# 1. The venvs, and the linted debug build beside them.
start=$SECONDS
background compile make --no-print-directory fmt-check compile
make_ setup || fail setup
echo "make test: setup took $((SECONDS - start)) s"
background sam-build-x86_64 release sam-build-x86_64
# The template checks need only the venvs (and node_modules): they run beside the debug build.
background template make --no-print-directory template
wait_for compile

# 2. arm64 in the background, the tests in front.
if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
    || rustup target add aarch64-unknown-linux-gnu; then
  background sam-build-arm64 release sam-build-arm64
else
  rm -rf .aws-sam/arm64
  echo "make test: arm64 NOT BUILT: the aarch64-unknown-linux-gnu Rust target is not installed"
  echo "  and 'rustup target add aarch64-unknown-linux-gnu' failed; only x86_64 is built and checked."
fi
start=$SECONDS
make_ unit || fail unit
echo "make test: unit took $((SECONDS - start)) s"
wait_for template
start=$SECONDS
make_ integration || fail integration
echo "make test: integration took $((SECONDS - start)) s"

# 3. The release builds.
tests_done=$SECONDS
for name in sam-build-x86_64 sam-build-arm64; do
  [ -n "${started[$name]:-}" ] && wait_for "$name"
done
echo "make test: the release builds ended $((SECONDS - tests_done)) s after the tests"
echo "make test: all checks passed in $((SECONDS - total)) s"
