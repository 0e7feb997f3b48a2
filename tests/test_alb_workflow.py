"""The ALB working-hours workflow, end to end: the state machine is executed **from
statemachine/alb-scheduler.asl.json by moto's Step Functions interpreter**, whose Lambda Tasks reach
the real function binaries through `cargo lambda watch` (via harness.LambdaRouter). Outcomes are read
from moto with boto3.

Where moto differs from AWS: load balancers are active at once; an
ALB's canonical hosted zone id is a fixed fake; Route 53 DELETE is lax, so the functions look a
record up before deleting it and these tests assert on the records left, not on the error of a
wrong DELETE.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from harness import ROOT

ACCOUNT = "123456789012"
REGION = "ap-northeast-2"
FUNCTIONS = {
    "CheckExistingALB": "check-existing-alb",
    "CreateALB": "create-alb",
    "DeleteALB": "delete-alb",
    "CreateRoute53Record": "create-route53-record",
    "DeleteRoute53Record": "delete-route53-record",
}
MORNING = "2026-11-25T10:00:00+09:00"  # Wednesday
EVENING = "2026-11-25T20:00:00+09:00"
NEXT_MORNING = "2026-11-26T10:00:00+09:00"


@pytest.fixture
def infra(moto):
    """A VPC with two subnets, target groups, a certificate, a hosted zone, the snapshot bucket and
    the failure topic (with a queue subscribed, to read what it published)."""
    ec2, elb = moto.client("ec2"), moto.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "c"))
    ]
    sg = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    web = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    ws = elb.create_target_group(Name="ws", Protocol="HTTP", Port=8080, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    cert = moto.client("acm").request_certificate(DomainName="dev.example.com")["CertificateArn"]
    zone = moto.client("route53").create_hosted_zone(Name="example.com", CallerReference=str(uuid.uuid4()))
    moto.client("s3").create_bucket(Bucket="alb-snapshots", CreateBucketConfiguration={"LocationConstraint": REGION})
    topic = moto.client("sns").create_topic(Name="alb-failures")["TopicArn"]
    sqs = moto.client("sqs")
    queue = sqs.create_queue(QueueName="alb-failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    moto.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return {
        "vpc": vpc, "subnets": subnets, "sg": sg, "web": web, "ws": ws, "cert": cert,
        "zone": zone["HostedZone"]["Id"].split("/")[-1], "topic": topic, "queue": queue,
    }


def add_ws_rule(moto, infra, listener_arn: str) -> None:
    """A rule configured by hand after the ALB was made (/ws* → the ws target group): only the
    snapshot can bring it back."""
    moto.client("elbv2").create_rule(
        ListenerArn=listener_arn, Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/ws*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": infra["ws"]}],
    )


def legacy_input(infra, **extra) -> dict:
    """The input document exactly as existing users send it, plus `extra`."""
    doc = {
        "albName": "dev-alb",
        "startTime": 9,
        "endTime": 18,
        "subnets": infra["subnets"],
        "securityGroups": [infra["sg"]],
        "hostedZoneId": infra["zone"],
        "domainName": "dev.example.com",
        "targetGroups": [
            {"targetGroupArn": infra["web"], "listenerProtocol": "HTTP", "listenerPort": 80},
            {"targetGroupArn": infra["web"], "listenerProtocol": "HTTPS", "listenerPort": 443},
        ],
        "certificateArn": infra["cert"],
        "albArn": "",
        "albDNSName": "",
        "albHostedZoneId": "",
    }
    doc.update(extra)
    return doc


class Machine:
    def __init__(self, moto, router, arn):
        self.sfn, self.router, self.arn = moto.client("stepfunctions"), router, arn

    def run(self, doc: dict, timeout: float = 300) -> dict:
        """Executes the state machine; returns describe_execution plus `output` (parsed) and
        `states` (the names of the states entered, in order)."""
        execution = self.sfn.start_execution(stateMachineArn=self.arn, name=str(uuid.uuid4()), input=json.dumps(doc))
        deadline = time.monotonic() + timeout
        while True:
            result = self.sfn.describe_execution(executionArn=execution["executionArn"])
            if result["status"] != "RUNNING":
                break
            assert time.monotonic() < deadline, "execution did not finish"
            time.sleep(0.2)
        result["output"] = json.loads(result["output"]) if result.get("output") else None
        history = self.sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        result["states"] = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
        return result


@pytest.fixture
def machine(moto, router, infra):
    moto.execute_state_machines()
    router.faults.clear()
    router.invocations.clear()
    definition = (ROOT / "statemachine" / "alb-scheduler.asl.json").read_text()
    for key, name in FUNCTIONS.items():
        definition = definition.replace("${%sFunctionArn}" % key, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
    definition = definition.replace("${FailureTopicArn}", infra["topic"])
    assert "${" not in definition
    arn = moto.client("stepfunctions").create_state_machine(
        name=f"alb-{uuid.uuid4().hex[:8]}", definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn"
    )["stateMachineArn"]
    return Machine(moto, router, arn)


def alb(moto, name="dev-alb"):
    found = moto.client("elbv2").describe_load_balancers()["LoadBalancers"]
    return next((lb for lb in found if lb["LoadBalancerName"] == name), None)


def listeners(moto, arn) -> dict[int, dict]:
    return {l["Port"]: l for l in moto.client("elbv2").describe_listeners(LoadBalancerArn=arn)["Listeners"]}


def record(moto, zone, kind="A"):
    sets = moto.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return next((r for r in sets if r["Name"] == "dev.example.com." and r["Type"] == kind), None)


def succeeded(result) -> dict:
    assert result["status"] == "SUCCEEDED", result
    return result["output"]


def test_first_run_builds_from_target_groups(machine, moto, infra):
    out = succeeded(machine.run(legacy_input(infra, now=MORNING, custom={"keep": "me"})))
    lb = alb(moto)
    assert lb and lb["Scheme"] == "internet-facing"
    by_port = listeners(moto, lb["LoadBalancerArn"])
    assert sorted(by_port) == [80, 443]
    assert by_port[80]["Protocol"] == "HTTP"
    assert by_port[80]["DefaultActions"][0]["TargetGroupArn"] == infra["web"]
    assert by_port[443]["Protocol"] == "HTTPS"
    assert by_port[443]["Certificates"][0]["CertificateArn"] == infra["cert"]
    assert by_port[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    a = record(moto, infra["zone"])
    assert a["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]
    # Every state returned the whole event: input fields, unknown fields, and what was added.
    assert out["custom"] == {"keep": "me"} and out["targetGroups"][0]["listenerPort"] == 80
    assert out["albArn"] == lb["LoadBalancerArn"] and out["recordExists"] is True
    assert out["restoredFromSnapshot"] is False


def test_night_and_morning_restore_everything(machine, moto, infra):
    elb, s3 = moto.client("elbv2"), moto.client("s3")
    succeeded(machine.run(legacy_input(infra, now=MORNING, snapshotBucket="alb-snapshots")))
    first = alb(moto)
    https = listeners(moto, first["LoadBalancerArn"])[443]
    # Configured by hand after the ALB was first made: a websocket rule, idle timeout, tags.
    add_ws_rule(moto, infra, https["ListenerArn"])
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=first["LoadBalancerArn"], Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "300"}]
    )
    elb.add_tags(ResourceArns=[first["LoadBalancerArn"]], Tags=[{"Key": "team", "Value": "web"}])

    night = machine.run(legacy_input(infra, now=EVENING, snapshotBucket="alb-snapshots"))
    out = succeeded(night)
    assert night["states"][:5] == ["Check Input", "Check Existing ALB", "Determine Action", "Delete Route 53 Record", "Delete ALB"]
    assert alb(moto) is None and record(moto, infra["zone"]) is None
    assert out["recordStatus"] == "deleted" and out["albDeleted"] is True
    snapshot = json.loads(s3.get_object(Bucket="alb-snapshots", Key=out["snapshotKey"])["Body"].read())
    assert [l["port"] for l in snapshot["listeners"]] == [80, 443]
    assert snapshot["listeners"][1]["rules"][0]["conditions"][0]["values"] == ["/ws*"]

    morning = succeeded(machine.run(legacy_input(infra, now=NEXT_MORNING, snapshotBucket="alb-snapshots")))
    again = alb(moto)
    assert again and morning["restoredFromSnapshot"] is True
    by_port = listeners(moto, again["LoadBalancerArn"])
    assert sorted(by_port) == [80, 443]
    assert by_port[443]["Certificates"][0]["CertificateArn"] == infra["cert"]
    rules = [r for r in elb.describe_rules(ListenerArn=by_port[443]["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert len(rules) == 1 and rules[0]["Priority"] == "10"
    condition = rules[0]["Conditions"][0]
    assert condition["Field"] == "path-pattern"
    assert (condition.get("PathPatternConfig", {}).get("Values") or condition.get("Values")) == ["/ws*"]
    assert rules[0]["Actions"][0]["TargetGroupArn"] == infra["ws"]
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=again["LoadBalancerArn"])["Attributes"]}
    assert attrs["idle_timeout.timeout_seconds"] == "300"
    tags = {t["Key"]: t["Value"] for t in elb.describe_tags(ResourceArns=[again["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]}
    assert tags["team"] == "web"
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == again["DNSName"]
    assert morning["albDNSName"] == again["DNSName"]


def test_working_hours_with_everything_in_place_does_nothing(machine, moto, infra):
    succeeded(machine.run(legacy_input(infra, now=MORNING)))
    before = (alb(moto)["LoadBalancerArn"], record(moto, infra["zone"]))
    calls = sum(machine.router.invocations.values())
    result = machine.run(legacy_input(infra, now="2026-11-25T11:00:00+09:00"))
    out = succeeded(result)
    assert result["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "No Action Required"]
    assert out["nextStep"] == "Nothing"
    assert (alb(moto)["LoadBalancerArn"], record(moto, infra["zone"])) == before
    assert sum(machine.router.invocations.values()) == calls + 1  # only the check ran


def test_missing_record_is_repaired(machine, moto, infra):
    succeeded(machine.run(legacy_input(infra, now=MORNING)))
    a = record(moto, infra["zone"])
    moto.client("route53").change_resource_record_sets(
        HostedZoneId=infra["zone"], ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": a}]}
    )
    assert record(moto, infra["zone"]) is None
    result = machine.run(legacy_input(infra, now="2026-11-25T11:00:00+09:00"))
    succeeded(result)
    # The repair path completes the ALB first (idempotent: nothing to add here), then the record.
    assert result["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "Create ALB", "Create Route 53 Record"]
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == alb(moto)["DNSName"]


def test_record_pointing_at_another_alb_is_not_deleted(machine, moto, infra):
    succeeded(machine.run(legacy_input(infra, now=MORNING)))
    other = moto.client("elbv2").create_load_balancer(Name="team-b", Subnets=infra["subnets"])["LoadBalancers"][0]
    moto.client("route53").change_resource_record_sets(
        HostedZoneId=infra["zone"],
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "dev.example.com.", "Type": "A",
            "AliasTarget": {"HostedZoneId": other["CanonicalHostedZoneId"], "DNSName": other["DNSName"], "EvaluateTargetHealth": False},
        }}]},
    )
    out = succeeded(machine.run(legacy_input(infra, now=EVENING)))
    assert out["recordStatus"].startswith("left alone: A is an alias to team-b")
    assert record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == other["DNSName"]
    assert alb(moto) is None and alb(moto, "team-b") is not None


def test_transient_failure_is_retried(machine, moto, infra):
    machine.router.fail_next("create-alb", "AwsTransient")
    out = succeeded(machine.run(legacy_input(infra, now=MORNING)))
    assert machine.router.invocations["create-alb"] == 2
    assert out["albCreated"] is True and alb(moto) is not None


def test_permanent_failure_notifies_and_fails_with_its_type(machine, moto, infra):
    doc = legacy_input(infra, now=MORNING, certificateArn="")
    result = machine.run(doc)
    assert result["status"] == "FAILED"
    assert result["error"] == "InvalidInput"
    assert "targetGroups[1].certificateArn" in result["cause"]
    assert alb(moto) is None
    messages = moto.client("sqs").receive_message(QueueUrl=infra["queue"], WaitTimeSeconds=2)["Messages"]
    body = json.loads(messages[0]["Body"])
    assert "InvalidInput" in body["Message"] and body["Subject"] == "lightsout: ALB working-hours run failed"


@pytest.mark.parametrize("doc", ["hello", 42, [], [{"albName": "dev-alb"}], None, {"albname": "dev-alb"}, {"albName": 7}])
def test_input_that_is_no_alb_event_notifies_and_fails_before_any_function(machine, moto, infra, doc):
    """Anything but an object with an albName cannot carry the `$.error` a Catch adds (a string or
    an array has no fields): without the "Check Input" state such an execution failed with
    States.Runtime on the Catch's ResultPath, and nobody was told."""
    result = machine.run(doc)
    assert result["status"] == "FAILED", result
    assert result["error"] == "InvalidEvent"
    assert result["states"] == ["Check Input", "Notify Invalid Input", "Invalid Input"]
    assert sum(machine.router.invocations.values()) == 0
    messages = moto.client("sqs").receive_message(QueueUrl=infra["queue"], WaitTimeSeconds=2)["Messages"]
    body = json.loads(messages[0]["Body"])
    assert body["Subject"] == "lightsout: ALB working-hours run refused its input"
    assert body["Message"].startswith("The execution input must be a JSON object with albName")
    assert json.dumps(doc, separators=(",", ":")) in body["Message"]


