"""Bad input, table-driven, against the REAL binaries (`cargo lambda watch`) and moto.

Every function gets missing fields, wrong types, empty strings, huge and deeply nested JSON, unknown
fields, wrong time formats, unknown zones and invalid tags. Each case asserts
- the stable error type (`InvalidEvent`, `InvalidInput`; HTTP 400/413 for the API; a
  `batchItemFailures` entry for the queue consumer), and
- that the message names the field (and stays short, whatever the size of the input), and
- that nothing happened in AWS (moto state read with boto3), against a control that does change it.

The unknown-field policy these tests pin down (RELIABILITY.md, "Bad input"):
- `ec2-autostop` event: other fields are ignored (EventBridge envelopes pass), but a field that is a
  near miss of a known one (`dry_run`, `DryRun`, `dryrun`, `Now`) is refused: ignoring it would
  act for real, or for the wrong time.
- ALB states: unknown fields are carried through to the next state; near misses of known fields
  (`timeZone`, `snapshotbucket`, `subnet`) are refused for the same reason.
- API request bodies: every unknown field is refused (there is no envelope to tolerate).
- Queue messages: written by the producer only; the consumer re-validates them and a message that
  fails validation is reported in `batchItemFailures` (dead-lettered after 3 receives, docs/requests.md).

`CASES` counts the bad inputs tried; `test_zz_case_count` prints and records the total.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from conftest import LOG_DIR, OUTCOMES_BUCKET, QUEUE
from harness import FunctionError, image_id, states

REGION = "ap-northeast-2"
MAX_MESSAGE = 4096  # no error message may echo a huge input back
FIVE_MB = "x" * (5 * 1024 * 1024)
DEEP = 100_000  # levels of nesting: far past serde_json's recursion limit of 128
DROP = object()  # a mutation that removes the field

CASES: dict[str, int] = {}


_IMAGE: list[str] = []


def launch(ec2, tags: dict[str, str], state: str = "running") -> list[str]:
    """harness.launch, with the image looked up once: moto's DescribeImages lists ~1,300 images and
    takes seconds, which a table of a hundred cases cannot afford (moto's images survive a reset)."""
    if not _IMAGE:
        _IMAGE.append(image_id(ec2))
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    reply = ec2.run_instances(ImageId=_IMAGE[0], MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=spec)
    ids = [i["InstanceId"] for i in reply["Instances"]]
    if state == "stopped":
        ec2.stop_instances(InstanceIds=ids)
    return ids


def count(kind: str, n: int = 1) -> None:
    CASES[kind] = CASES.get(kind, 0) + n


def deep_array(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def invoke_raw(watch, function: str, body: bytes) -> dict:
    """The Lambda Invoke API with a raw payload (bytes json.dumps could not produce); returns the
    answer or raises FunctionError, as Watch.invoke does."""
    req = urllib.request.Request(
        f"{watch.url}/2015-03-31/functions/{function}/invocations", data=body, method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=900) as resp:
            answer = json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        answer = json.loads(err.read())
    if isinstance(answer, dict) and "errorType" in answer:
        raise FunctionError(answer["errorType"], answer.get("errorMessage", ""))
    return answer


def invoke(watch, function: str, payload) -> dict:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return invoke_raw(watch, function, body)


def expect_error(watch, function: str, payload, error_type: str, *named: str) -> str:
    with pytest.raises(FunctionError) as err:
        invoke(watch, function, payload)
    assert err.value.error_type == error_type, f"{function}: {err.value.error_type}: {err.value.message[:300]}"
    message = err.value.message
    assert len(message) <= MAX_MESSAGE, f"{function}: message of {len(message)} characters"
    for name in named:
        assert name in message, f"{function}: `{name}` not in: {message[:500]}"
    return message


def each_case(cases, check) -> None:
    """Runs `check(case)` for every case of a table, then fails with every case that failed (one
    moto world per table keeps a few hundred cases within a few minutes)."""
    failures = []
    for case in cases:
        try:
            check(case)
        except (AssertionError, pytest.fail.Exception) as err:
            failures.append(f"[{case[0]}] {str(err)[:800]}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)


def with_changes(base: dict, changes: dict) -> dict:
    doc = json.loads(json.dumps(base))
    for key, value in changes.items():
        if value is DROP:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


# =============================================================================================
# ec2-autostop: the event
# =============================================================================================

AUTOSTOP = "ec2-autostop"


def _utc_dates_around_now() -> str:
    today = datetime.now(timezone.utc).date()
    return ",".join(str(today + timedelta(days=d)) for d in (-1, 0, 1))


# (id, payload, names the message must contain). Every payload is refused with InvalidEvent.
AUTOSTOP_EVENTS = {
    "not an object": [
        ("array", [1], ["event", "an array"]),
        ("string", "run now", ["event", "a string"]),
        ("number", 5, ["event", "a number"]),
        ("boolean", True, ["event", "a boolean"]),
    ],
    "wrong types": [
        ("time-number", {"time": 5}, ["`time`", "got 5"]),
        ("time-bool", {"time": True}, ["`time`"]),
        ("time-array", {"time": ["2026-11-25T00:00:00Z"]}, ["`time`", "an array"]),
        ("time-object", {"time": {"iso": "2026-11-25T00:00:00Z"}}, ["`time`", "an object"]),
        ("now-number", {"now": 1764000000}, ["`now`"]),
        ("dryRun-number", {"dryRun": 1}, ["`dryRun`", "got 1"]),
        ("dryRun-zero", {"dryRun": 0}, ["`dryRun`"]),
        ("dryRun-array", {"dryRun": [True]}, ["`dryRun`"]),
        ("dryRun-object", {"dryRun": {}}, ["`dryRun`", "an object"]),
    ],
    "empty strings": [
        ("time-empty", {"time": ""}, ["`time`"]),
        ("now-empty", {"now": ""}, ["`now`"]),
        ("dryRun-empty", {"dryRun": ""}, ["`dryRun`"]),
        ("now-blank", {"now": "   "}, ["`now`"]),
    ],
    "wrong time formats": [
        ("now-words", {"now": "yesterday evening"}, ["`now`", "RFC 3339"]),
        ("now-no-offset", {"now": "2026-11-25T20:00:00"}, ["`now`"]),
        ("now-date-only", {"now": "2026-11-25"}, ["`now`"]),
        ("now-month-13", {"now": "2026-13-01T00:00:00Z"}, ["`now`"]),
        ("now-feb-30", {"now": "2026-02-30T00:00:00Z"}, ["`now`"]),
        ("now-hour-25", {"now": "2026-11-25T25:00:00Z"}, ["`now`"]),
        ("now-us-format", {"now": "11/25/2026 8:00 PM"}, ["`now`"]),
        ("now-epoch-string", {"now": "1764000000"}, ["`now`"]),
        ("now-zone-name", {"now": "2026-11-25T20:00:00 Asia/Seoul"}, ["`now`"]),
        ("time-bad-offset", {"time": "2026-11-25T00:00:00+25:00"}, ["`time`"]),
        ("dryRun-maybe", {"dryRun": "maybe"}, ["`dryRun`", '"maybe"']),
        ("dryRun-yes", {"dryRun": "yes"}, ["`dryRun`"]),
    ],
    "huge": [
        ("now-5MB", {"now": FIVE_MB}, ["`now`"]),
        ("dryRun-5MB", {"dryRun": FIVE_MB}, ["`dryRun`"]),
    ],
    # near misses of known fields: ignoring them would act for real / for the clock
    "near misses of known fields": [
        ("near-dry_run", {"dry_run": True}, ["dry_run", "dryRun"]),
        ("near-DryRun", {"DryRun": True}, ["DryRun", "dryRun"]),
        ("near-dryrun", {"dryrun": "true"}, ["dryrun", "dryRun"]),
        ("near-dry-run", {"dry-run": True}, ["dry-run", "dryRun"]),
        ("near-DRY_RUN", {"DRY_RUN": True}, ["DRY_RUN", "dryRun"]),
        ("near-dryRn", {"dryRn": True}, ["dryRn", "dryRun"]),
        ("near-Now", {"Now": "2026-11-25T20:00:00+09:00"}, ["Now", "now"]),
        ("near-TIME", {"TIME": "2026-11-25T20:00:00+09:00"}, ["TIME", "time"]),
    ],
    # not JSON the function can read: nested past the parser's limit, a number out of range
    "not JSON the function can read": [
        ("deep-100k", b'{"detail": ' + deep_array(DEEP) + b"}", ["event"]),
        ("deep-129", b'{"detail": ' + deep_array(129) + b"}", ["event"]),
        ("number-out-of-range", b'{"dryRun": 1e999}', ["event"]),
    ],
}


@pytest.fixture
def would_stop(ec2):
    """A running managed instance that any decision near the clock (or the event's `now`) stops:
    its skip dates cover yesterday, today and tomorrow (UTC). It must still be running after a
    refused event."""
    return launch(ec2, {"AUTOSTOP_ENABLE": "true", "TIME": "0~23", "TZ": "UTC", "AUTOSTOP_SKIP_DATES": _utc_dates_around_now()})[0]


@pytest.mark.parametrize("group", list(AUTOSTOP_EVENTS))
def test_autostop_bad_event_is_refused_and_nothing_changes(watch, ec2, would_stop, group):
    def check(case):
        _, payload, named = case
        count("ec2-autostop event")
        expect_error(watch, AUTOSTOP, payload, "InvalidEvent", *named)
        assert states(ec2)[would_stop] == "running", "the instance was stopped"

    each_case(AUTOSTOP_EVENTS[group], check)


# Accepted: unknown (non near-miss) fields are ignored, however big or nested; null means absent.
AUTOSTOP_ACCEPTED = [
    ("eventbridge-envelope", {"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
                              "account": "123456789012", "region": REGION, "resources": [], "detail": {}}),
    ("unknown-field", {"note": "hello", "dryRunner": 1}),
    ("nulls", {"time": None, "now": None, "dryRun": None}),
    ("unknown-5MB", {"blob": FIVE_MB}),
    ("unknown-deep-100", json.loads(b'{"detail": ' + deep_array(100) + b"}")),
    ("unicode-keys", {"시간": "지금", "🕘": True}),
]


def test_autostop_unknown_fields_are_ignored_and_the_run_happens(watch, ec2):
    """The control for the table above: the same instance IS stopped when the event is readable."""

    def check(case):
        _, payload = case
        count("ec2-autostop event (accepted)")
        instance = launch(ec2, {"AUTOSTOP_ENABLE": "true", "TIME": "0~23", "TZ": "UTC",
                                "AUTOSTOP_SKIP_DATES": _utc_dates_around_now()})[0]
        report = invoke(watch, AUTOSTOP, payload)
        assert [s["instanceId"] for s in report["stopped"]] == [instance]
        assert states(ec2)[instance] == "stopped"

    each_case(AUTOSTOP_ACCEPTED, check)


# =============================================================================================
# ec2-autostop: invalid tags
# =============================================================================================

# (tag, bad value, the reason starts with)
BAD_TAGS = [
    ("TIME", "nine to six", "TIME: `nine to six` is not a window"),
    ("TIME", "", "TIME is empty"),
    ("TIME", " , ", "TIME is empty"),
    ("TIME", "9~25", "TIME: `25` in `9~25` is not a time"),
    ("TIME", "24~2", "TIME: `24` in `24~2` is not a time"),
    ("TIME", "9:60~18", "TIME: `9:60` in `9:60~18` is not a time"),
    ("TIME", "9:5~18", "TIME: `9:5` in `9:5~18` is not a time"),
    ("TIME", "09:00~09:00", "TIME: `09:00~09:00` is empty"),
    ("TIME", "9~18~20", "TIME: `18~20` in `9~18~20` is not a time"),
    ("TIME", "9.5~18", "TIME: `9.5` in `9.5~18` is not a time"),
    ("TIME", "９~１８", "TIME: `９` in `９~１８` is not a time"),  # full-width digits
    ("TIME", "~18", "TIME: `` in `~18` is not a time"),
    ("TIME", "9~18,nope", "TIME: `nope` is not a window"),
    ("TIME", "x" * 256, "TIME: `xxxxxxxx"),
    ("DAY", "someday", "DAY: `someday` is not a day"),
    ("DAY", "", "DAY is empty"),
    ("DAY", "mon-", "DAY: `mon-` is not a range"),
    ("DAY", "mon-wed-fri", "DAY: `mon-wed-fri` is not a range"),
    ("DAY", "월~목~금", "DAY: `월~목~금` is not a range"),
    ("DAY", "월요", "DAY: `월요` is not a day"),
    ("DAY", "montag", "DAY: `montag` is not a day"),
    ("DAY", "1-5", "DAY: `1` is not a day"),
    ("DAY", "mon;fri", "DAY: `mon;fri` is not a day"),
    ("TZ", "Mars/Olympus", "TZ: `Mars/Olympus` is not an IANA time zone"),
    ("TZ", "Seoul", "TZ: `Seoul` is not an IANA time zone"),
    ("TZ", "UTC+9", "TZ: `UTC+9` is not an IANA time zone"),
    ("TZ", "+09:00", "TZ: `+09:00` is not an IANA time zone"),
    ("TZ", "Etc/GMT+15", "TZ: `Etc/GMT+15` is not an IANA time zone"),
    ("TZ", "Asia/Seoul/Gangnam", "TZ: `Asia/Seoul/Gangnam` is not an IANA time zone"),
    ("AUTOSTOP_HOLD_UNTIL", "tonight", "AUTOSTOP_HOLD_UNTIL: `tonight`"),
    ("AUTOSTOP_HOLD_UNTIL", "2026-11-25 23:00", "AUTOSTOP_HOLD_UNTIL: `2026-11-25 23:00`"),
    ("AUTOSTOP_HOLD_UNTIL", "2026-11-25T23:00:00", "AUTOSTOP_HOLD_UNTIL: `2026-11-25T23:00:00`"),
    ("AUTOSTOP_SKIP_DATES", "12/25", "AUTOSTOP_SKIP_DATES: `12/25`"),
    ("AUTOSTOP_SKIP_DATES", "2026-02-30", "AUTOSTOP_SKIP_DATES: `2026-02-30`"),
    ("AUTOSTOP_SKIP_DATES", "2026-12-25;2027-01-01", "AUTOSTOP_SKIP_DATES: `2026-12-25;2027-01-01`"),
    ("AUTOSTOP_MODE", "sometimes", "AUTOSTOP_MODE: `sometimes`"),
    ("AUTOSTOP_MODE", "stop", "AUTOSTOP_MODE: `stop`"),
    ("AUTOSTOP_HIBERNATE", "yes", "AUTOSTOP_HIBERNATE: `yes`"),
    ("AUTOSTOP_HIBERNATE", "1", "AUTOSTOP_HIBERNATE: `1`"),
]
WEDNESDAY_8PM_SEOUL = "2026-11-25T20:00:00+09:00"
# At Wednesday 20:00 in Seoul, `stops` wants stopped and `starts` wants running.
BASE_TAGS = {
    "stops": {"AUTOSTOP_ENABLE": "true", "DAY": "mon-fri", "TIME": "9~18", "TZ": "Asia/Seoul"},
    "starts": {"AUTOSTOP_ENABLE": "true", "DAY": "월-금", "TIME": "19~21", "TZ": "Asia/Seoul"},
}


def test_instances_with_invalid_tags_are_skipped_with_the_tag_named_and_left_alone(watch, ec2):
    launched: dict[str, tuple[str, str, str]] = {}  # id -> (tag, value, expected reason)
    for tag, value, reason in BAD_TAGS:
        for base, initial in (("stops", "running"), ("starts", "stopped")):
            tags = {**BASE_TAGS[base], tag: value}
            [instance] = launch(ec2, tags, state=initial)
            launched[instance] = (tag, value, reason)
    controls = {
        launch(ec2, BASE_TAGS["stops"], state="running")[0]: "stopped",
        launch(ec2, BASE_TAGS["starts"], state="stopped")[0]: "running",
    }
    before = states(ec2)
    count("invalid tag", len(launched))
    report = invoke(watch, AUTOSTOP, {"now": WEDNESDAY_8PM_SEOUL})

    reasons = {s["instanceId"]: s["reason"] for s in report["skipped"]}
    for instance, (tag, value, expected) in launched.items():
        assert instance in reasons, f"{tag}={value!r} was not skipped"
        assert reasons[instance].startswith(expected), f"{tag}={value!r}: {reasons[instance]}"
        assert len(reasons[instance]) <= MAX_MESSAGE
    after = states(ec2)
    for instance, (tag, value, _) in launched.items():
        assert after[instance] == before[instance], f"{tag}={value!r}: {before[instance]} -> {after[instance]}"
    for instance, wanted in controls.items():
        assert after[instance] == wanted, "control instance did not move: the check above proves nothing"
    acted = {a["instanceId"] for a in report["started"] + report["stopped"]}
    assert acted == set(controls)
    assert report["failed"] == []


# =============================================================================================
# The five ALB state functions
# =============================================================================================

ALB_FUNCTIONS = ["check-existing-alb", "create-alb", "delete-alb", "create-route53-record", "delete-route53-record"]
EVENING = "2026-11-25T20:00:00+09:00"  # outside 9~18: a readable event would make the deletes act


@pytest.fixture
def alb_world(moto):
    """An ALB `dev-alb` with a listener and its alias record, as a morning run leaves them, plus an
    empty snapshot bucket. A bad input must leave all of it exactly so."""
    ec2, elb, r53 = moto.client("ec2"), moto.client("elbv2"), moto.client("route53")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "c"))
    ]
    sg = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    web = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name="dev-alb", Subnets=subnets, SecurityGroups=[sg], Type="application")["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": web}])
    zone = r53.create_hosted_zone(Name="example.com", CallerReference=str(uuid.uuid4()))["HostedZone"]["Id"].split("/")[-1]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": "dev.example.com.", "Type": "A",
        "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"], "EvaluateTargetHealth": False}}}]})
    moto.client("s3").create_bucket(Bucket="alb-snapshots", CreateBucketConfiguration={"LocationConstraint": REGION})
    event = {
        "albName": "dev-alb", "startTime": 9, "endTime": 18, "subnets": subnets, "securityGroups": [sg],
        "hostedZoneId": zone, "domainName": "dev.example.com",
        "targetGroups": [{"targetGroupArn": web, "listenerProtocol": "HTTP", "listenerPort": 80}],
        "snapshotBucket": "alb-snapshots", "albArn": lb["LoadBalancerArn"], "albDNSName": lb["DNSName"],
        "albHostedZoneId": lb["CanonicalHostedZoneId"], "now": EVENING,
    }
    return {"event": event, "zone": zone, "arn": lb["LoadBalancerArn"], "web": web}


