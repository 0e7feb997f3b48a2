"""Fixtures: one moto server and one `cargo lambda watch` for the session; moto is emptied
before every test so that each test sees only what it made."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import ROOT, LambdaRouter, Moto, Watch, free_port  # noqa: E402

LOG_DIR = Path(os.environ.get("LIGHTSOUT_LOG_DIR", ROOT / ".local" / "logs"))


ROUTER_PORT = free_port()
ACCOUNT = "123456789012"
QUEUE = "lightsout-requests"
OUTCOMES_BUCKET = "lightsout-outcomes"


def REQUEST_SETTINGS(moto) -> dict[str, str]:  # noqa: N802 - a constant that needs moto's URL
    """The producer's and consumer's settings; moto's queue URLs are `<endpoint>/<account>/<name>`."""
    return {"QUEUE_URL": f"{moto.url}/{ACCOUNT}/{QUEUE}", "OUTCOMES_BUCKET": OUTCOMES_BUCKET}


@pytest.fixture(scope="session")
def moto():
    """moto, whose Step Functions engine sends Lambda invocations to the router (see `router`)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    server = Moto(LOG_DIR, lambda_port=ROUTER_PORT)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def watch(moto):
    """The functions with default settings (plus a small page size so paging is exercised)."""
    w = Watch(moto, LOG_DIR, env={"PAGE_SIZE": "5", **REQUEST_SETTINGS(moto)})
    yield w
    w.stop()


@pytest.fixture(scope="session")
def router(moto, watch):
    r = LambdaRouter(ROUTER_PORT, moto.url, watch.url)
    yield r
    r.stop()


@pytest.fixture
def watch_with(moto):
    """Starts the functions with other settings: `watch_with({"DRY_RUN": "true"})`."""
    started: list[Watch] = []

    def start(env: dict[str, str]) -> Watch:
        w = Watch(moto, LOG_DIR, env=env)
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