def test_each_function_alone_with_the_sample_events(watch, moto, infra):
    """events/alb-*.json through `cargo lambda invoke`, with the samples' placeholder ids swapped for
    this moto's: the same sequence the state machine runs, one function at a time."""
    moto.client("s3").create_bucket(Bucket="lightsout-alb-snapshots-example", CreateBucketConfiguration={"LocationConstraint": REGION})
    sample = json.loads((ROOT / "events" / "alb-input.json").read_text())
    swaps = {
        sample["subnets"][0]: infra["subnets"][0],
        sample["subnets"][1]: infra["subnets"][1],
        sample["securityGroups"][0]: infra["sg"],
        sample["hostedZoneId"]: infra["zone"],
        sample["targetGroups"][0]["targetGroupArn"]: infra["web"],
        sample["certificateArn"]: infra["cert"],
    }
    cargo_lambda = str(Path(sys.executable).parent / "cargo-lambda")

    def invoke(function: str, file: str, live: dict | None = None) -> dict:
        text = (ROOT / "events" / file).read_text()
        for old, new in swaps.items():
            text = text.replace(old, new)
        doc = json.loads(text)
        doc.update(live or {})
        path = ROOT / ".local" / f"sample-{file}"
        path.write_text(json.dumps(doc))
        out = subprocess.run(
            [cargo_lambda, "lambda", "invoke", function, "--data-file", str(path), "--invoke-address", "127.0.0.1",
             "--invoke-port", str(watch.port), "--output-format", "json"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
        assert out.returncode == 0, f"{function} {file}: {out.stderr}"
        return json.loads(out.stdout)

    checked = invoke("check-existing-alb", "alb-check-existing.json")
    assert (checked["albExists"], checked["shouldExist"]) == (False, True)
    created = invoke("create-alb", "alb-create.json")
    assert created["albCreated"] is True
    live = {k: created[k] for k in ("albArn", "albDNSName", "albHostedZoneId")}
    again = invoke("create-alb", "alb-create.json")  # idempotent: reuses, creates nothing
    assert (again["albCreated"], again["listenersCreated"], again["rulesCreated"]) == (False, 0, 0)
    assert again["albArn"] == created["albArn"]
    assert invoke("create-route53-record", "alb-create-record.json", live)["recordChanged"] is True
    assert invoke("delete-route53-record", "alb-delete-record.json", live)["recordStatus"] == "deleted"
    deleted = invoke("delete-alb", "alb-delete.json", live)
    assert deleted["albDeleted"] is True and deleted["snapshotKey"] == "lightsout/alb-snapshots/dev-alb.json"
    assert alb(moto) is None and record(moto, infra["zone"]) is None
    gone = invoke("delete-alb", "alb-delete.json", live)  # already gone: a success that says so
    assert (gone["albDeleted"], gone["albAlreadyGone"]) == (False, True)
    assert invoke("delete-route53-record", "alb-delete-record.json", live)["recordStatus"] == "missing"


def test_dualstack_gets_a_and_aaaa_aliases(machine, moto, infra):
    succeeded(machine.run(legacy_input(infra, now=MORNING, ipAddressType="dualstack")))
    lb = alb(moto)
    for kind in ("A", "AAAA"):
        assert record(moto, infra["zone"], kind)["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"], kind
    out = succeeded(machine.run(legacy_input(infra, now=EVENING, ipAddressType="dualstack")))
    assert out["recordStatus"] == "deleted"
    assert record(moto, infra["zone"], "A") is None and record(moto, infra["zone"], "AAAA") is None