def alb_state(moto, world) -> dict:
    """Everything a state function could change: ALBs, listeners, records, snapshots."""
    elb, r53, s3 = moto.client("elbv2"), moto.client("route53"), moto.client("s3")
    albs = {lb["LoadBalancerName"]: lb["LoadBalancerArn"] for lb in elb.describe_load_balancers()["LoadBalancers"]}
    listeners = sorted(
        (l["Port"], l["Protocol"]) for arn in albs.values() for l in elb.describe_listeners(LoadBalancerArn=arn)["Listeners"]
    )
    records = sorted(
        (r["Name"], r["Type"], r.get("AliasTarget", {}).get("DNSName"))
        for r in r53.list_resource_record_sets(HostedZoneId=world["zone"])["ResourceRecordSets"]
        if r["Type"] in ("A", "AAAA")
    )
    snapshots = [o["Key"] for o in s3.list_objects_v2(Bucket="alb-snapshots").get("Contents", [])]
    return {"albs": albs, "listeners": listeners, "records": records, "snapshots": snapshots}


def tg(**entry):
    base = {"targetGroupArn": "TG", "listenerProtocol": "HTTP", "listenerPort": 80}
    return [{**base, **entry}]


# (id, changes to the valid event, names the message must contain). Every one: InvalidInput.
ALB_EVENTS = {
    "missing fields": [
        ("missing-albName", {"albName": DROP}, ["albName", "got nothing"]),
        ("missing-startTime", {"startTime": DROP}, ["startTime", "got nothing"]),
        ("missing-endTime", {"endTime": DROP}, ["endTime", "got nothing"]),
        ("missing-subnets", {"subnets": DROP}, ["subnets", "got nothing"]),
        ("missing-hostedZoneId", {"hostedZoneId": DROP}, ["hostedZoneId", "got nothing"]),
        ("missing-domainName", {"domainName": DROP}, ["domainName", "got nothing"]),
        ("missing-targetGroups", {"targetGroups": DROP}, ["targetGroups", "got nothing"]),
        ("missing-targetGroupArn", {"targetGroups": [{"listenerProtocol": "HTTP", "listenerPort": 80}]},
         ["targetGroups[0].targetGroupArn", "got nothing"]),
        ("missing-listenerPort", {"targetGroups": tg(listenerPort=None)}, ["targetGroups[0].listenerPort"]),
    ],
    "wrong types": [
        ("albName-number", {"albName": 5}, ["albName", "got 5"]),
        ("startTime-bool", {"startTime": True}, ["startTime", "got true"]),
        ("startTime-25", {"startTime": 25}, ["startTime", "got 25"]),
        ("startTime-negative", {"startTime": -1}, ["startTime", "got -1"]),
        ("startTime-fraction", {"startTime": 9.5}, ["startTime", "got 9.5"]),
        ("endTime-array", {"endTime": [18]}, ["endTime", "an array"]),
        ("subnets-string", {"subnets": "subnet-1,subnet-2"}, ["subnets"]),
        ("subnets-numbers", {"subnets": [1, 2]}, ["subnets"]),
        ("subnets-one", {"subnets": ["subnet-1"]}, ["subnets", "at least 2"]),
        ("securityGroups-string", {"securityGroups": "sg-1"}, ["securityGroups"]),
        ("hostedZoneId-number", {"hostedZoneId": 5}, ["hostedZoneId"]),
        ("hostedZoneId-5MB", {"hostedZoneId": "Z" * (5 * 1024 * 1024)}, ["hostedZoneId"]),
        ("domainName-array", {"domainName": ["dev.example.com"]}, ["domainName"]),
        ("targetGroups-object", {"targetGroups": {"targetGroupArn": "x"}}, ["targetGroups"]),
        ("targetGroups-empty", {"targetGroups": []}, ["targetGroups"]),
        ("targetGroups-entry-number", {"targetGroups": [1]}, ["targetGroups[0]", "an object"]),
        ("listenerPort-zero", {"targetGroups": tg(listenerPort=0)}, ["targetGroups[0].listenerPort", "got 0"]),
        ("listenerPort-huge", {"targetGroups": tg(listenerPort=70000)}, ["targetGroups[0].listenerPort"]),
        ("listenerProtocol-tcp", {"targetGroups": tg(listenerProtocol="TCP")}, ["targetGroups[0].listenerProtocol", "TCP"]),
        ("https-without-certificate", {"targetGroups": tg(listenerProtocol="HTTPS", listenerPort=443)},
         ["certificateArn", "HTTPS"]),
        ("days-number", {"days": 5}, ["days"]),
        ("days-mixed-list", {"days": ["mon", 2]}, ["days"]),
        ("timezone-number", {"timezone": 9}, ["timezone"]),
        ("holdUntil-number", {"holdUntil": 1764000000}, ["holdUntil"]),
        ("skipDates-number", {"skipDates": 20261225}, ["skipDates"]),
        ("scheme-bool", {"scheme": True}, ["scheme"]),
        ("ipAddressType-number", {"ipAddressType": 6}, ["ipAddressType"]),
        ("snapshotBucket-number", {"snapshotBucket": 5}, ["snapshotBucket"]),
        ("albArn-number", {"albArn": 5}, ["albArn"]),
        ("albDNSName-number", {"albDNSName": 7}, ["albDNSName", "got 7"]),
        ("certificateArn-object", {"certificateArn": {}}, ["certificateArn"]),
        ("now-number", {"now": 1}, ["now", "got 1"]),
        ("time-bool", {"time": False, "now": DROP}, ["time"]),
    ],
    # empty strings (required fields; optional ones treat "" as not given, as docs/alb-workflow.md says)
    "empty strings": [
        ("albName-empty", {"albName": ""}, ["albName"]),
        ("startTime-empty", {"startTime": ""}, ["startTime"]),
        ("endTime-blank", {"endTime": "  "}, ["endTime"]),
        ("hostedZoneId-empty", {"hostedZoneId": ""}, ["hostedZoneId"]),
        ("domainName-empty", {"domainName": ""}, ["domainName"]),
        ("days-empty", {"days": ""}, ["days"]),
        ("days-empty-list", {"days": []}, ["days"]),
        ("subnets-blank-entries", {"subnets": ["", " "]}, ["subnets"]),
    ],
    "bad values": [
        ("albName-invalid", {"albName": "-dev_alb-"}, ["albName"]),
        ("albName-too-long", {"albName": "a" * 33}, ["albName"]),
        ("domainName-spaces", {"domainName": "dev example.com"}, ["domainName"]),
        ("hostedZoneId-lowercase", {"hostedZoneId": "zabc"}, ["hostedZoneId"]),
        ("hostedZoneId-too-long", {"hostedZoneId": "Z" * 33}, ["hostedZoneId"]),
        ("certificateArn-too-long", {"certificateArn": "arn:aws:acm:r:1:certificate/" + "c" * 2048}, ["certificateArn"]),
        ("snapshotBucket-invalid", {"snapshotBucket": "My_Bucket"}, ["snapshotBucket"]),
        ("albArn-not-an-alb", {"albArn": "arn:aws:s3:::bucket"}, ["albArn"]),
        ("scheme-public", {"scheme": "public"}, ["scheme", "public"]),
    ],
    "wrong time formats": [
        ("startTime-9am", {"startTime": "9am"}, ["startTime/endTime", "9am"]),
        ("startTime-25:00", {"startTime": "25:00"}, ["startTime/endTime"]),
        ("startTime-9:5", {"startTime": "9:5"}, ["startTime/endTime"]),
        ("endTime-09:60", {"endTime": "09:60"}, ["startTime/endTime"]),
        ("startTime-several-windows", {"startTime": "9~18,20"}, ["startTime"]),
        ("endTime-range", {"endTime": "18-20"}, ["endTime"]),
        ("same-start-and-end", {"startTime": "09:00", "endTime": "09:00"}, ["startTime/endTime"]),
        ("holdUntil-words", {"holdUntil": "tonight"}, ["holdUntil", "RFC 3339"]),
        ("holdUntil-no-offset", {"holdUntil": "2026-11-25T23:00:00"}, ["holdUntil"]),
        ("now-no-offset", {"now": "2026-11-25T20:00:00"}, ["now"]),
        ("time-words", {"time": "yesterday", "now": DROP}, ["time"]),
        ("skipDates-us", {"skipDates": "12/25/2026"}, ["skipDates", "12/25/2026"]),
        ("skipDates-feb-30", {"skipDates": ["2026-02-30"]}, ["skipDates", "2026-02-30"]),
    ],
    "unknown zones": [
        ("timezone-mars", {"timezone": "Mars/Olympus"}, ["timezone", "Mars/Olympus"]),
        ("timezone-city", {"timezone": "Seoul"}, ["timezone", "Seoul"]),
        ("timezone-offset", {"timezone": "UTC+9"}, ["timezone", "UTC+9"]),
    ],
    # invalid days (the DAY tag grammar)
    "invalid days": [
        ("days-someday", {"days": "someday"}, ["days", "someday"]),
        ("days-open-range", {"days": "mon-"}, ["days", "mon-"]),
        ("days-korean-partial", {"days": "월요"}, ["days", "월요"]),
        ("days-numbers", {"days": "1-5"}, ["days"]),
    ],
    # near misses of known fields: carried silently they would change what happens
    "near misses of known fields": [
        ("near-timeZone", {"timeZone": "Europe/Berlin"}, ["timeZone", "timezone"]),
        ("near-snapshotbucket", {"snapshotBucket": DROP, "snapshotbucket": "alb-snapshots"}, ["snapshotbucket", "snapshotBucket"]),
        ("near-hold_until", {"hold_until": "2099-01-01T00:00:00Z"}, ["hold_until", "holdUntil"]),
        ("near-Days", {"Days": "sat,sun"}, ["Days", "days"]),
        ("near-subnet", {"subnet": "subnet-3"}, ["subnet", "subnets"]),
        ("near-skip-dates", {"skip-dates": "2026-11-25"}, ["skip-dates", "skipDates"]),
        ("near-in-target-group", {"targetGroups": tg(certificateARN="arn:aws:acm:r:1:certificate/x")},
         ["targetGroups[0].certificateARN", "certificateArn"]),
    ],
    "huge": [
        ("albName-5MB", {"albName": FIVE_MB}, ["albName"]),
        ("startTime-5MB", {"startTime": FIVE_MB}, ["startTime"]),
        ("days-5MB", {"days": FIVE_MB}, ["days"]),
        ("skipDates-5MB", {"skipDates": FIVE_MB}, ["skipDates"]),
        ("timezone-5MB", {"timezone": FIVE_MB}, ["timezone"]),
        ("targetGroups-10k-bad-entries", {"targetGroups": [1] * 10_000}, ["targetGroups[0]"]),
        ("skipDates-100k-entries", {"skipDates": ["2026-12-25"] * 100_000 + ["xmas"]}, ["skipDates", "xmas"]),
    ],
}
# Whole documents that are not a readable event object (built by _raw_alb).
ALB_RAW = [
    ("not-an-object-array", b"[]", ["event", "an array"]),
    ("not-an-object-null", b"null", ["event", "null"]),
    ("not-an-object-string", b'"dev-alb"', ["event", "a string"]),
    ("deep-100k", None, ["event"]),  # the valid event with a 100k-deep field
    ("number-out-of-range", None, ["event"]),
]
ALB_EVENTS["not a readable event object"] = [(i, i, n) for i, _, n in ALB_RAW]


