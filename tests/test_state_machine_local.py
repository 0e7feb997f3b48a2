"""The ALB working-hours workflow in a SECOND, independent ASL interpreter: the npm package
aws-local-stepfunctions (3.0.0, JSONPath), driven by tests/asl/run.mjs. test_alb_workflow.py runs
the same paths in moto's engine; two interpreters that agree are better evidence about the
definition than one.

What runs: statemachine/alb-scheduler.asl.json as it is in the repo, with only its `${...}`
DefinitionSubstitutions replaced by test ARNs. The only other change is made by the two timeout
tests, and only there: they lower one Task's TimeoutSeconds ("Check Existing ALB", 40 s → 1 s) in
the loaded copy, so that a hung invocation times out in a second.

What serves the Tasks: every Lambda Task POSTs its input to `cargo lambda watch`, i.e. the REAL
function binaries, which act on moto; the `arn:aws:states:::sns:publish` Tasks publish to moto's
SNS, and a queue subscribed to the failure topic (test_alb_workflow's `infra`) receives what they
sent. Faults are injected by run.mjs per test (`faults=`): an error type fails the next invocation
of a function before it reaches it; `HANG` makes it never answer. Retry pauses are overridden to
0 ms (the package's retryIntervalOverrides); the number of attempts is the definition's.

Where this interpreter and moto's differ on this definition (tests/asl/NOTES.md has the details
and what AWS does):
- Check Input on an input with no albName (a string, an array, a number, an object without it):
  a lone `{"Variable": "$.albName", "IsString": true}` raises States.Runtime here (the path matches
  nothing; the States Language spec exempts only IsPresent from that error, and AWS fails such a
  Choice too), while moto evaluates it to false and takes the Default. The definition therefore
  tests IsPresent first (`And` stops at the first false), and both engines then send every such
  input to Notify Invalid Input; the parametrized test below covers each kind of input.
- States.JsonToString (and every intrinsic function) in aws-local-stepfunctions 3.0.0 strips
  every backslash from its result, so the Notify Failure message is not valid JSON once the state
  holds a string with a quote in it, as the Cause of a Lambda error always does (a JSON string).
  These tests read that message as text. moto's message is valid JSON, as AWS's is.
- A caught States.Timeout: Cause "States.Timeout" here, "" in AWS.
- A Task without TimeoutSeconds: 60 s here (the spec's default); none in AWS (99999999 s in
  moto). Every Task of the definition has its own, so none of them depends on that.
- A Lambda error's Cause is the error payload as a JSON string in all three, because run.mjs makes
  it so; the package's own Lambda client would give "<type>: <message>".
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

import calls
from harness import ROOT, FunctionError
from test_alb_workflow import (  # noqa: F401 - infra is a fixture
    ACCOUNT,
    EVENING,
    FUNCTIONS,
    MORNING,
    NEXT_MORNING,
    REGION,
    add_ws_rule,
    alb,
    infra,
    legacy_input,
    listeners,
    record,
)

RUNNER = ROOT / "tests" / "asl" / "run.mjs"
PACKAGE = ROOT / "node_modules" / "aws-local-stepfunctions" / "package.json"
ASL = ROOT / "statemachine" / "alb-scheduler.asl.json"
FLEET = ROOT / "statemachine" / "alb-fleet.asl.json"
IN_HOURS = "2026-11-25T11:00:00+09:00"
HANG = {"hang": True}
FAILED_SUBJECT = "lightsout: ALB working-hours run failed"
REFUSED_SUBJECT = "lightsout: ALB working-hours run refused its input"
INVALID_CAUSE = "The execution input must be a JSON object with albName, the per-ALB event of events/alb-input.json."
REFUSED_PREFIX = "The execution input must be a JSON object with albName as in events/alb-input.json; it was: "


def definition(topic: str, timeouts: dict[str, int] | None = None) -> dict:
    """The repo's definition with its substitutions replaced; `timeouts` lowers a Task's
    TimeoutSeconds (state name → seconds), for the timeout tests only."""
    text = ASL.read_text()
    for key, name in FUNCTIONS.items():
        text = text.replace("${%sFunctionArn}" % key, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
    text = text.replace("${FailureTopicArn}", topic)
    assert "${" not in text
    doc = json.loads(text)
    for state, seconds in (timeouts or {}).items():
        assert "TimeoutSeconds" in doc["States"][state], state
        doc["States"][state]["TimeoutSeconds"] = seconds
    return doc


class LocalMachine:
    def __init__(self, node: str, moto, watch, infra):
        self.node, self.moto, self.watch, self.infra = node, moto, watch, infra

    def run_fleet(self, doc, faults: dict[str, list] | None = None, deadline: float = 300,
                  crash: bool = False) -> dict:
        """One execution of statemachine/alb-fleet.asl.json, its child executions of the per-ALB
        definition run by run.mjs in this interpreter too; returns run.mjs's result. The calls
        the fleet's role made are recorded for the permission test (calls.record_fleet).
        `crash`: the execution is expected to be cut off at `deadline` (ABORTED), the process
        ending with whatever its children were doing unfinished, as a crash would leave them."""
        child = calls.CHILD_MACHINE
        text = FLEET.read_text()
        text = text.replace("${DiscoverALBsFunctionArn}", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:discover-albs")
        text = text.replace("${AlbWorkflowArn}", child).replace("${FailureTopicArn}", self.infra["topic"])
        assert "${" not in text
        result = self._run({
            "definition": json.loads(text), "children": {child: definition(self.infra["topic"])}, "input": doc,
            "faults": faults or {},
        }, deadline, aborted=crash)
        calls.record_fleet(result, "discover-albs", REGION)
        return result

    def run(self, doc, faults: dict[str, list] | None = None, timeouts: dict[str, int] | None = None,
            deadline: float = 300) -> dict:
        """One execution; returns run.mjs's result: status, output or error + cause, states
        (entered, in order), events, invocations (per function) and published (SNS)."""
        return self._run({"definition": definition(self.infra["topic"], timeouts), "input": doc, "faults": faults or {}}, deadline)

    def _run(self, request: dict, deadline: float, aborted: bool = False) -> dict:
        request = {
            **request,
            "lambdaEndpoint": self.watch.url,
            "snsEndpoint": self.moto.url,
            "region": REGION,
            "retryIntervalMs": 0,
            "httpTimeoutMs": int(deadline * 1000),
            "deadlineMs": int(deadline * 1000),
        }
        proc = subprocess.run(
            [self.node, str(RUNNER)], input=json.dumps(request), capture_output=True, text=True,
            cwd=ROOT, timeout=deadline + 60,
        )
        assert proc.returncode == 0, f"run.mjs exited with {proc.returncode}: {proc.stderr[-3000:]}"
        result = json.loads(proc.stdout)
        assert (result["status"] == "ABORTED") is aborted, result
        return result


def warm_up(watch) -> None:
    """Each function invoked once, directly, the first time a `watch` is used here: `cargo lambda
    watch` compiles a function on its first invocation, which can take longer than the Task's
    TimeoutSeconds (40 s) that this interpreter enforces. An empty event is refused by every
    function, after it has started."""
    if getattr(watch, "warmed_up", False):
        return
    for name in FUNCTIONS.values():
        try:
            watch.invoke(name, {}, timeout=900)
        except FunctionError:
            pass
    watch.warmed_up = True


def local_machine(standin, watch, infra) -> LocalMachine:
    """The interpreter with its Tasks on `watch` (the binaries) and `standin` (SNS); each function
    invoked once first (see `warm_up`)."""
    node = shutil.which("node")
    assert node, "node is not on PATH (tests/asl/run.mjs needs Node 20 or later)"
    assert PACKAGE.exists(), "node_modules/aws-local-stepfunctions is missing: run `npm ci`"
    warm_up(watch)
    return LocalMachine(node, standin, watch, infra)


@pytest.fixture
def local(moto, watch, infra):
    return local_machine(moto, watch, infra)


def succeeded(result) -> dict:
    assert result["status"] == "SUCCEEDED", result
    return result["output"]


def messages(moto, infra, wait: int = 2) -> list[dict]:
    """What the failure topic delivered to its queue (each an SNS envelope: Subject, Message)."""
    got = moto.client("sqs").receive_message(QueueUrl=infra["queue"], MaxNumberOfMessages=10, WaitTimeSeconds=wait)
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def events(result, kind: str, state: str | None = None) -> list[dict]:
    return [e for e in result["events"] if e["type"] == kind and (state is None or e.get("state") == state)]


# --- the working paths ---------------------------------------------------------------------------

def test_first_run_builds_from_target_groups(local, moto, infra):
    result = local.run(legacy_input(infra, now=MORNING, custom={"keep": "me"}))
    out = succeeded(result)
    assert result["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "Create ALB", "Create Route 53 Record"]
    lb = alb(moto)
    assert lb and lb["Scheme"] == "internet-facing"
    by_port = listeners(moto, lb["LoadBalancerArn"])
    assert sorted(by_port) == [80, 443]
    assert by_port[80]["Protocol"] == "HTTP"
    assert by_port[80]["DefaultActions"][0]["TargetGroupArn"] == infra["web"]
    assert by_port[443]["Protocol"] == "HTTPS"
    assert by_port[443]["Certificates"][0]["CertificateArn"] == infra["cert"]
    a = record(moto, infra["zone"])
    assert a["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]
    # Every state returned the whole event: input fields, unknown fields, and what was added.
    assert out["custom"] == {"keep": "me"} and out["targetGroups"][0]["listenerPort"] == 80
    assert out["albArn"] == lb["LoadBalancerArn"] and out["recordExists"] is True
    assert out["restoredFromSnapshot"] is False
    assert result["invocations"] == {"check-existing-alb": 1, "create-alb": 1, "create-route53-record": 1}
    assert result["published"] == [] and messages(moto, infra, wait=0) == []


def test_night_deletes_record_then_alb_with_a_snapshot_and_morning_restores(local, moto, infra):
    elb, s3 = moto.client("elbv2"), moto.client("s3")
    succeeded(local.run(legacy_input(infra, now=MORNING, snapshotBucket="alb-snapshots")))
    first = alb(moto)
    https = listeners(moto, first["LoadBalancerArn"])[443]
    # Configured by hand after the ALB was first made: a rule, which only the snapshot can restore.
    add_ws_rule(moto, infra, https["ListenerArn"])

    night = local.run(legacy_input(infra, now=EVENING, snapshotBucket="alb-snapshots"))
    out = succeeded(night)
    assert night["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "Delete Route 53 Record", "Delete ALB"]
    assert alb(moto) is None and record(moto, infra["zone"]) is None
    assert out["recordStatus"] == "deleted" and out["albDeleted"] is True
    snapshot = json.loads(s3.get_object(Bucket="alb-snapshots", Key=out["snapshotKey"])["Body"].read())
    assert [l["port"] for l in snapshot["listeners"]] == [80, 443]
    assert snapshot["listeners"][1]["rules"][0]["conditions"][0]["values"] == ["/ws*"]

    result = local.run(legacy_input(infra, now=NEXT_MORNING, snapshotBucket="alb-snapshots"))
    morning = succeeded(result)
    assert result["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "Create ALB", "Create Route 53 Record"]
    again = alb(moto)
    assert again and morning["restoredFromSnapshot"] is True
    by_port = listeners(moto, again["LoadBalancerArn"])
    assert sorted(by_port) == [80, 443]
    assert by_port[443]["Certificates"][0]["CertificateArn"] == infra["cert"]
    rules = [r for r in elb.describe_rules(ListenerArn=by_port[443]["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert len(rules) == 1 and rules[0]["Priority"] == "10"
    assert rules[0]["Actions"][0]["TargetGroupArn"] == infra["ws"]
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == again["DNSName"]
    assert morning["albDNSName"] == again["DNSName"]


def test_working_hours_with_everything_in_place_does_nothing(local, moto, infra):
    succeeded(local.run(legacy_input(infra, now=MORNING)))
    before = (alb(moto)["LoadBalancerArn"], record(moto, infra["zone"]))
    result = local.run(legacy_input(infra, now=IN_HOURS))
    out = succeeded(result)
    assert result["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "No Action Required"]
    assert out["nextStep"] == "Nothing"
    assert (alb(moto)["LoadBalancerArn"], record(moto, infra["zone"])) == before
    assert result["invocations"] == {"check-existing-alb": 1}  # only the check ran


def test_missing_record_is_repaired(local, moto, infra):
    succeeded(local.run(legacy_input(infra, now=MORNING)))
    lb_arn = alb(moto)["LoadBalancerArn"]
    a = record(moto, infra["zone"])
    moto.client("route53").change_resource_record_sets(
        HostedZoneId=infra["zone"], ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": a}]}
    )
    assert record(moto, infra["zone"]) is None
    result = local.run(legacy_input(infra, now=IN_HOURS))
    out = succeeded(result)
    # The repair path completes the ALB first (idempotent: nothing to add here), then the record.
    assert result["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "Create ALB", "Create Route 53 Record"]
    assert alb(moto)["LoadBalancerArn"] == lb_arn and out["albCreated"] is False
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == alb(moto)["DNSName"]


# --- retries and failures --------------------------------------------------------------------------

def test_transient_failure_is_retried(local, moto, infra):
    result = local.run(legacy_input(infra, now=MORNING), faults={"create-alb": ["AwsTransient"]})
    out = succeeded(result)
    assert result["invocations"]["create-alb"] == 2
    assert [e["error"] for e in events(result, "StateFailed", "Create ALB")] == ["AwsTransient"]
    assert len(events(result, "StateRetried", "Create ALB")) == 1
    assert out["albCreated"] is True and alb(moto) is not None
    assert record(moto, infra["zone"]) is not None
    assert result["published"] == []


def test_transient_failure_past_max_attempts_notifies_and_fails(local, moto, infra):
    """MaxAttempts 3 for AwsTransient: four failures in a row are one attempt and three retries,
    then the Catch."""
    result = local.run(legacy_input(infra, now=MORNING), faults={"create-alb": ["AwsTransient"] * 4})
    assert result["status"] == "FAILED", result
    assert result["error"] == "AwsTransient"
    assert json.loads(result["cause"]) == {"errorType": "AwsTransient", "errorMessage": "injected AwsTransient"}
    assert result["invocations"]["create-alb"] == 4
    assert result["states"][-3:] == ["Create ALB", "Notify Failure", "Failed"]
    assert alb(moto) is None
    [body] = messages(moto, infra)
    assert body["Subject"] == FAILED_SUBJECT
    assert '"error":{"Error":"AwsTransient"' in body["Message"]  # text: see the permanent failure test


def test_permanent_failure_notifies_and_fails_with_its_type(local, moto, infra):
    """An HTTPS listener without a certificate: the first function refuses the event (every function
    validates all of it), InvalidInput is not retried, Notify Failure sends the whole state."""
    doc = legacy_input(infra, now=MORNING, certificateArn="")
    result = local.run(doc)
    assert result["status"] == "FAILED", result
    assert result["error"] == "InvalidInput"
    assert "targetGroups[1].certificateArn" in result["cause"]
    assert json.loads(result["cause"])["errorType"] == "InvalidInput"  # the payload, as AWS gives it
    assert result["states"] == ["Check Input", "Check Existing ALB", "Notify Failure", "Failed"]
    assert result["invocations"] == {"check-existing-alb": 1}
    assert alb(moto) is None
    [body] = messages(moto, infra)
    assert body["Subject"] == FAILED_SUBJECT
    assert [p["messageId"] for p in result["published"]] == [body["MessageId"]]
    # The whole state, as States.JsonToString($) made it: the input and the error the Catch added.
    # Read as text: this interpreter strips every backslash from an intrinsic function's result
    # (tests/asl/NOTES.md), so the Cause nested in it (a JSON string) leaves it invalid JSON.
    message = body["Message"]
    assert message.startswith('{"albName":"dev-alb"')
    assert '"certificateArn":""' in message
    assert '"error":{"Error":"InvalidInput","Cause":"{"errorType":"InvalidInput"' in message


def test_failure_notification_that_cannot_be_sent_still_fails_with_the_functions_error(local, moto, infra):
    """Notify Failure retries twice, then its Catch (ResultPath null) goes to Failed with the state
    it was given, so the execution still fails with the function's error."""
    moto.client("sns").delete_topic(TopicArn=infra["topic"])
    result = local.run(legacy_input(infra, now=MORNING, certificateArn=""))
    assert result["status"] == "FAILED", result
    assert result["error"] == "InvalidInput"
    assert result["states"][-2:] == ["Notify Failure", "Failed"]
    failures = events(result, "StateFailed", "Notify Failure")
    assert [e["error"] for e in failures] == ["SNS.NotFoundException"] * 3, failures
    assert len(events(result, "StateCaught", "Notify Failure")) == 1
    assert result["published"] == []


