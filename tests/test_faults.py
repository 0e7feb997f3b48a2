"""Fault injection: every function, and the ALB state machine, with AWS misbehaving.

The functions run as real binaries under `cargo lambda watch` with `AWS_ENDPOINT_URL` pointing at a
`faults.FaultProxy` in front of moto. The proxy answers chosen calls with the service's own
throttling error, a 500 or 503, a slow answer, or a dropped connection (before the call reaches
moto, or after: the call took effect but its answer was lost). Two questions for every function:

(a) a few transient faults on its key operations: does it retry and reach the right AWS state?
(b) faults that outlast the retries: does it fail with its stable error type (or report the failure
    in its answer, per its contract) and leave no half-done work?

Every fault a test plans is asserted to have been injected, so a test cannot pass by missing it.
The state machine runs from statemachine/alb-scheduler.asl.json in moto's Step Functions
interpreter, reaching the same watch through the session's LambdaRouter.

Where moto differs from AWS, as it matters here:
- CreateLoadBalancer and CreateListener are idempotent in AWS (the same settings again return the
  existing resource); moto makes a second load balancer / listener. A lost answer to those calls
  (`drop_after`, or a `slow` one past the attempt timeout) would therefore leave duplicates in moto
  that AWS would not make, so those two faults are not injected on those two calls.
- A Route 53 DELETE of a record that is already gone succeeds in moto; AWS answers
  InvalidChangeBatch. The retry after a lost DELETE answer is covered by route53's unit tests.
- A recreated ALB gets the same DNS name in moto (`dev-alb-1.…`); AWS gives each a new one.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from conftest import ACCOUNT, LOG_DIR, OUTCOMES_BUCKET, QUEUE
from faults import FaultProxy
from harness import FunctionError, Watch, launch, states, tags_of
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

SEOUL_EVENING = "2026-11-25T20:00:00+09:00"


pytestmark = pytest.mark.usefixtures("no_faults")


@pytest.fixture(scope="module")
def faulty(moto, proxy):
    """The functions, every AWS call through the proxy. BATCH_SIZE 2 so start/stop take several calls."""
    w = Watch(
        moto,
        LOG_DIR,
        env={
            "AWS_ENDPOINT_URL": proxy.url,
            "PAGE_SIZE": "5",
            "BATCH_SIZE": "2",
            "QUEUE_URL": f"{moto.url}/{ACCOUNT}/{QUEUE}",
            "OUTCOMES_BUCKET": OUTCOMES_BUCKET,
        },
    )
    yield w
    w.stop()


def inject(proxy: FaultProxy, plan: dict[str, list[str]], delay: float = 2.0) -> list[str]:
    """`plan`: operation → the faults its next calls get, one each, in order (so a call with two
    faults succeeds on its third attempt). Returns the `operation:fault` keys, for `all_injected`."""
    keys = []
    for operation, kinds in plan.items():
        for kind in kinds:
            proxy.add(operation, kind, times=1, delay=delay)
            keys.append(f"{operation}:{kind}")
    return keys


def all_injected(proxy: FaultProxy, keys: list[str]) -> None:
    missing = Counter(keys) - Counter(proxy.injected)
    assert not missing, f"planned faults never injected: {dict(missing)}; calls: {dict(proxy.counts)}"


# --- ec2-autostop ----------------------------------------------------------------------------------


def fleet(ec2) -> tuple[list[str], list[str]]:
    """At 20:00 Seoul: four running instances to stop (9~18), four stopped ones to start (19~23)."""
    to_stop = launch(ec2, managed(TIME="9~18"), count=4)
    to_start = launch(ec2, managed(TIME="19~23"), count=4, state="stopped")
    return to_stop, to_start


def test_autostop_rides_out_transient_faults(faulty, proxy, ec2):
    to_stop, to_start = fleet(ec2)
    keys = inject(proxy, {
        "DescribeInstances": ["throttle", "500"],
        "StartInstances": ["503", "drop"],
        "StopInstances": ["drop_after", "slow"],
    })
    report = faulty.invoke("ec2-autostop", {"now": SEOUL_EVENING})
    all_injected(proxy, keys)
    assert report["failed"] == []
    assert sorted(a["instanceId"] for a in report["started"]) == sorted(to_start)
    assert sorted(a["instanceId"] for a in report["stopped"]) == sorted(to_stop)
    assert states(ec2) == {**{i: "stopped" for i in to_stop}, **{i: "running" for i in to_start}}


def test_autostop_reports_what_outlasted_the_retries(faulty, proxy, ec2):
    to_stop, to_start = fleet(ec2)
    proxy.add("StopInstances", "throttle")  # every call, every attempt
    with pytest.raises(FunctionError) as failure:
        faulty.invoke("ec2-autostop", {"now": SEOUL_EVENING})
    assert failure.value.error_type == "InstanceActionFailed"
    report = json.loads(failure.value.message.split("; report: ", 1)[1])
    assert sorted(f["instanceId"] for f in report["failed"]) == sorted(to_stop)
    assert {(f["action"], f["errorCode"]) for f in report["failed"]} == {("stop", "RequestLimitExceeded")}
    # The starts were still done; what is reported failed is exactly what did not happen.
    assert sorted(a["instanceId"] for a in report["started"]) == sorted(to_start) and report["stopped"] == []
    assert states(ec2) == {i: "running" for i in to_stop + to_start}
    # Throttling concerns the call, not its ids: 2 batches × 3 attempts, no splitting into more calls.
    assert proxy.counts["StopInstances"] == 6


def test_autostop_unlistable_region_is_reported_and_nothing_is_done(faulty, proxy, ec2):
    to_stop, to_start = fleet(ec2)
    proxy.add("DescribeInstances", "503")
    with pytest.raises(FunctionError) as failure:
        faulty.invoke("ec2-autostop", {"now": SEOUL_EVENING})
    assert failure.value.error_type == "InstanceActionFailed"
    report = json.loads(failure.value.message.split("; report: ", 1)[1])
    assert [(f["instanceId"], f["action"], f["errorCode"]) for f in report["failed"]] == [(None, "describe", "Unavailable")]
    assert proxy.counts["DescribeInstances"] == 3 and "StartInstances" not in proxy.counts
    assert states(ec2) == {**{i: "running" for i in to_stop}, **{i: "stopped" for i in to_start}}


def test_autostop_four_regions_at_once_one_failing_the_others_are_done(moto, proxy):
    """Four regions worked on at the same time: the one whose listing keeps failing is reported,
    the other three are done (read back from moto), and it held up none of them."""
    regions = ["ap-northeast-2", "us-east-1", "eu-central-1", "us-west-2"]
    w = Watch(moto, LOG_DIR, env={"AWS_ENDPOINT_URL": proxy.url, "REGIONS": ",".join(regions)})
    try:
        ids = {r: launch(moto.client("ec2", r), managed(TIME="9~18"))[0] for r in regions}
        proxy.add("DescribeInstances", "503", region="eu-central-1")
        with pytest.raises(FunctionError) as failure:
            w.invoke("ec2-autostop", {"now": SEOUL_EVENING})
    finally:
        w.stop()
    assert failure.value.error_type == "InstanceActionFailed"
    report = json.loads(failure.value.message.split("; report: ", 1)[1])
    assert [(f["region"], f["action"], f["errorCode"]) for f in report["failed"]] == [("eu-central-1", "describe", "Unavailable")]
    assert [s["region"] for s in report["stopped"]] == ["ap-northeast-2", "us-east-1", "us-west-2"]
    for region, instance in ids.items():
        want = "running" if region == "eu-central-1" else "stopped"
        assert states(moto.client("ec2", region))[instance] == want, region


# --- the ALB functions, one at a time --------------------------------------------------------------


def built(faulty, proxy, infra, **extra) -> dict:
    """The ALB and its record made by the functions themselves, without faults: the event a later
    state receives. The proxy's counts then start from zero."""
    doc = legacy_input(infra, now=MORNING, snapshotBucket="alb-snapshots", **extra)
    created = faulty.invoke("create-alb", doc)
    event = faulty.invoke("create-route53-record", created)
    proxy.reset_counts()
    return event


