"""Metrics, end to end: every function writes one CloudWatch Embedded Metric Format (EMF) line per
invocation to stdout, which `cargo lambda watch` copies into its log (`Watch.log_path`), as Lambda
copies it into CloudWatch Logs. The tests run the real binaries against moto, read the EMF lines
an action wrote, check them against the EMF specification, and assert that the counts match what
moto shows was done. (Asserting on log lines is right here: the metrics are log lines.)

METRICS below is the contract: the names each function emits (docs/metrics.md), which the
template's alarms and dashboard may use and nothing else.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from conftest import ACCOUNT, LOG_DIR, OUTCOMES_BUCKET, QUEUE
from harness import FunctionError, Watch, auto_scaling_group, launch, states
from test_alb_workflow import EVENING, MORNING, NEXT_MORNING, alb, infra, legacy_input, machine, record  # noqa: F401
from test_requests import deliver, managed, outcome, post, queues  # noqa: F401 - fixtures

NAMESPACE = "lightsout"  # the default; the template sets METRICS_NAMESPACE per stack
METRICS = {
    "ec2-autostop": {
        "InstancesStarted", "InstancesStopped", "InstancesSkipped", "InstancesFailed", "RegionsFailed",
        "StartsNotHeld", "TagsFailed", "Failures",
    },
    "discover-albs": {"AlbsFound", "AlbsSkipped", "Failures"},
    "check-existing-alb": {"Failures"},
    "create-alb": {"AlbCreated", "AlbRestored", "Failures"},
    "delete-alb": {"AlbDeleted", "SnapshotsSaved", "Failures"},
    "create-route53-record": {"RecordCreated", "Failures"},
    "delete-route53-record": {"RecordDeleted", "RecordLeftAlone", "Failures"},
    "sqs-producer": {"RequestsAccepted", "RequestsRefused", "RequestsFailed"},
    "sqs-consumer": {
        "RequestsDone", "RequestsPartial", "RequestsRefused", "RequestsRepeated", "RequestsFailed",
        "FinalAttemptsFailed", "Failures",
    },
}
SEOUL_MORNING = "2026-11-25T10:00:00+09:00"  # a Wednesday
SEOUL_EVENING = "2026-11-25T20:00:00+09:00"


# --- reading EMF lines ---------------------------------------------------------------------------


def extract(doc: dict) -> dict[tuple[tuple[tuple[str, str], ...], str], int]:
    """What CloudWatch extracts from an EMF document, keyed by (dimensions, metric name); fails the
    test where the document breaks the specification (the parts these documents use)."""
    aws = doc["_aws"]
    assert isinstance(aws["Timestamp"], int) and abs(aws["Timestamp"] / 1000 - time.time()) < 600, aws["Timestamp"]
    out = {}
    for directive in aws["CloudWatchMetrics"]:
        assert sorted(directive) == ["Dimensions", "Metrics", "Namespace"], directive
        assert 1 <= len(directive["Metrics"]) <= 100
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            dims = tuple((k, doc[k]) for k in dimension_set)
            assert all(isinstance(v, str) and v for _, v in dims), dims
            for metric in directive["Metrics"]:
                assert metric["Unit"] == "Count"
                value = doc[metric["Name"]]
                assert isinstance(value, int) and value >= 0, (metric, value)
                out[(dims, metric["Name"])] = value
    return out


def counts(doc: dict, namespace: str = NAMESPACE) -> dict[str, int]:
    """The counts per function (dimension `Function`), after checking the document's shape: the
    namespace, exactly the function's declared metrics, Failures per ErrorType when it failed."""
    function = doc["Function"]
    extracted = extract(doc)
    assert {d["Namespace"] for d in doc["_aws"]["CloudWatchMetrics"]} == {namespace}
    by_function = {name: v for (dims, name), v in extracted.items() if dims == (("Function", function),)}
    assert set(by_function) == METRICS[function], function
    per_type = {dims: v for (dims, name), v in extracted.items() if len(dims) > 1}
    if by_function.get("Failures"):
        assert per_type == {(("Function", function), ("ErrorType", doc["ErrorType"])): 1}
    else:
        assert per_type == {} and "ErrorType" not in doc
    return by_function


