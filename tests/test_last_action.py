"""The `lightsout:last-action` tag, read back from moto with boto3: what ec2-autostop and the
request consumer write after acting, and the start that did not hold.

moto cannot make a start fail after the call (EC2 stops an instance whose encrypted volume's KMS
key it may not use a few seconds after StartInstances succeeded): the tests stop the instance
themselves after the function started it, which is what the function sees in either case. moto then
gives the state reason of a user's stop (`Client.UserInitiatedShutdown`), not EC2's
`Client.InternalError`; the KMS hint for the latter is covered by the crates' unit tests. moto does
not evaluate IAM policies either, so the template's CreateTags conditions are checked by
tests/test_permissions.py and cfn-lint, not here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from harness import launch, states
from test_requests import deliver, post, queues  # noqa: F401 - `queues` is a fixture used below

SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")
FN = "ec2-autostop"
KEY = "lightsout:last-action"


def run(watch, when: str, **extra) -> dict:
    return watch.invoke(FN, {"now": when, **extra})


def managed(**tags: str) -> dict[str, str]:
    return {"AUTOSTOP_ENABLE": "true", **tags}


def last_action(ec2, ids: list[str]) -> dict[str, str | None]:
    """Instance id → its last-action tag (None when absent), read independently of the function."""
    out: dict[str, str | None] = {}
    for reservation in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
        for instance in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
            out[instance["InstanceId"]] = tags.get(KEY)
    return out


def test_schedule_run_tags_what_it_did_in_each_instance_zone(watch, ec2):
    office = launch(ec2, managed(TIME="9~18"), count=3, state="stopped")
    berlin = launch(ec2, managed(TIME="9~18", TZ="Europe/Berlin"))[0]  # 02:00 there: stopped
    sleeper = launch(ec2, managed(TIME="19~23", AUTOSTOP_HIBERNATE="true"))[0]
    already = launch(ec2, managed(TIME="9~18"))[0]  # running as wanted: not acted on
    unmanaged = launch(ec2, {"TIME": "19~23"})[0]
    report = run(watch, "2026-11-25T10:00:00+09:00")
    assert report["failed"] == [] and report["tagFailed"] == [] and report["startDidNotHold"] == []
    assert len(report["started"]) == 3 and len(report["stopped"]) == 2
    assert last_action(ec2, office + [berlin, sleeper, already, unmanaged]) == {
        **{i: "started 2026-11-25T10:00+09:00 schedule" for i in office},
        berlin: "stopped 2026-11-25T02:00+01:00 schedule",
        sleeper: "hibernated 2026-11-25T10:00+09:00 schedule",
        already: None,
        unmanaged: None,
    }
    # The evening run overwrites the morning's tag.
    run(watch, "2026-11-25T19:00:00+09:00")
    assert set(last_action(ec2, office).values()) == {"stopped 2026-11-25T19:00+09:00 schedule"}


def test_dry_run_writes_no_tag(watch, ec2):
    box = launch(ec2, managed(TIME="9~18"), state="stopped")[0]
    report = run(watch, "2026-11-25T10:00:00+09:00", dryRun=True)
    assert [a["instanceId"] for a in report["started"]] == [box]
    assert states(ec2, [box])[box] == "stopped"
    assert last_action(ec2, [box]) == {box: None}


def test_start_that_did_not_hold_is_reported_and_not_repeated_until_the_next_window(watch, ec2):
    box = launch(ec2, managed(TIME="9~18", Name="kms-box"), state="stopped")[0]
    control = launch(ec2, managed(TIME="9~18"), state="stopped")[0]
    run(watch, "2026-11-25T09:00:00+09:00")
    assert states(ec2, [box, control]) == {box: "running", control: "running"}
    # What EC2 does to a start it cannot carry out (see the module docstring).
    ec2.stop_instances(InstanceIds=[box])

    for hour in (10, 11):
        report = run(watch, f"2026-11-25T{hour}:00:00+09:00")
        assert report["started"] == [] and report["failed"] == []
        assert [n["instanceId"] for n in report["startDidNotHold"]] == [box]
        found = report["startDidNotHold"][0]
        assert found["name"] == "kms-box"
        assert found["startedAt"] == "2026-11-25T09:00+09:00"
        assert found["startedBy"] == "schedule"
        # moto's reason for a stop by StopInstances, as DescribeInstances gives it.
        assert found["stateReason"] == "Client.UserInitiatedShutdown: User initiated shutdown"
        assert found["hint"].startswith("stopped by a StopInstances call")
        assert states(ec2, [box])[box] == "stopped", "not started again while it stays due"
        assert last_action(ec2, [box])[box] == "started 2026-11-25T09:00+09:00 schedule"

    # The window ends (nothing to stop), and the next one starts it as usual.
    report = run(watch, "2026-11-25T19:00:00+09:00")
    assert report["startDidNotHold"] == [] and [a["instanceId"] for a in report["stopped"]] == [control]
    report = run(watch, "2026-11-26T09:00:00+09:00")
    assert sorted(a["instanceId"] for a in report["started"]) == sorted([box, control])
    assert report["startDidNotHold"] == []
    assert last_action(ec2, [box])[box] == "started 2026-11-26T09:00+09:00 schedule"


def test_request_actions_are_tagged_with_the_request_id(watch, moto, ec2, queues):  # noqa: F811
    seoul = launch(ec2, managed(TIME="9~18"), state="stopped")[0]
    berlin = launch(ec2, managed(TIME="9~18", TZ="Europe/Berlin"), state="stopped")[0]
    before = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    until = (before + timedelta(hours=3)).isoformat()
    code, answer, _ = post(watch, {"action": "wake", "instanceIds": [seoul, berlin], "until": until},
                           **{"Idempotency-Key": "wake-tag-1"})
    assert code == 200
    deliver(watch, moto, queues["main"])
    assert states(ec2, [seoul, berlin]) == {seoul: "running", berlin: "running"}
    after = datetime.now(timezone.utc)
    tags = last_action(ec2, [seoul, berlin])
    for instance, zone in ((seoul, SEOUL), (berlin, BERLIN)):
        match = re.fullmatch(r"started (\S+) request wake-tag-1", tags[instance] or "")
        assert match, tags[instance]
        at = datetime.fromisoformat(match.group(1))
        assert before <= at <= after, (at, before, after)
        assert at.utcoffset() == datetime.now(zone).utcoffset(), "in the instance's own zone"

    code, _, _ = post(watch, {"action": "sleep", "instanceIds": [seoul]}, **{"Idempotency-Key": "sleep-tag-1"})
    assert code == 200
    deliver(watch, moto, queues["main"])
    assert states(ec2, [seoul])[seoul] == "stopped"
    assert re.fullmatch(r"stopped \S+\+09:00 request sleep-tag-1", last_action(ec2, [seoul])[seoul] or "")


def test_woken_instance_found_stopped_is_reported_by_the_schedule_run(watch, moto, ec2, queues):  # noqa: F811
    """A wake request starts it (held for three hours), it stops again: the hourly run reports the
    request's start and does not start it again while the hold lasts."""
    box = launch(ec2, managed(TIME="9~18"), state="stopped")[0]
    until = (datetime.now(timezone.utc) + timedelta(hours=3)).replace(microsecond=0).isoformat()
    code, _, _ = post(watch, {"action": "wake", "instanceIds": [box], "until": until}, **{"Idempotency-Key": "wake-kms-1"})
    assert code == 200
    deliver(watch, moto, queues["main"])
    assert states(ec2, [box])[box] == "running"
    ec2.stop_instances(InstanceIds=[box])
    now = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    report = run(watch, now)
    assert report["started"] == []
    assert [(n["instanceId"], n["startedBy"]) for n in report["startDidNotHold"]] == [(box, "request wake-kms-1")]
    assert states(ec2, [box])[box] == "stopped"