# --- timeouts (TimeoutSeconds lowered to 1 s in the loaded definition, see the module docstring) ---

def test_task_timeout_is_retried(local, moto, infra):
    result = local.run(
        legacy_input(infra, now=MORNING), faults={"check-existing-alb": [HANG]}, timeouts={"Check Existing ALB": 1},
    )
    succeeded(result)
    assert [e["error"] for e in events(result, "StateFailed", "Check Existing ALB")] == ["States.Timeout"]
    assert len(events(result, "StateRetried", "Check Existing ALB")) == 1
    assert result["invocations"]["check-existing-alb"] == 2
    assert alb(moto) is not None and record(moto, infra["zone"]) is not None


def test_task_that_keeps_timing_out_notifies_and_fails(local, moto, infra):
    """States.Timeout has MaxAttempts 2: three timeouts, then the Catch."""
    result = local.run(
        legacy_input(infra, now=MORNING), faults={"check-existing-alb": [HANG] * 3}, timeouts={"Check Existing ALB": 1},
    )
    assert result["status"] == "FAILED", result
    assert result["error"] == "States.Timeout"
    assert result["states"] == ["Check Input", "Check Existing ALB", "Notify Failure", "Failed"]
    assert result["invocations"] == {"check-existing-alb": 3}
    assert [e["error"] for e in events(result, "StateFailed", "Check Existing ALB")] == ["States.Timeout"] * 3
    assert alb(moto) is None
    [body] = messages(moto, infra)
    assert body["Subject"] == FAILED_SUBJECT
    assert json.loads(body["Message"])["error"]["Error"] == "States.Timeout"


