"""Crash between steps: a function's process is killed in the middle of a run, then the work is
run again, and must converge to the right state.

The fault proxy (tests/faults.py) holds one AWS call of the function; while it is held, the
function's process (the bootstrap that `cargo lambda watch` runs) gets SIGKILL and that watch is
stopped, as a Lambda sandbox dies. The held call is then either dropped (it never reached AWS) or
forwarded (it took effect, but nobody heard the answer). A fresh watch plays the next sandbox.

In the state machine a dead runtime answers the Task with `Runtime.ExitError` (the LambdaRouter
says so when the watch is gone), which the ASL retries; when every retry meets the dead sandbox the
execution fails, and the next scheduled run must finish the job.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading

import pytest

from conftest import ACCOUNT, OUTCOMES_BUCKET, QUEUE
from harness import launch, states
from test_alb_workflow import (  # noqa: F401 - fixtures
    EVENING,
    MORNING,
    alb,
    infra,
    legacy_input,
    listeners,
    machine,
    record,
)
from test_requests import deliver, managed, outcome, post, queues  # noqa: F401 - fixtures

LATER_MORNING = "2026-11-25T11:00:00+09:00"
LATER_EVENING = "2026-11-25T21:00:00+09:00"


pytestmark = pytest.mark.usefixtures("no_faults")


@pytest.fixture
def sandbox(watch_with, moto, proxy):
    """A new `cargo lambda watch` (a fresh Lambda sandbox) whose AWS calls pass the proxy."""

    def start(**env: str):
        return watch_with({
            "AWS_ENDPOINT_URL": proxy.url,
            "QUEUE_URL": f"{moto.url}/{ACCOUNT}/{QUEUE}",
            "OUTCOMES_BUCKET": OUTCOMES_BUCKET,
            **env,
        })

    return start


@pytest.fixture
def workflow(machine, router):
    saved = router.watch_url
    yield machine
    router.watch_url = saved


def kill(watch, function: str) -> None:
    """SIGKILL the function's process under `watch`, then stop the watch (the sandbox is gone)."""
    children = subprocess.run(["pgrep", "-P", str(watch.proc.pid)], capture_output=True, text=True).stdout.split()
    killed = 0
    for pid in map(int, children):
        try:
            program = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0].decode()
        except OSError:
            continue
        if program.endswith("/" + function):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    assert killed == 1, f"{function} is not running under the watch"
    watch.stop()


def in_background(call) -> threading.Thread:
    """Runs `call()` in a thread; whatever it raises (its sandbox was killed) is kept, not lost."""
    box: dict = {}

    def run():
        try:
            box["result"] = call()
        except Exception as error:  # noqa: BLE001 - the killed invocation's error is expected
            box["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.box = box
    thread.start()
    return thread


# --- the ALB state machine ---------------------------------------------------------------------------


@pytest.mark.parametrize("reached_aws", [False, True], ids=["call-lost", "call-done"])
def test_create_alb_killed_between_alb_and_listeners_next_run_completes_it(workflow, router, sandbox, proxy, moto, infra, reached_aws):
    first = sandbox()
    router.watch_url = first.url
    proxy.add("CreateListener", "hold", times=1)
    run = in_background(lambda: workflow.run(legacy_input(infra, now=MORNING)))
    proxy.wait_held("CreateListener")
    kill(first, "create-alb")
    proxy.release("CreateListener", forward=reached_aws)
    run.join(120)
    failed = run.box["result"]
    # Every retry met the dead sandbox: the run fails, and says why.
    assert failed["status"] == "FAILED" and failed["error"] == "Runtime.ExitError"
    half = alb(moto)
    assert half is not None and record(moto, infra["zone"]) is None
    assert sorted(listeners(moto, half["LoadBalancerArn"])) == ([80] if reached_aws else [])

    router.watch_url = sandbox().url
    again = workflow.run(legacy_input(infra, now=LATER_MORNING))
    assert again["status"] == "SUCCEEDED", again
    assert again["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "Create ALB", "Create Route 53 Record"]
    lb = alb(moto)
    assert lb["LoadBalancerArn"] == half["LoadBalancerArn"]
    assert sorted(listeners(moto, lb["LoadBalancerArn"])) == [80, 443]
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]


def test_create_record_killed_mid_call_is_retried_in_a_new_sandbox(workflow, router, sandbox, proxy, moto, infra):
    first, second = sandbox(), sandbox()
    router.watch_url = first.url
    proxy.add("ChangeResourceRecordSets", "hold", times=1)
    run = in_background(lambda: workflow.run(legacy_input(infra, now=MORNING)))
    proxy.wait_held("ChangeResourceRecordSets")
    router.watch_url = second.url  # the retry lands in a fresh sandbox
    kill(first, "create-route53-record")
    proxy.release("ChangeResourceRecordSets", forward=False)
    run.join(120)
    result = run.box["result"]
    assert result["status"] == "SUCCEEDED", result
    lb = alb(moto)
    assert sorted(listeners(moto, lb["LoadBalancerArn"])) == [80, 443]
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]