class EmfLog:
    """The EMF lines a watch's functions write from `mark()` on."""

    def __init__(self, watch: Watch):
        self.path = Path(watch.log_path)
        self.mark()

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def _docs(self) -> list[dict]:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        docs = []
        for line in data.split(b"\n")[:-1]:  # complete lines only
            if line.startswith(b"{") and b'"_aws"' in line:
                docs.append(json.loads(line))
        return docs

    def wait(self, expected: dict[str, int], timeout: float = 15.0) -> dict[str, list[dict]]:
        """Waits for `expected` lines per function (none from any other) and returns them, in order.
        The function writes its line before it answers; watch copies it to the log a moment later."""
        deadline = time.monotonic() + timeout
        while True:
            docs = self._docs()
            got = {f: [d for d in docs if d.get("Function") == f] for f in {d.get("Function") for d in docs} | set(expected)}
            if all(len(got[f]) >= n for f, n in expected.items()) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        time.sleep(0.3)  # anything more would be a second line for one invocation
        docs = self._docs()
        got = {f: [d for d in docs if d.get("Function") == f] for f in {d.get("Function") for d in docs} | set(expected)}
        assert {f: len(v) for f, v in got.items() if v} == {f: n for f, n in expected.items() if n}, got
        self.mark()
        return got


@pytest.fixture
def emf(watch):
    return EmfLog(watch)


# --- ec2-autostop ----------------------------------------------------------------------------------


def test_ec2_autostop_counts_what_it_did(watch, moto, ec2, emf):
    to_stop = launch(ec2, managed(TIME="9~18"), count=3)
    to_start = launch(ec2, managed(TIME="19~23"), count=2, state="stopped")
    unchanged = launch(ec2, managed(TIME="19~23"))
    bad = launch(ec2, managed(TIME="25~26"))
    members = auto_scaling_group(moto, ec2, "web", managed(TIME="9~18"))
    emf.mark()
    report = watch.invoke("ec2-autostop", {"now": SEOUL_EVENING})
    [doc] = emf.wait({"ec2-autostop": 1})["ec2-autostop"]

    now = states(ec2)
    assert all(now[i] == "stopped" for i in to_stop) and all(now[i] == "running" for i in to_start)
    assert now[unchanged[0]] == now[bad[0]] == now[members[0]] == "running"
    assert counts(doc) == {
        "InstancesStarted": 2, "InstancesStopped": 3, "InstancesSkipped": 2, "InstancesFailed": 0,
        "RegionsFailed": 0, "StartsNotHeld": 0, "TagsFailed": 0, "Failures": 0,
    }
    assert {s["instanceId"] for s in report["skipped"]} == {bad[0], members[0]}
    assert doc["dryRun"] is False and re.fullmatch(r"[0-9a-f-]{36}", doc["requestId"])


def test_a_start_that_did_not_hold_is_counted(watch, ec2, emf):
    box = launch(ec2, managed(TIME="9~18"), state="stopped")[0]
    watch.invoke("ec2-autostop", {"now": SEOUL_MORNING})
    assert states(ec2)[box] == "running"
    ec2.stop_instances(InstanceIds=[box])  # stopped behind lightsout's back within the window
    emf.mark()
    report = watch.invoke("ec2-autostop", {"now": "2026-11-25T11:00:00+09:00"})
    [doc] = emf.wait({"ec2-autostop": 1})["ec2-autostop"]
    assert states(ec2)[box] == "stopped"  # not started again while it stays due
    assert [n["instanceId"] for n in report["startDidNotHold"]] == [box]
    assert counts(doc)["StartsNotHeld"] == 1 and counts(doc)["InstancesStarted"] == 0


def test_a_dry_run_counts_no_starts_or_stops(watch, ec2, emf):
    box = launch(ec2, managed(TIME="9~18"))[0]
    emf.mark()
    report = watch.invoke("ec2-autostop", {"now": SEOUL_EVENING, "dryRun": True})
    [doc] = emf.wait({"ec2-autostop": 1})["ec2-autostop"]
    assert states(ec2)[box] == "running" and [s["instanceId"] for s in report["stopped"]] == [box]
    assert counts(doc)["InstancesStopped"] == 0 and doc["dryRun"] is True