# --- input that is not the per-ALB event -----------------------------------------------------------

@pytest.mark.parametrize(
    "doc",
    [
        pytest.param({"albName": 5}, id="albName-number"),
        pytest.param({"albName": None}, id="albName-null"),
        pytest.param({"albName": ["dev-alb"]}, id="albName-array"),
        pytest.param("hello", id="string"),
        pytest.param([], id="empty-array"),
        pytest.param(42, id="number"),
        pytest.param({}, id="empty-object"),
        pytest.param({"name": "dev-alb", "startTime": 9}, id="object-without-albName"),
    ],
)
def test_input_that_is_not_the_event_is_notified_and_fails_invalid_event(local, moto, infra, doc):
    result = local.run(doc)
    assert result["status"] == "FAILED", result
    assert (result["error"], result["cause"]) == ("InvalidEvent", INVALID_CAUSE), result
    assert result["states"] == ["Check Input", "Notify Invalid Input", "Invalid Input"]
    assert result["invocations"] == {}  # no function ran
    [body] = messages(moto, infra)
    assert body["Subject"] == REFUSED_SUBJECT
    assert body["Message"].startswith(REFUSED_PREFIX)
    assert json.loads(body["Message"][len(REFUSED_PREFIX):]) == doc
    assert alb(moto) is None