@pytest.mark.parametrize(
    "function, operation, reached_aws",
    [
        ("delete-route53-record", "ChangeResourceRecordSets", True),
        ("delete-alb", "DeleteLoadBalancer", False),
        ("delete-alb", "DeleteLoadBalancer", True),
    ],
    ids=["record-deleted-unheard", "alb-delete-lost", "alb-deleted-unheard"],
)
def test_evening_killed_mid_delete_next_run_finishes(workflow, router, sandbox, proxy, moto, infra, function, operation, reached_aws):
    morning = sandbox()
    router.watch_url = morning.url
    doc = dict(legacy_input(infra, snapshotBucket="alb-snapshots"))
    assert workflow.run({**doc, "now": MORNING})["status"] == "SUCCEEDED"
    proxy.add(operation, "hold", times=1)
    run = in_background(lambda: workflow.run({**doc, "now": EVENING}))
    proxy.wait_held(operation)
    kill(morning, function)
    proxy.release(operation, forward=reached_aws)
    run.join(120)
    assert run.box["result"]["status"] == "FAILED" and run.box["result"]["error"] == "Runtime.ExitError"
    # Whatever was left, no record names an ALB that is gone.
    a = record(moto, infra["zone"])
    assert a is None or (alb(moto) and a["AliasTarget"]["DNSName"].rstrip(".") == alb(moto)["DNSName"])

    router.watch_url = sandbox().url
    again = workflow.run({**doc, "now": LATER_EVENING})
    assert again["status"] == "SUCCEEDED", again
    assert alb(moto) is None and record(moto, infra["zone"]) is None
    snapshot = json.loads(moto.client("s3").get_object(Bucket="alb-snapshots", Key="lightsout/alb-snapshots/dev-alb.json")["Body"].read())
    assert [port["port"] for port in snapshot["listeners"]] == [80, 443], "the snapshot kept the whole ALB"


# --- ec2-autostop --------------------------------------------------------------------------------------


def test_autostop_killed_after_some_batches_next_run_finishes(sandbox, proxy, ec2):
    to_stop = launch(ec2, managed(TIME="9~18"), count=6)
    first = sandbox(BATCH_SIZE="2")
    proxy.add("StopInstances", "hold", skip=1, times=1)  # the first batch goes through
    run = in_background(lambda: first.invoke("ec2-autostop", {"now": "2026-11-25T20:00:00+09:00"}, timeout=120))
    proxy.wait_held("StopInstances")
    kill(first, "ec2-autostop")
    proxy.release("StopInstances", forward=False)
    run.join(60)
    done = [i for i, s in states(ec2, to_stop).items() if s == "stopped"]
    assert len(done) == 2, "one batch was done before the crash"

    report = sandbox(BATCH_SIZE="2").invoke("ec2-autostop", {"now": "2026-11-25T21:00:00+09:00"})
    assert report["failed"] == []
    assert sorted(a["instanceId"] for a in report["stopped"]) == sorted(set(to_stop) - set(done))
    assert report["unchanged"] == 2
    assert set(states(ec2, to_stop).values()) == {"stopped"}


# --- sqs-consumer ----------------------------------------------------------------------------------------


def test_consumer_killed_after_acting_before_recording_redelivery_acts_once(sandbox, proxy, moto, queues, ec2):
    box = launch(ec2, managed(), state="stopped")[0]
    first = sandbox()
    code, answer, _ = post(first, {"action": "wake", "instanceIds": [box], "until": "2099-01-01T23:00:00+09:00"})
    assert code == 200
    # The outcome, written after StartInstances.
    proxy.add("PutObject", "hold", times=1, path=f"requests/{answer['requestId']}.json")
    run = in_background(lambda: deliver(first, moto, queues["main"]))
    proxy.wait_held("PutObject")
    assert proxy.counts["StartInstances"] == 1 and states(ec2)[box] == "running"
    kill(first, "sqs-consumer")
    proxy.release("PutObject", forward=False)
    run.join(60)
    assert "error" in run.box, "the invocation died with its sandbox, so SQS keeps the message"

    proxy.reset_counts()
    second = sandbox()
    delivered, failed = deliver(second, moto, queues["main"])
    assert len(delivered) == 1
    if failed:
        # A consumer that claims a request before acting (requests/{id}.claim, lasting until the
        # claiming invocation's deadline) refuses it while the dead invocation's claim lasts: the
        # message stays queued, nothing is done twice. In Lambda the claim ends with the function's
        # timeout, long before the queue's visibility timeout (six times it) redelivers; here
        # (`cargo lambda watch` gives no deadline) the test lets it lapse by removing it.
        assert "StartInstances" not in proxy.counts and outcome(second, answer["requestId"])[0] == 404
        moto.client("s3").delete_object(Bucket=OUTCOMES_BUCKET, Key=f"requests/{answer['requestId']}.claim")
        delivered, failed = deliver(second, moto, queues["main"])
        assert len(delivered) == 1
    assert failed == []
    assert "StartInstances" not in proxy.counts, "not started twice"
    assert states(ec2)[box] == "running"
    status, recorded, _ = outcome(second, answer["requestId"])
    assert status == 200 and recorded["status"] == "done"
    # The redelivery finds it running: the outcome says so (it cannot know the first one started it).
    assert recorded["instances"][0]["result"] == "already running"
    assert queues["sqs"].receive_message(QueueUrl=queues["main"]).get("Messages") is None