def _raw_alb(case_id: str, event: dict) -> bytes:
    valid = json.dumps(event).encode()
    if case_id == "deep-100k":
        return valid[:-1] + b', "extra": ' + deep_array(DEEP) + b"}"
    if case_id == "number-out-of-range":
        return valid[:-1] + b', "extra": -1e999}'
    return next(body for i, body, _ in ALB_RAW if i == case_id)


@pytest.mark.parametrize("group", list(ALB_EVENTS))
def test_alb_functions_refuse_bad_input_with_invalid_input_and_change_nothing(watch, moto, alb_world, group):
    event = alb_world["event"]
    before = [alb_state(moto, alb_world)]

    def check(case):
        _, changes, named = case
        if isinstance(changes, str):
            payload = _raw_alb(changes, event)
        else:
            changes = {
                k: ([{**e, "targetGroupArn": alb_world["web"]} if isinstance(e, dict) and e.get("targetGroupArn") == "TG" else e
                     for e in v] if isinstance(v, list) else v)
                for k, v in changes.items()
            }
            payload = with_changes(event, changes)
        messages = set()
        try:
            for function in ALB_FUNCTIONS:
                count("ALB event")
                messages.add(expect_error(watch, function, payload, "InvalidInput", *named))
            assert len(messages) == 1, f"the five functions disagree: {messages}"
        finally:
            after = alb_state(moto, alb_world)
            changed, before[0] = after != before[0], after
            assert not changed, "a function acted on it: the ALB, its listeners, records or snapshots changed"

    each_case(ALB_EVENTS[group], check)