def test_string_albName_with_anything_else_wrong_goes_to_the_functions_not_to_the_check(local, moto, infra):
    """Check Input only tells the event from anything else; the function validates the rest, and
    its InvalidInput goes through Notify Failure, with the input in the message."""
    doc = {"albName": "dev-alb", "marker": str(uuid.uuid4())}
    result = local.run(doc)
    assert result["status"] == "FAILED", result
    assert result["states"] == ["Check Input", "Check Existing ALB", "Notify Failure", "Failed"]
    assert result["error"] == "InvalidInput", result
    assert "startTime" in result["cause"] and "targetGroups" in result["cause"]
    assert result["invocations"] == {"check-existing-alb": 1}
    [body] = messages(moto, infra)
    assert body["Subject"] == FAILED_SUBJECT
    assert body["Message"].startswith('{"albName":"dev-alb","marker":"%s",' % doc["marker"])


# --- the fleet: statemachine/alb-fleet.asl.json ---------------------------------------------------
# The seed's single-ALB input through the fleet (`discover: false`); ALBs found by their tags are in
# tests/test_alb_fleet.py. moto's engine cannot run this definition at all: its
# `states:startExecution.sync:2` fails every nested execution with States.Runtime
# "'StateMachineArn'" (moto 5.2.5; tests/asl/NOTES.md).