def test_a_bad_event_flushes_its_failure(watch, ec2, emf):
    box = launch(ec2, managed(TIME="9~18"))[0]
    emf.mark()
    with pytest.raises(FunctionError) as failed:
        watch.invoke("ec2-autostop", {"now": "yesterday"})
    assert failed.value.error_type == "InvalidEvent"
    [doc] = emf.wait({"ec2-autostop": 1})["ec2-autostop"]
    assert states(ec2)[box] == "running"
    assert counts(doc) == {name: 0 for name in METRICS["ec2-autostop"]} | {"Failures": 1}
    assert doc["ErrorType"] == "InvalidEvent"


@pytest.fixture(scope="module")
def faulty(moto, proxy):
    """The functions with every AWS call through the fault proxy, in a namespace of their own."""
    w = Watch(moto, LOG_DIR, env={
        "AWS_ENDPOINT_URL": proxy.url, "METRICS_NAMESPACE": "lightsout/metrics-test",
        "QUEUE_URL": f"{moto.url}/{ACCOUNT}/{QUEUE}", "OUTCOMES_BUCKET": OUTCOMES_BUCKET,
    })
    yield w
    w.stop()


def test_failed_instances_are_counted_and_the_failure_typed(faulty, proxy, ec2):
    to_stop = launch(ec2, managed(TIME="9~18"), count=2)
    to_start = launch(ec2, managed(TIME="19~23"), state="stopped")
    proxy.clear()
    proxy.add("StopInstances", "500")  # every attempt of every call: beyond the SDK's retries
    log = EmfLog(faulty)
    try:
        with pytest.raises(FunctionError) as failed:
            faulty.invoke("ec2-autostop", {"now": SEOUL_EVENING})
    finally:
        proxy.clear()
    assert failed.value.error_type == "InstanceActionFailed"
    assert proxy.injected["StopInstances:500"] >= 1
    [doc] = log.wait({"ec2-autostop": 1})["ec2-autostop"]
    now = states(ec2)
    assert all(now[i] == "running" for i in to_stop) and now[to_start[0]] == "running"
    assert counts(doc, namespace="lightsout/metrics-test") == {
        "InstancesStarted": 1, "InstancesStopped": 0, "InstancesSkipped": 0, "InstancesFailed": 2,
        "RegionsFailed": 0, "StartsNotHeld": 0, "TagsFailed": 0, "Failures": 1,
    }
    assert doc["ErrorType"] == "InstanceActionFailed"


# --- the ALB workflow ----------------------------------------------------------------------------


def test_alb_functions_count_a_day_night_and_morning(machine, moto, infra, emf):  # noqa: F811
    def run(now: str, expected: dict[str, int]) -> dict[str, dict]:
        emf.mark()
        result = machine.run(legacy_input(infra, now=now, snapshotBucket="alb-snapshots"))
        assert result["status"] == "SUCCEEDED", result
        got = emf.wait(expected)
        return {f: counts(docs[0]) for f, docs in got.items() if docs}

    day = run(MORNING, {"check-existing-alb": 1, "create-alb": 1, "create-route53-record": 1})
    assert alb(moto) is not None and record(moto, infra["zone"]) is not None
    assert day == {
        "check-existing-alb": {"Failures": 0},
        "create-alb": {"AlbCreated": 1, "AlbRestored": 0, "Failures": 0},
        "create-route53-record": {"RecordCreated": 1, "Failures": 0},
    }

    night = run(EVENING, {"check-existing-alb": 1, "delete-route53-record": 1, "delete-alb": 1})
    assert alb(moto) is None and record(moto, infra["zone"]) is None
    assert len(moto.client("s3").list_objects_v2(Bucket="alb-snapshots")["Contents"]) == 1
    assert night["delete-route53-record"] == {"RecordDeleted": 1, "RecordLeftAlone": 0, "Failures": 0}
    assert night["delete-alb"] == {"AlbDeleted": 1, "SnapshotsSaved": 1, "Failures": 0}

    morning = run(NEXT_MORNING, {"check-existing-alb": 1, "create-alb": 1, "create-route53-record": 1})
    assert alb(moto) is not None
    assert morning["create-alb"] == {"AlbCreated": 0, "AlbRestored": 1, "Failures": 0}