def test_alb_control_a_readable_event_does_change_things(watch, moto, alb_world):
    """The same world and event, unbroken: the delete functions act, so the assertions above can fail.
    Unknown fields (big, nested, unicode) are carried through every state."""
    carried = {"ticket": "OPS-1", "nested": json.loads(deep_array(100)), "메모": "x" * 100_000}
    event = {**alb_world["event"], **carried}
    before = alb_state(moto, alb_world)
    out = invoke(watch, "check-existing-alb", event)
    assert (out["albExists"], out["shouldExist"], out["nextStep"]) == (True, False, "Delete")
    out = invoke(watch, "delete-route53-record", out)
    assert out["recordStatus"] == "deleted"
    out = invoke(watch, "delete-alb", out)
    assert out["albDeleted"] is True
    for key, value in carried.items():
        assert out[key] == value
    after = alb_state(moto, alb_world)
    assert after != before and after["albs"] == {} and after["records"] == []
    assert after["snapshots"] == ["lightsout/alb-snapshots/dev-alb.json"]


# =============================================================================================
# sqs-producer: the HTTP API
# =============================================================================================

ID = "i-0123456789abcdef0"


@pytest.fixture
def queue(moto):
    sqs = moto.client("sqs")
    url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    moto.client("s3").create_bucket(Bucket=OUTCOMES_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return sqs, url


def http(watch, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(f"{watch.url}/lambda-url/sqs-producer{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=900) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def wake(**changes) -> dict:
    return with_changes({"action": "wake", "instanceIds": [ID], "until": "2099-01-01T00:00:00Z"}, changes)


# (id, body (dict or bytes), headers, status, the message starts with)
API_BODIES = {
    "missing fields": [
        ("empty-object", {}, {}, 400, 'action: expected "wake" or "sleep", got nothing'),
        ("missing-action", wake(action=DROP), {}, 400, 'action: expected "wake" or "sleep", got nothing'),
        ("missing-target", wake(instanceIds=DROP), {}, 400, "instanceIds or tag: expected"),
        ("tag-missing-value", {"action": "sleep", "tag": {"key": "Team"}}, {}, 400, "tag: expected"),
    ],
    "wrong types": [
        ("action-number", wake(action=1), {}, 400, 'action: expected "wake" or "sleep", got 1'),
        ("action-list", wake(action=["wake"]), {}, 400, 'action: expected "wake" or "sleep", got an array of 1'),
        ("instanceIds-string", wake(instanceIds=ID), {}, 400, "instanceIds: expected a list of 1-50 instance ids"),
        ("instanceIds-numbers", wake(instanceIds=[1]), {}, 400, "instanceIds[0]: expected an instance id"),
        ("instanceIds-object", wake(instanceIds={"id": ID}), {}, 400, "instanceIds: expected a list"),
        ("tag-string", {"action": "sleep", "tag": "Team=api"}, {}, 400, "tag: expected"),
        ("tag-key-number", {"action": "sleep", "tag": {"key": 1, "value": "api"}}, {}, 400, "tag: expected"),
        ("tag-value-null", {"action": "sleep", "tag": {"key": "Team", "value": None}}, {}, 400, "tag: expected"),
        ("until-number", wake(until=4102444800), {}, 400, "until: expected an RFC 3339 time"),
        ("until-bool", wake(until=True), {}, 400, "until: expected an RFC 3339 time"),
        ("requestedBy-number", wake(requestedBy=5), {}, 400, "requestedBy: expected a name"),
        ("requestedBy-list", wake(requestedBy=["mina"]), {}, 400, "requestedBy: expected a name"),
    ],
    "empty strings": [
        ("action-empty", wake(action=""), {}, 400, "action: `` is not an action"),
        ("instanceIds-empty-string", wake(instanceIds=[""]), {}, 400, "instanceIds[0]: expected an instance id"),
        ("instanceIds-empty-list", wake(instanceIds=[]), {}, 400, "instanceIds: expected a list of 1-50"),
        ("tag-key-empty", {"action": "sleep", "tag": {"key": "", "value": "api"}}, {}, 400, "tag: expected"),
        ("until-empty", wake(until=""), {}, 400, "until: expected an RFC 3339 time"),
        ("requestedBy-empty", wake(requestedBy=""), {}, 400, "requestedBy: expected a name"),
        ("requestedBy-blank", wake(requestedBy="   "), {}, 400, "requestedBy: expected a name"),
    ],
    "bad values": [
        ("action-reboot", wake(action="reboot"), {}, 400, "action: `reboot` is not an action"),
        ("action-case", wake(action="Wake"), {}, 400, "action: `Wake` is not an action"),
        ("action-60KB", wake(action="w" * 60_000), {}, 400, "action: `wwww"),
        ("instanceId-short", wake(instanceIds=["i-123"]), {}, 400, "instanceIds[0]: expected an instance id"),
        ("instanceId-uppercase", wake(instanceIds=["i-0123456789ABCDEF0"]), {}, 400, "instanceIds[0]: expected an instance id"),
        ("instanceIds-51", wake(instanceIds=[f"i-{n:017x}" for n in range(51)]), {}, 400, "instanceIds: expected a list of 1-50"),
        ("second-id-bad", wake(instanceIds=[ID, "web-1"]), {}, 400, "instanceIds[1]: expected an instance id"),
        ("both-targets", wake(tag={"key": "Team", "value": "api"}), {}, 400, "instanceIds, tag: expected one of them"),
        ("tag-enable", {"action": "sleep", "tag": {"key": "AUTOSTOP_ENABLE", "value": "true"}}, {}, 400, "tag.key: `AUTOSTOP_ENABLE`"),
        ("tag-aws", {"action": "sleep", "tag": {"key": "aws:cloudformation:stack-name", "value": "x"}}, {}, 400, "tag.key: `aws:"),
        ("tag-key-too-long", {"action": "sleep", "tag": {"key": "k" * 129, "value": "x"}}, {}, 400, "tag: expected"),
        ("until-on-sleep", {"action": "sleep", "instanceIds": [ID], "until": "2099-01-01T00:00:00Z"}, {}, 400, "until: only a wake request"),
        ("requestedBy-129", wake(requestedBy="m" * 129), {}, 400, "requestedBy: expected a name"),
        ("requestedBy-control", wake(requestedBy="mina\u0000"), {}, 400, "requestedBy:"),
        ("requestedBy-noncharacter", wake(requestedBy="mina\uffff"), {}, 400, "requestedBy:"),
        ("tag-value-control", {"action": "sleep", "tag": {"key": "Team", "value": "api\u0007"}}, {}, 400, "tag"),
    ],
    "wrong time formats": [
        ("until-words", wake(until="tonight"), {}, 400, 'until: expected an RFC 3339 time such as 2026-11-25T23:00:00+09:00, got "tonight"'),
        ("until-no-offset", wake(until="2099-01-01T23:00:00"), {}, 400, "until: expected an RFC 3339 time"),
        ("until-space-no-offset", wake(until="2099-01-01 23:00"), {}, 400, "until: expected an RFC 3339 time"),
        ("until-past", wake(until="2020-01-01T00:00:00Z"), {}, 400, "until: 2020-01-01T00:00:00+00:00 is not in the future"),
        ("until-feb-30", wake(until="2099-02-30T00:00:00Z"), {}, 400, "until: expected an RFC 3339 time"),
    ],
    # unknown fields: all refused in a request body
    "unknown fields": [
        ("unknown-instanceId", wake(instanceIds=DROP, instanceId=[ID]), {}, 400, "unknown field `instanceId`"),
        ("unknown-Action", wake(Action="wake"), {}, 400, "unknown field `Action`"),
        ("unknown-dryRun", wake(dryRun=True), {}, 400, "unknown field `dryRun`"),
        ("unknown-in-tag", {"action": "sleep", "tag": {"key": "Team", "value": "api", "Value": "web"}}, {}, 400, "tag"),
        ("unknown-huge-name", wake(**{"k" * 60_000: 1}), {}, 400, "unknown field `kkkk"),
    ],
    "not JSON / not an object": [
        ("not-json", b"action=wake", {}, 400, "Body is not valid JSON"),
        ("invalid-utf8", b'{"action": "\xff\xfe"}', {}, 400, "Body is not valid JSON"),
        ("number-out-of-range", b'{"action": "wake", "instanceIds": ["' + ID.encode() + b'"], "until": 1e999}', {}, 400, "Body is not valid JSON"),
        ("array", b"[1, 2]", {}, 400, "Body: expected a JSON object, got an array of 2"),
        ("string", b'"wake"', {}, 400, "Body: expected a JSON object"),
        ("null", b"null", {}, 400, "Body: expected a JSON object"),
        ("whitespace", b"  \n\t", {}, 400, "No body was found"),
        ("deep-32k", deep_array(32_000), {}, 400, "Body is not valid JSON: recursion limit exceeded"),
        ("deep-in-field", b'{"action": "wake", "instanceIds": ' + deep_array(200) + b"}", {}, 400, "Body is not valid JSON: recursion limit exceeded"),
    ],
    "huge": [
        ("body-5MB", wake(requestedBy=FIVE_MB), {}, 413, "Body is "),
        ("body-64KiB-plus-1", b" " * 65_537, {}, 400, "No body was found"),
        ("body-just-over", json.dumps(wake(requestedBy="m" * 65_500)).encode(), {}, 413, "Body is "),
        ("deep-100k", deep_array(DEEP), {}, 413, "Body is 200000 bytes"),
    ],
    "headers": [
        ("idempotency-key-space", wake(), {"Idempotency-Key": "has space"}, 400, "Idempotency-Key: expected"),
        ("idempotency-key-long", wake(), {"Idempotency-Key": "k" * 129}, 400, "Idempotency-Key: expected"),
        ("idempotency-key-slash", wake(), {"Idempotency-Key": "../etc"}, 400, "Idempotency-Key: expected"),
    ],
}


@pytest.mark.parametrize("group", list(API_BODIES))
def test_api_refuses_bad_requests_naming_the_field_and_queues_nothing(watch, queue, group):
    sqs, url = queue

    def check(case):
        _, body, headers, status, starts = case
        count("API request")
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        code, answer = http(watch, "POST", "/requests", raw, headers)
        queued = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", [])
        for message in queued:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        assert code == status, answer
        assert set(answer) == {"message"}
        assert answer["message"].startswith(starts), answer["message"][:300]
        assert len(answer["message"]) <= MAX_MESSAGE
        assert not queued, "it was queued"

    each_case(API_BODIES[group], check)


def test_api_control_the_valid_request_is_queued(watch, queue):
    sqs, url = queue
    code, answer = http(watch, "POST", "/requests", json.dumps(wake(requestedBy="민아")).encode())
    assert code == 200, answer
    assert len(sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]) == 1


API_PATHS = [
    ("id-with-space", "GET", "/requests/has%20space", 400, "request id: expected"),
    ("id-too-long", "GET", "/requests/" + "k" * 129, 400, "request id: expected"),
    ("id-with-dots", "GET", "/requests/..%2F..%2Fetc", 400, "request id: expected"),
    ("too-deep", "GET", "/requests/a/b", 404, "No route for GET"),
    ("delete", "DELETE", "/requests", 405, "Use POST /requests"),
    ("put", "PUT", "/requests/x", 405, "Use POST /requests"),
]


def test_api_refuses_bad_paths(watch, queue):
    def check(case):
        _, method, path, status, starts = case
        count("API path")
        code, answer = http(watch, method, path)
        assert (code, answer["message"][: len(starts)]) == (status, starts)

    each_case(API_PATHS, check)


# =============================================================================================
# sqs-consumer: bad message bodies in a batch
# =============================================================================================


def queued(**changes) -> dict:
    return with_changes(
        {"requestId": "bad-1", "action": "wake", "target": {"instanceIds": ["BOX"]}, "until": "2099-01-01T00:00:00Z",
         "requestedBy": "mina", "receivedAt": "2026-11-25T11:00:00Z"},
        changes,
    )


# (id, body (a dict is JSON-encoded), the failure reason names). Every one must be reported in
# batchItemFailures and change nothing.
CONSUMER_BODIES = [
    ("not-json", "this is not a request", ["malformed request"]),
    ("empty", "", ["malformed request"]),
    ("empty-object", "{}", ["malformed request"]),
    ("array", "[]", ["malformed request"]),
    ("missing-requestId", queued(requestId=DROP), ["requestId"]),
    ("missing-action", queued(action=DROP), ["action"]),
    ("missing-target", queued(target=DROP), ["target"]),
    ("action-reboot", queued(action="reboot"), ["action"]),
    ("action-number", queued(action=1), ["action"]),
    ("target-string", queued(target="BOX"), ["target"]),
    ("target-both", queued(target={"instanceIds": ["BOX"], "tag": {"key": "Team", "value": "api"}}), ["target"]),
    ("instanceIds-empty", queued(target={"instanceIds": []}), ["instanceIds"]),
    ("instanceIds-bad", queued(target={"instanceIds": ["web-1"]}), ["instanceIds"]),
    ("tag-enable", queued(target={"tag": {"key": "AUTOSTOP_ENABLE", "value": "true"}}), ["tag"]),
    ("tag-aws", queued(target={"tag": {"key": "aws:autoscaling:groupName", "value": "web"}}), ["tag"]),
    ("until-garbage", queued(until="garbage"), ["until"]),
    ("until-number", queued(until=5), ["until"]),
    ("until-on-sleep", queued(action="sleep"), ["until"]),
    ("requestId-empty", queued(requestId=""), ["requestId"]),
    ("requestId-path", queued(requestId="../../etc/passwd"), ["requestId"]),
    ("requestedBy-empty", queued(requestedBy=""), ["requestedBy"]),
    ("receivedAt-garbage", queued(receivedAt="yesterday"), ["receivedAt"]),
    ("deep-100k", '{"requestId": ' + "[" * DEEP + "]" * DEEP + "}", ["malformed request"]),
    ("body-5MB", queued(requestedBy=FIVE_MB), ["requestedBy"]),
]


def test_consumer_reports_every_bad_message_and_carries_out_only_the_good_one(watch, moto, queue, ec2):
    box = launch(ec2, {"AUTOSTOP_ENABLE": "true", "TIME": "9~18"}, state="stopped")[0]
    good = launch(ec2, {"AUTOSTOP_ENABLE": "true", "TIME": "9~18"}, state="stopped")[0]
    records, expected = [], {}
    for case_id, body, named in CONSUMER_BODIES:
        text = body if isinstance(body, str) else json.dumps(body).replace("BOX", box)
        records.append({"messageId": case_id, "receiptHandle": case_id, "body": text, "eventSource": "aws:sqs", "awsRegion": REGION})
        expected[case_id] = named
    good_body = queued(requestId="good-1", target={"instanceIds": [good]})
    records.append({"messageId": "good", "receiptHandle": "good", "body": json.dumps(good_body), "eventSource": "aws:sqs", "awsRegion": REGION})
    count("queue message", len(CONSUMER_BODIES))

    answer = invoke(watch, "sqs-consumer", {"Records": records})

    failed = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
    assert sorted(failed) == sorted(expected), f"not reported: {set(expected) - set(failed)}; wrongly: {set(failed) - set(expected)}"
    # Nothing was done for the bad ones: the box is still stopped, untagged, and no outcome exists.
    assert states(ec2)[box] == "stopped"
    tags = {t["Key"] for t in ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [box]}])["Tags"]}
    assert "AUTOSTOP_HOLD_UNTIL" not in tags
    keys = [o["Key"] for o in moto.client("s3").list_objects_v2(Bucket=OUTCOMES_BUCKET).get("Contents", [])]
    assert [k for k in keys if not k.startswith("requests/good-1.")] == [], keys
    assert "requests/good-1.json" in keys
    # The control: the good message in the same batch was carried out.
    assert states(ec2)[good] == "running"