def test_fleet_runs_the_single_input_as_a_child_with_the_per_alb_states(local, moto, infra, watch):
    try:
        watch.invoke("discover-albs", {"discover": False}, timeout=900)  # built on first use
    except FunctionError:
        pass
    result = local.run_fleet({"discover": False, "single": legacy_input(infra, now=MORNING)})
    out = succeeded(result)
    assert result["states"] == ["Discover ALBs", "Each ALB", "Run ALB Workflow", "Summary"], result["states"]
    [child] = result["children"]
    assert child["status"] == "SUCCEEDED"
    assert child["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "Create ALB", "Create Route 53 Record"]
    [one] = out["results"]
    assert (one["albName"], one["status"], one["execution"]) == ("dev-alb", "SUCCEEDED", child["executionArn"])
    assert one["result"]["nextStep"] == "Create" and one["result"]["albCreated"] is True
    lb = alb(moto)
    assert lb and sorted(listeners(moto, lb["LoadBalancerArn"])) == [80, 443]
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]
    assert result["invocations"] == {"discover-albs": 1, "check-existing-alb": 1, "create-alb": 1, "create-route53-record": 1}
    # The same run again changes nothing.
    again = succeeded(local.run_fleet({"discover": False, "single": legacy_input(infra, now=MORNING)}))
    assert again["results"][0]["result"]["nextStep"] == "Nothing"
    assert [lb["LoadBalancerName"] for lb in moto.client("elbv2").describe_load_balancers()["LoadBalancers"]].count("dev-alb") == 1


def test_fleet_lists_a_failing_child_which_notified_it_and_goes_on(local, moto, infra):
    messages(moto, infra, wait=0)  # what earlier tests left
    result = local.run_fleet({"discover": False, "single": legacy_input(infra, now=MORNING, subnets=["subnet-1"])})
    out = succeeded(result)
    [child] = result["children"]
    assert child["status"] == "FAILED" and child["states"][-2:] == ["Notify Failure", "Failed"], child
    [one] = out["results"]
    assert (one["albName"], one["status"], one["error"]) == ("dev-alb", "FAILED", "States.TaskFailed"), one
    assert json.loads(one["cause"])["Error"] == "InvalidInput", one["cause"]
    assert [m["Subject"] for m in messages(moto, infra)] == [FAILED_SUBJECT]
    assert alb(moto) is None
