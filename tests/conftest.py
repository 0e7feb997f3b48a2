"""Fixtures: one moto server and one `cargo lambda watch` for the session; moto is emptied
before every test so that each test sees only what it made."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import calls  # noqa: E402
from faults import FaultProxy  # noqa: E402
from harness import ROOT, LambdaRouter, Moto, Watch, free_port  # noqa: E402

LOG_DIR = Path(os.environ.get("LIGHTSOUT_LOG_DIR", ROOT / ".local" / "logs"))


ROUTER_PORT = free_port()
ACCOUNT = "123456789012"
QUEUE = "lightsout-requests"
OUTCOMES_BUCKET = "lightsout-outcomes"


def REQUEST_SETTINGS(moto) -> dict[str, str]:  # noqa: N802 - a constant that needs moto's URL
    """The producer's and consumer's settings; moto's queue URLs are `<endpoint>/<account>/<name>`."""
    return {"QUEUE_URL": f"{moto.url}/{ACCOUNT}/{QUEUE}", "OUTCOMES_BUCKET": OUTCOMES_BUCKET,
            # discover-albs' bucket (test_alb_workflow's `infra` makes it).
            "SNAPSHOT_BUCKET": "alb-snapshots"}


@pytest.fixture(scope="session")
def moto():
    """moto, whose Step Functions engine sends Lambda invocations to the router (see `router`)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    server = Moto(LOG_DIR, lambda_port=ROUTER_PORT)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def recorded(moto):
    """A proxy in front of moto that records every AWS call the functions make through it, as IAM
    would see it (tests/calls.py); tests/test_calls_allowed.py evaluates them at the end."""
    p = FaultProxy(free_port(), moto.url, observer=calls.recorder(moto.url))
    yield p
    p.stop()


@pytest.fixture(scope="session")
def watch(moto, recorded):
    """The functions with default settings (plus a small page size so paging is exercised)."""
    w = Watch(recorded, LOG_DIR, env={"PAGE_SIZE": "5", **REQUEST_SETTINGS(moto)})
    yield w
    w.stop()


@pytest.fixture(scope="session")
def router(moto, watch):
    r = LambdaRouter(ROUTER_PORT, moto.url, watch.url)
    yield r
    r.stop()


@pytest.fixture
def watch_with(moto, recorded):
    """Starts the functions with other settings: `watch_with({"DRY_RUN": "true"})`. Their calls
    are recorded too, unless `env` sends them elsewhere (`AWS_ENDPOINT_URL`)."""
    started: list[Watch] = []

    def start(env: dict[str, str]) -> Watch:
        w = Watch(recorded, LOG_DIR, env=env)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture(autouse=True)
def empty_moto(moto):
    moto.reset()


@pytest.fixture
def ec2(moto):
    return moto.client("ec2")


# --- fault injection (test_faults, test_crash, test_metrics) -------------------------------------

@pytest.fixture(scope="module")
def proxy(moto):
    """A `faults.FaultProxy` in front of moto, one per test module."""
    p = FaultProxy(free_port(), moto.url, observer=calls.recorder(moto.url))
    yield p
    p.stop()


@pytest.fixture(scope="module")
def fault_tally(request):
    """The faults the module's tests injected, written to LOG_DIR/faults-<module>.json when it ends
    (the counts in RELIABILITY.md)."""
    tally: Counter[str] = Counter()
    yield tally
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    name = Path(request.module.__file__).stem
    (LOG_DIR / f"faults-{name}.json").write_text(json.dumps(dict(sorted(tally.items())), indent=1))


@pytest.fixture
def no_faults(proxy, fault_tally):
    """Each test starts with no fault rule and zero counts; what it injected goes to the tally.
    A module that injects faults uses it on every test: `pytestmark = pytest.mark.usefixtures("no_faults")`."""
    proxy.clear()
    proxy.reset_counts()
    yield
    proxy.clear()
    fault_tally.update(proxy.injected)


# --- the permission test runs last ----------------------------------------------------------------

def pytest_sessionfinish(session):
    """With LIGHTSOUT_CALLS_DIR set, this process's recorded calls are saved there for
    tests/test_calls_allowed.py to evaluate in a pytest of its own (the Makefile's `integration`)."""
    directory = os.environ.get(calls.RECORDING_DIR)
    if directory:
        calls.save(Path(directory))


def pytest_collection_modifyitems(session, config, items):
    """tests/test_calls_allowed.py evaluates the calls every other test made: it runs after them."""
    last = [i for i in items if i.nodeid.startswith("tests/test_calls_allowed.py") or "test_calls_allowed.py::" in i.nodeid]
    items[:] = [i for i in items if i not in last] + last