def test_alb_record_left_alone_and_a_failed_run_are_counted(machine, moto, infra, emf):  # noqa: F811
    other = moto.client("elbv2").create_load_balancer(Name="team-b", Subnets=infra["subnets"])["LoadBalancers"][0]
    moto.client("route53").change_resource_record_sets(
        HostedZoneId=infra["zone"],
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "dev.example.com.", "Type": "A",
            "AliasTarget": {"HostedZoneId": other["CanonicalHostedZoneId"], "DNSName": other["DNSName"], "EvaluateTargetHealth": False},
        }}]},
    )
    # The evening run finds no ALB of its own: nothing to delete, the other team's record stays.
    emf.mark()
    machine.run(legacy_input(infra, now=EVENING))
    got = emf.wait({"check-existing-alb": 1})
    assert counts(got["check-existing-alb"][0]) == {"Failures": 0}

    # A morning run whose HTTPS listener has no certificate: the first state refuses the input.
    emf.mark()
    result = machine.run(legacy_input(infra, now=MORNING, certificateArn=""))
    assert result["status"] == "FAILED" and result["error"] == "InvalidInput"
    got = emf.wait({"check-existing-alb": 1})
    assert alb(moto) is None
    assert counts(got["check-existing-alb"][0]) == {"Failures": 1}
    assert got["check-existing-alb"][0]["ErrorType"] == "InvalidInput"

    # Made by hand now, pointed at by the other team's record: the night leaves the record.
    machine.run(legacy_input(infra, now=MORNING))
    moto.client("route53").change_resource_record_sets(
        HostedZoneId=infra["zone"],
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "dev.example.com.", "Type": "A",
            "AliasTarget": {"HostedZoneId": other["CanonicalHostedZoneId"], "DNSName": other["DNSName"], "EvaluateTargetHealth": False},
        }}]},
    )
    emf.mark()
    out = machine.run(legacy_input(infra, now=EVENING))
    assert out["status"] == "SUCCEEDED"
    got = emf.wait({"check-existing-alb": 1, "delete-route53-record": 1, "delete-alb": 1})
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == other["DNSName"]
    assert alb(moto) is None
    assert counts(got["delete-route53-record"][0]) == {"RecordDeleted": 0, "RecordLeftAlone": 1, "Failures": 0}
    assert counts(got["delete-alb"][0]) == {"AlbDeleted": 1, "SnapshotsSaved": 0, "Failures": 0}


# --- the request pipeline ------------------------------------------------------------------------