def test_check_existing_alb_rides_out_transient_faults(faulty, proxy, moto, infra):
    built(faulty, proxy, infra)
    keys = inject(proxy, {
        "DescribeLoadBalancers": ["throttle", "drop"],
        "ListResourceRecordSets": ["503", "drop_after"],
    })
    out = faulty.invoke("check-existing-alb", legacy_input(infra, now=MORNING))
    all_injected(proxy, keys)
    assert (out["albExists"], out["recordExists"], out["nextStep"]) == (True, True, "Nothing")
    assert out["albArn"] == alb(moto)["LoadBalancerArn"]


def test_check_existing_alb_fails_transient_when_faults_outlast_retries(faulty, proxy, infra):
    built(faulty, proxy, infra)
    proxy.add("ListResourceRecordSets", "500")
    with pytest.raises(FunctionError) as failure:
        faulty.invoke("check-existing-alb", legacy_input(infra, now=MORNING))
    assert failure.value.error_type == "AwsTransient"
    assert failure.value.message.startswith("ListResourceRecordSets: InternalFailure")
    assert proxy.counts["ListResourceRecordSets"] == 3


def test_create_alb_rides_out_transient_faults(faulty, proxy, moto, infra):
    keys = inject(proxy, {
        "GetObject": ["throttle"],  # the snapshot lookup (there is none yet)
        "DescribeLoadBalancers": ["500"],
        "CreateLoadBalancer": ["throttle", "503"],
        "CreateListener": ["drop", "500"],
    })
    # One answer slower than the 10 s attempt timeout: the SDK gives up on it and asks again.
    proxy.add("DescribeListeners", "slow", times=1, delay=11)
    keys.append("DescribeListeners:slow")
    started = time.monotonic()
    out = faulty.invoke("create-alb", legacy_input(infra, now=MORNING, snapshotBucket="alb-snapshots"))
    assert time.monotonic() - started < 25, "the slow answer was waited out, not timed out"
    all_injected(proxy, keys)
    assert out["albCreated"] is True and out["listenersCreated"] == 2
    [lb] = [b for b in moto.client("elbv2").describe_load_balancers()["LoadBalancers"] if b["LoadBalancerName"] == "dev-alb"]
    assert lb["LoadBalancerArn"] == out["albArn"]
    by_port = listeners(moto, lb["LoadBalancerArn"])
    assert sorted(by_port) == [80, 443] and by_port[443]["Certificates"][0]["CertificateArn"] == infra["cert"]