def test_consumer_failure_reasons_name_the_field(watch, queue, ec2):
    """batchItemFailures carries only ids; why each message failed is in the consumer's JSON log
    (docs/requests.md: one line per failure with `message_id` and the reason), read here from the binary's log."""
    box = launch(ec2, {"AUTOSTOP_ENABLE": "true", "TIME": "9~18"}, state="stopped")[0]
    records = []
    marker = uuid.uuid4().hex[:8]
    for case_id, body, _ in CONSUMER_BODIES:
        text = body if isinstance(body, str) else json.dumps(body).replace("BOX", box)
        records.append({"messageId": f"{marker}-{case_id}", "body": text, "eventSource": "aws:sqs", "awsRegion": REGION})
    invoke(watch, "sqs-consumer", {"Records": records})
    lines = [json.loads(l) for l in watch.log_path.read_text(errors="replace").splitlines() if l.startswith("{") and marker in l]
    reasons = {l["message_id"].split("-", 1)[1]: l["reason"] for l in lines if "message_id" in l and "reason" in l}
    for case_id, _, named in CONSUMER_BODIES:
        assert case_id in reasons, f"{case_id}: no failure logged"
        for name in named:
            assert name in reasons[case_id], f"{case_id}: `{name}` not in: {reasons[case_id][:300]}"
        assert len(reasons[case_id]) <= MAX_MESSAGE, f"{case_id}: reason of {len(reasons[case_id])} characters"


CONSUMER_BATCHES = [
    ("records-not-a-list", b'{"Records": 5}', ["Records"]),
    ("no-records", b"{}", ["Records"]),
    ("record-body-number", b'{"Records": [{"messageId": "m1", "body": 5}]}', ["Records[0].body"]),
    ("deep-100k", b'{"Records": ' + deep_array(DEEP) + b"}", ["recursion limit"]),
    ("not-an-object", b"[]", []),
]


def test_consumer_unreadable_batch_fails_with_a_stable_type(watch):
    """Not an SQS batch at all (SQS never sends one; a hand-made invoke might): the invocation
    fails as a whole with InvalidEvent, so the event source retries the batch."""

    def check(case):
        _, payload, named = case
        count("queue batch")
        expect_error(watch, "sqs-consumer", payload, "InvalidEvent", "event", *named)

    each_case(CONSUMER_BATCHES, check)


# =============================================================================================


def test_zz_case_count():
    """Totals for RELIABILITY.md (printed with -s; also written next to the logs)."""
    total = sum(CASES.values())
    summary = {"total": total, **CASES}
    print(f"\nbad inputs tried against the binaries: {json.dumps(summary)}")
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "bad-input-cases.json").write_text(json.dumps(summary, indent=2))
    assert total > 0