def queued(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_producer_counts_each_post_by_its_answer(watch, queues, emf):  # noqa: F811
    box = "i-0123456789abcdef0"
    answers = [
        post(watch, {"action": "wake", "instanceIds": [box]})[0],
        post(watch, {"action": "sleep", "instanceIds": [box]})[0],
        post(watch, {"action": "reboot", "instanceIds": [box]})[0],
        outcome(watch, "no-such-request")[0],
    ]
    assert answers == [200, 200, 400, 404]
    got = emf.wait({"sqs-producer": 4})["sqs-producer"]
    assert queued(queues["sqs"], queues["main"]) == 2
    assert [counts(d) for d in got] == [
        {"RequestsAccepted": 1, "RequestsRefused": 0, "RequestsFailed": 0},
        {"RequestsAccepted": 1, "RequestsRefused": 0, "RequestsFailed": 0},
        {"RequestsAccepted": 0, "RequestsRefused": 1, "RequestsFailed": 0},
        {"RequestsAccepted": 0, "RequestsRefused": 0, "RequestsFailed": 0},  # a GET counts nothing
    ]
    queues["sqs"].delete_queue(QueueUrl=queues["main"])  # SQS now refuses every send: 500
    assert post(watch, {"action": "wake", "instanceIds": [box]})[0] == 500
    [doc] = emf.wait({"sqs-producer": 1})["sqs-producer"]
    assert counts(doc) == {"RequestsAccepted": 0, "RequestsRefused": 0, "RequestsFailed": 1}


def test_consumer_counts_outcomes_failures_and_last_attempts(watch, moto, queues, ec2, emf):  # noqa: F811
    sqs = queues["sqs"]
    mine = launch(ec2, managed(), count=2, state="stopped")
    other = launch(ec2, {"Name": "someone-elses"}, state="stopped")[0]
    done = post(watch, {"action": "wake", "instanceIds": [mine[0]], "until": "2099-01-01T00:00:00Z"})[1]["requestId"]
    post(watch, {"action": "wake", "instanceIds": [other]})
    post(watch, {"action": "wake", "instanceIds": [mine[1], other], "until": "2099-01-01T00:00:00Z"})
    sqs.send_message(QueueUrl=queues["main"], MessageBody="this is not a request")
    emf.wait({"sqs-producer": 3})

    delivered, failed = deliver(watch, moto, queues["main"])
    [doc] = emf.wait({"sqs-consumer": 1})["sqs-consumer"]
    assert len(delivered) == 4 and len(failed) == 1
    [first] = [m["Body"] for m in delivered if m["Body"].startswith("{") and json.loads(m["Body"])["requestId"] == done]
    assert states(ec2) == {mine[0]: "running", mine[1]: "running", other: "stopped"}
    statuses = sorted(outcome(watch, json.loads(m["Body"])["requestId"])[1]["status"] for m in delivered if m["Body"].startswith("{"))
    assert statuses == ["done", "partial", "refused"]
    emf.wait({"sqs-producer": 3})  # those three GETs
    assert counts(doc) == {
        "RequestsDone": 1, "RequestsPartial": 1, "RequestsRefused": 1, "RequestsRepeated": 0,
        "RequestsFailed": 1, "FinalAttemptsFailed": 0, "Failures": 0,
    }

    # The malformed message fails on its second and third receive; the third is its last.
    for final in (0, 1):
        delivered, failed = deliver(watch, moto, queues["main"])
        assert len(delivered) == len(failed) == 1
        [doc] = emf.wait({"sqs-consumer": 1})["sqs-consumer"]
        assert counts(doc)["RequestsFailed"] == 1 and counts(doc)["FinalAttemptsFailed"] == final
    assert deliver(watch, moto, queues["main"]) == ([], [])  # moto moved it to the dead-letter queue
    assert queued(sqs, queues["dlq"]) == 1

    # The first request queued again (a producer retry): it has an outcome, so it is acknowledged.
    sqs.send_message(QueueUrl=queues["main"], MessageBody=first)
    ec2.stop_instances(InstanceIds=[mine[0]])
    delivered, failed = deliver(watch, moto, queues["main"])
    assert len(delivered) == 1 and failed == []
    [doc] = emf.wait({"sqs-consumer": 1})["sqs-consumer"]
    assert states(ec2)[mine[0]] == "stopped"  # not carried out again
    assert counts(doc) == {
        "RequestsDone": 0, "RequestsPartial": 0, "RequestsRefused": 0, "RequestsRepeated": 1,
        "RequestsFailed": 0, "FinalAttemptsFailed": 0, "Failures": 0,
    }


def test_consumer_counts_a_batch_that_is_not_one(watch, emf):
    emf.mark()
    with pytest.raises(FunctionError) as failed:
        watch.invoke("sqs-consumer", {"Records": 5})
    assert failed.value.error_type == "InvalidEvent"
    [doc] = emf.wait({"sqs-consumer": 1})["sqs-consumer"]
    assert counts(doc)["Failures"] == 1 and doc["ErrorType"] == "InvalidEvent"


# --- the template: alarms and dashboard use only what the functions emit --------------------------


def translate(parameters: dict[str, str]) -> dict:
    from test_template import translate as sam_translate

    return sam_translate(parameters)


ALB = {"AlbName": "dev-alb", "AlbHostedZoneId": "Z0123456789EXAMPLE", "AlbDomainName": "dev.example.com"}
STACK_NAMESPACE = {"Fn::Sub": "lightsout/${AWS::StackName}"}


def resolve(node, alb_enabled: bool):
    """A DashboardBody as CloudFormation would make it, for a stack named `stack`: Fn::Sub, Fn::If
    on AlbEnabled, and placeholders for the attributes of other resources (which must exist)."""
    if isinstance(node, str):
        return node
    if "Fn::If" in node:
        condition, yes, no = node["Fn::If"]
        assert condition == "AlbEnabled"
        return resolve(yes if alb_enabled else no, alb_enabled)
    if "Fn::Sub" in node:
        text, variables = node["Fn::Sub"] if isinstance(node["Fn::Sub"], list) else (node["Fn::Sub"], {})
        values = {k: resolve(v, alb_enabled) for k, v in variables.items()}

        def value(match: re.Match) -> str:
            name = match.group(1)
            if name in values:
                return values[name]
            if name.startswith("AWS::"):
                return {"AWS::StackName": "stack", "AWS::Region": "ap-northeast-2"}[name]
            resource, _, attribute = name.partition(".")
            REFERENCED.add(resource)
            return f"<{resource}{'.' + attribute if attribute else ''}>"

        return re.sub(r"\$\{([^}]+)\}", value, text)
    raise AssertionError(f"unexpected in a dashboard body: {node}")


REFERENCED: set[str] = set()


@pytest.mark.parametrize("parameters", [{"AlbFleet": "Disabled"}, {}, ALB], ids=["without ALB", "fleet", "with ALB"])
def test_alarms_and_dashboard_use_only_what_the_functions_emit(parameters):
    resources = translate(parameters)
    alb_enabled = parameters != {"AlbFleet": "Disabled"}
    present = {k for k, v in resources.items() if alb_enabled or v.get("Condition") != "AlbEnabled"}

    # Every function gets the stack's namespace, besides its own settings (SAM merges Globals).
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Function":
            variables = resource["Properties"]["Environment"]["Variables"]
            assert variables["METRICS_NAMESPACE"] == STACK_NAMESPACE, name
    assert "SCHEDULE_TIMEZONE" in resources["Ec2AutostopFunction"]["Properties"]["Environment"]["Variables"]

    alarms = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    ours = {k: a for k, a in alarms.items() if a["Namespace"] == STACK_NAMESPACE}
    assert {"Ec2AutostopFailuresAlarm", "StartsNotHeldAlarm", "RequestsFailingAlarm", "ApiFailingAlarm"} <= set(ours)
    for name, alarm in ours.items():
        [dimension] = alarm["Dimensions"]
        assert dimension["Name"] == "Function" and alarm["MetricName"] in METRICS[dimension["Value"]], name
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [{"Ref": "OperatorsTopic"}], name
        assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (0, "GreaterThanThreshold", "notBreaching")
    assert alarms["AlbWorkflowFailedAlarm"]["MetricName"] == "ExecutionsFailed"
    assert alarms["AlbDiscoveryFailedAlarm"]["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "AlbFleetStateMachine"}}]

    REFERENCED.clear()
    body = json.loads(resolve(resources["Dashboard"]["Properties"]["DashboardBody"], alb_enabled))
    assert REFERENCED <= present, REFERENCED - present
    namespace = "lightsout/stack"
    shown: set[tuple[str, str]] = set()
    for widget in body["widgets"]:
        if widget["type"] == "alarm":
            assert {a.strip("<>").removesuffix(".Arn") for a in widget["properties"]["alarms"]} == {
                k for k in alarms if k in present
            }
        if widget["type"] != "metric":
            continue
        for metric in widget["properties"]["metrics"]:
            if isinstance(metric[0], dict):
                assert f'{{"{namespace}",Function,ErrorType}} MetricName="Failures"' in metric[0]["expression"]
                continue
            fields = [m for m in metric if isinstance(m, str)]
            ns, name, dims = fields[0], fields[1], dict(zip(fields[2::2], fields[3::2]))
            if ns == namespace:
                assert list(dims) == ["Function"] and name in METRICS[dims["Function"]], metric
                shown.add((dims["Function"], name))
            else:
                assert (ns, name) in {
                    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
                    ("AWS/States", "ExecutionsSucceeded"), ("AWS/States", "ExecutionsFailed"),
                }, metric
    # Every count of every function deployed is on the dashboard.
    deployed = {f for f in METRICS if alb_enabled or "alb" not in f and "route53" not in f}
    assert "discover-albs" in deployed or not alb_enabled
    assert shown == {(f, m) for f in deployed for m in METRICS[f]}