def test_create_alb_rule_whose_answer_was_lost(faulty, proxy, moto, infra):
    """CreateRule is not idempotent: the retry of a call that took effect gets PriorityInUse (from
    AWS and from moto alike). create-alb must see that the rule is there and carry on."""
    elb = moto.client("elbv2")
    doc = legacy_input(infra, now=MORNING, snapshotBucket="alb-snapshots")
    first = faulty.invoke("create-alb", doc)
    https = listeners(moto, first["albArn"])[443]
    elb.create_rule(
        ListenerArn=https["ListenerArn"], Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/ws*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": infra["ws"]}],
    )
    faulty.invoke("delete-alb", {**first, "now": EVENING})
    assert alb(moto) is None
    keys = inject(proxy, {"CreateRule": ["drop_after"]})
    out = faulty.invoke("create-alb", {**doc, "albArn": "", "albDNSName": ""})
    all_injected(proxy, keys)
    assert out["restoredFromSnapshot"] is True and out["rulesCreated"] == 1
    rules = [r for r in elb.describe_rules(ListenerArn=listeners(moto, out["albArn"])[443]["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert [r["Priority"] for r in rules] == ["10"]


def test_create_alb_rolls_back_when_a_listener_cannot_be_made(faulty, proxy, moto, infra):
    proxy.add("CreateListener", "500", skip=1)  # the first listener is made, the second never
    with pytest.raises(FunctionError) as failure:
        faulty.invoke("create-alb", legacy_input(infra, now=MORNING))
    assert failure.value.error_type == "AwsTransient"
    assert failure.value.message.startswith("CreateListener: InternalFailure")
    assert proxy.counts["CreateListener"] == 1 + 3 and proxy.counts["DeleteLoadBalancer"] == 1
    assert alb(moto) is None, "no ALB without its listeners is left behind"


def test_delete_alb_rides_out_transient_faults(faulty, proxy, moto, infra):
    event = built(faulty, proxy, infra)
    keys = inject(proxy, {
        "DescribeLoadBalancers": ["throttle"],
        "DescribeListeners": ["500"],
        "DescribeLoadBalancerAttributes": ["drop"],
        "PutObject": ["throttle", "500"],
        "DeleteLoadBalancer": ["503", "drop_after"],
    })
    out = faulty.invoke("delete-alb", {**event, "now": EVENING})
    all_injected(proxy, keys)
    assert out["albDeleted"] is True and alb(moto) is None
    snapshot = json.loads(moto.client("s3").get_object(Bucket="alb-snapshots", Key=out["snapshotKey"])["Body"].read())
    assert [l["port"] for l in snapshot["listeners"]] == [80, 443]


def test_delete_alb_deletes_nothing_it_could_not_save(faulty, proxy, moto, infra):
    event = built(faulty, proxy, infra)
    proxy.add("PutObject", "503")
    with pytest.raises(FunctionError) as failure:
        faulty.invoke("delete-alb", {**event, "now": EVENING})
    assert failure.value.error_type == "SnapshotFailed"
    assert "DeleteLoadBalancer" not in proxy.counts
    assert sorted(listeners(moto, alb(moto)["LoadBalancerArn"])) == [80, 443]


def test_delete_alb_fails_transient_and_keeps_the_alb_when_elb_refuses(faulty, proxy, moto, infra):
    event = built(faulty, proxy, infra)
    proxy.add("DeleteLoadBalancer", "throttle")
    with pytest.raises(FunctionError) as failure:
        faulty.invoke("delete-alb", {**event, "now": EVENING})
    assert failure.value.error_type == "AwsTransient"
    assert proxy.counts["DeleteLoadBalancer"] == 3
    assert sorted(listeners(moto, alb(moto)["LoadBalancerArn"])) == [80, 443]


def test_create_record_rides_out_transient_faults(faulty, proxy, moto, infra):
    created = faulty.invoke("create-alb", legacy_input(infra, now=MORNING))
    keys = inject(proxy, {"ListResourceRecordSets": ["throttle", "drop"], "ChangeResourceRecordSets": ["500", "drop_after"]})
    out = faulty.invoke("create-route53-record", created)
    all_injected(proxy, keys)
    assert out["recordExists"] is True
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == alb(moto)["DNSName"]


def test_create_record_fails_transient_and_writes_nothing(faulty, proxy, moto, infra):
    created = faulty.invoke("create-alb", legacy_input(infra, now=MORNING))
    proxy.add("ChangeResourceRecordSets", "throttle")
    with pytest.raises(FunctionError) as failure:
        faulty.invoke("create-route53-record", created)
    assert failure.value.error_type == "AwsTransient"
    assert record(moto, infra["zone"]) is None


def test_delete_record_rides_out_transient_faults(faulty, proxy, moto, infra):
    event = built(faulty, proxy, infra)
    keys = inject(proxy, {"ListResourceRecordSets": ["503"], "ChangeResourceRecordSets": ["throttle", "drop_after"]})
    out = faulty.invoke("delete-route53-record", {**event, "now": EVENING})
    all_injected(proxy, keys)
    assert out["recordStatus"] == "deleted" and record(moto, infra["zone"]) is None


def test_delete_record_fails_transient_and_the_record_still_names_a_live_alb(faulty, proxy, moto, infra):
    event = built(faulty, proxy, infra)
    proxy.add("ChangeResourceRecordSets", "500")
    with pytest.raises(FunctionError) as failure:
        faulty.invoke("delete-route53-record", {**event, "now": EVENING})
    assert failure.value.error_type == "AwsTransient"
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == alb(moto)["DNSName"]


# --- the request pipeline ----------------------------------------------------------------------------


def messages(queues) -> list[dict]:
    got = queues["sqs"].receive_message(QueueUrl=queues["main"], MaxNumberOfMessages=10, VisibilityTimeout=0,
                                        MessageAttributeNames=["All"])
    return got.get("Messages", [])


def test_producer_rides_out_transient_faults(faulty, proxy, queues):
    keys = inject(proxy, {"SendMessage": ["throttle", "500"]})
    code, answer, _ = post(faulty, {"action": "sleep", "tag": {"key": "Team", "value": "api"}})
    all_injected(proxy, keys)
    assert code == 200
    [message] = messages(queues)
    assert message["MessageAttributes"]["requestId"]["StringValue"] == answer["requestId"]


def test_producer_lost_answer_queues_a_duplicate_with_the_same_request_id(faulty, proxy, queues):
    """The SDK cannot tell a lost answer from a lost request: it sends again. On a standard queue
    that is a second message, with the same request id, which the consumer acts on once."""
    keys = inject(proxy, {"SendMessage": ["drop_after", "503"]})
    code, answer, _ = post(faulty, {"action": "sleep", "tag": {"key": "Team", "value": "api"}})
    all_injected(proxy, keys)
    assert code == 200
    got = messages(queues)
    assert len(got) == 2
    assert {m["MessageAttributes"]["requestId"]["StringValue"] for m in got} == {answer["requestId"]}


def test_producer_answers_500_and_queues_nothing_when_sqs_keeps_refusing(faulty, proxy, queues):
    proxy.add("SendMessage", "throttle")
    code, answer, _ = post(faulty, {"action": "sleep", "tag": {"key": "Team", "value": "api"}})
    assert code == 500
    assert answer == {"message": "The request could not be queued (RequestThrottled); nothing was sent, please try again"}
    assert proxy.counts["SendMessage"] == 3 and messages(queues) == []
    proxy.clear()
    proxy.add("GetObject", "500")
    code, answer, _ = outcome(faulty, "some-request")
    assert (code, answer) == (500, {"message": "The outcome could not be read (InternalError)"})


def test_consumer_rides_out_transient_faults(faulty, proxy, moto, queues, ec2):
    box = launch(ec2, managed(), state="stopped")[0]
    code, answer, _ = post(faulty, {"action": "wake", "instanceIds": [box], "until": "2099-01-01T23:00:00+09:00"})
    assert code == 200
    keys = inject(proxy, {
        "GetObject": ["throttle"],
        "DescribeInstances": ["500"],
        "CreateTags": ["drop"],
        "StartInstances": ["503", "drop_after"],
        "PutObject": ["throttle", "drop_after"],
    })
    delivered, failed = deliver(faulty, moto, queues["main"])
    all_injected(proxy, keys)
    assert len(delivered) == 1 and failed == []
    assert states(ec2)[box] == "running"
    recorded = outcome(faulty, answer["requestId"])[1]
    assert recorded["status"] == "done" and recorded["instances"][0]["result"] == "started"


def test_consumer_fails_the_message_and_records_nothing_when_ec2_keeps_refusing(faulty, proxy, moto, queues, ec2):
    box = launch(ec2, managed(), state="stopped")[0]
    code, answer, _ = post(faulty, {"action": "wake", "instanceIds": [box], "until": "2099-01-01T23:00:00+09:00"})
    proxy.add("StartInstances", "throttle")
    delivered, failed = deliver(faulty, moto, queues["main"])
    assert failed == [delivered[0]["MessageId"]], "reported in batchItemFailures, so SQS delivers it again"
    assert states(ec2)[box] == "stopped"
    assert outcome(faulty, answer["requestId"])[0] == 404, "no outcome: the request is not marked done"
    # AWS recovers; the redelivery finishes the job.
    proxy.clear()
    proxy.reset_counts()
    delivered, failed = deliver(faulty, moto, queues["main"])
    assert len(delivered) == 1 and failed == []
    assert states(ec2)[box] == "running" and proxy.counts["StartInstances"] == 1
    assert outcome(faulty, answer["requestId"])[1]["instances"][0]["result"] == "started"


def hold_of(ec2, box: str) -> str | None:
    return tags_of(ec2, box).get("AUTOSTOP_HOLD_UNTIL")


def test_a_wake_that_keeps_failing_leaves_the_holds_as_they_were(faulty, proxy, moto, queues, ec2):
    """The hold is set before the start; when the start fails, it is put back, so a wake that ends
    dead-lettered does not leave a hold that makes ec2-autostop start the instance later."""
    fresh = launch(ec2, managed(), state="stopped")[0]
    held = launch(ec2, managed(AUTOSTOP_HOLD_UNTIL="2026-11-25T19:00:00+09:00"), state="stopped")[0]
    code, answer, _ = post(faulty, {"action": "wake", "instanceIds": [fresh, held], "until": "2099-01-01T23:00:00+09:00"})
    assert code == 200
    proxy.add("StartInstances", "throttle")
    for _ in range(3):  # every receive up to the dead-letter queue's maxReceiveCount
        delivered, failed = deliver(faulty, moto, queues["main"])
        assert failed == [delivered[0]["MessageId"]]
        assert hold_of(ec2, fresh) is None, "the hold this wake set is taken off again"
        assert hold_of(ec2, held) == "2026-11-25T19:00:00+09:00", "the earlier hold is put back"
    assert states(ec2) == {fresh: "stopped", held: "stopped"}
    assert outcome(faulty, answer["requestId"])[0] == 404
    # ec2-autostop at 20:00 Seoul (outside 9~18): nothing holds them, nothing is started.
    report = faulty.invoke("ec2-autostop", {"now": SEOUL_EVENING})
    assert report["started"] == [] and states(ec2) == {fresh: "stopped", held: "stopped"}


def test_a_sleep_whose_stop_fails_puts_the_hold_back(faulty, proxy, moto, queues, ec2):
    box = launch(ec2, managed(AUTOSTOP_HOLD_UNTIL="2099-01-01T00:00:00Z"))[0]
    post(faulty, {"action": "sleep", "instanceIds": [box]})
    proxy.add("StopInstances", "503")
    delivered, failed = deliver(faulty, moto, queues["main"])
    assert failed == [delivered[0]["MessageId"]]
    assert states(ec2)[box] == "running" and hold_of(ec2, box) == "2099-01-01T00:00:00Z"
    # AWS recovers: the redelivery clears the hold and stops it.
    proxy.clear()
    delivered, failed = deliver(faulty, moto, queues["main"])
    assert failed == [] and states(ec2)[box] == "stopped" and hold_of(ec2, box) is None


def test_a_hold_that_cannot_be_put_back_stays_and_the_message_fails(faulty, proxy, moto, queues, ec2):
    """The limit of the undo: when DeleteTags outlasts its retries too, the hold stays (logged, and
    in the message's failure). A later delivery cannot tell it from a hold the instance had before
    the request, so it stays for good: ec2-autostop will honour it (RELIABILITY.md, known limits)."""
    box = launch(ec2, managed(), state="stopped")[0]
    post(faulty, {"action": "wake", "instanceIds": [box], "until": "2099-01-01T23:00:00+09:00"})
    proxy.add("StartInstances", "throttle")
    proxy.add("DeleteTags", "throttle")
    delivered, failed = deliver(faulty, moto, queues["main"])
    assert failed == [delivered[0]["MessageId"]]
    assert proxy.counts["DeleteTags"] == 3, "the undo was tried, with the SDK's retries"
    assert hold_of(ec2, box) == "2099-01-01T23:00:00+09:00" and states(ec2)[box] == "stopped"
    proxy.clear()
    proxy.add("StartInstances", "throttle")  # DeleteTags works again, but nothing asks for it
    delivered, failed = deliver(faulty, moto, queues["main"])
    assert failed == [delivered[0]["MessageId"]] and hold_of(ec2, box) == "2099-01-01T23:00:00+09:00"


def test_consumer_duplicate_messages_end_in_one_outcome(faulty, proxy, moto, queues, ec2):
    box = launch(ec2, managed(), state="stopped")[0]
    keys = inject(proxy, {"SendMessage": ["drop_after"]})
    code, answer, _ = post(faulty, {"action": "wake", "instanceIds": [box], "until": "2099-01-01T23:00:00+09:00"})
    all_injected(proxy, keys)
    assert len(messages(queues)) == 2
    # Deliver until the queue is empty (a consumer may hold one copy back while the other acts).
    for _ in range(3):
        delivered, _ = deliver(faulty, moto, queues["main"])
        if not delivered:
            break
    assert messages(queues) == []
    assert states(ec2)[box] == "running"
    recorded = outcome(faulty, answer["requestId"])[1]
    assert recorded["status"] == "done" and recorded["instances"][0]["result"] == "started"


# --- the whole state machine ---------------------------------------------------------------------------


@pytest.fixture
def workflow(machine, router, faulty):
    """The state machine, its Lambda tasks served by the watch whose AWS calls pass the proxy."""
    saved = router.watch_url
    router.watch_url = faulty.url
    yield machine
    router.watch_url = saved


def test_workflow_converges_through_a_share_of_faulty_calls(workflow, proxy, moto, infra):
    """About one call in four of ELBv2, Route 53 and S3 fails (throttled, 500, 503 or dropped), by
    a seeded draw. Morning and evening still end where they should."""
    for kind in ("throttle", "500", "503", "drop"):
        for service in ("elasticloadbalancing", "route53", "s3"):
            proxy.add("*", kind, fraction=0.07, service=service)
    morning = workflow.run(legacy_input(infra, now=MORNING, snapshotBucket="alb-snapshots"))
    assert morning["status"] == "SUCCEEDED", morning
    lb = alb(moto)
    assert sorted(listeners(moto, lb["LoadBalancerArn"])) == [80, 443]
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]
    evening = workflow.run(legacy_input(infra, now=EVENING, snapshotBucket="alb-snapshots"))
    assert evening["status"] == "SUCCEEDED", evening
    assert alb(moto) is None and record(moto, infra["zone"]) is None
    snapshot = json.loads(moto.client("s3").get_object(Bucket="alb-snapshots", Key=evening["output"]["snapshotKey"])["Body"].read())
    assert [l["port"] for l in snapshot["listeners"]] == [80, 443]
    assert sum(proxy.injected.values()) >= 5, dict(proxy.injected)


def test_workflow_fails_with_the_error_type_and_leaves_no_half_made_alb(workflow, proxy, moto, infra):
    proxy.add("CreateListener", "500", skip=1)
    result = workflow.run(legacy_input(infra, now=MORNING))
    assert result["status"] == "FAILED" and result["error"] == "AwsTransient"
    assert "CreateListener: InternalFailure" in result["cause"]
    assert workflow.router.invocations["create-alb"] == 4  # the first try and 3 Step Functions retries
    assert alb(moto) is None and record(moto, infra["zone"]) is None
    body = json.loads(moto.client("sqs").receive_message(QueueUrl=infra["queue"], WaitTimeSeconds=2)["Messages"][0]["Body"])
    assert "AwsTransient" in body["Message"]


def test_workflow_completes_an_alb_left_without_listeners(workflow, proxy, moto, infra):
    """ELB refuses every listener and also the rollback's delete: the ALB is left bare (nothing
    points at it). The next run must give it its listeners before any record points at it."""
    proxy.add("CreateListener", "503")
    proxy.add("DeleteLoadBalancer", "503")
    result = workflow.run(legacy_input(infra, now=MORNING))
    assert result["status"] == "FAILED" and result["error"] == "AwsTransient"
    bare = alb(moto)
    assert bare is not None and listeners(moto, bare["LoadBalancerArn"]) == {}
    assert record(moto, infra["zone"]) is None
    proxy.clear()
    again = workflow.run(legacy_input(infra, now="2026-11-25T11:00:00+09:00"))
    assert again["status"] == "SUCCEEDED", again
    assert again["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "Create ALB", "Create Route 53 Record"]
    lb = alb(moto)
    assert lb["LoadBalancerArn"] == bare["LoadBalancerArn"]
    assert sorted(listeners(moto, lb["LoadBalancerArn"])) == [80, 443]
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]


def test_workflow_never_leaves_a_record_naming_a_deleted_alb(workflow, proxy, moto, infra):
    assert workflow.run(legacy_input(infra, now=MORNING))["status"] == "SUCCEEDED"
    proxy.add("ChangeResourceRecordSets", "throttle")
    result = workflow.run(legacy_input(infra, now=EVENING))
    assert result["status"] == "FAILED" and result["error"] == "AwsTransient"
    assert "Delete ALB" not in result["states"]
    lb = alb(moto)
    assert lb is not None and sorted(listeners(moto, lb["LoadBalancerArn"])) == [80, 443]
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]
