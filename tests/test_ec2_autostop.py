"""Black-box tests of `ec2-autostop`: the real binary, invoked through the Lambda Invoke API that
`cargo lambda watch` serves, against moto; outcomes are read from moto with boto3.

Where moto differs from AWS the tests avoid depending on it:
- state changes are instant, so a stop is asserted as `stopped`, never `stopping`;
- `Hibernate=true` is always accepted, so the refused-hibernation fallback is covered by the
  crate's unit tests (a fake EC2), not here;
- DescribeInstances pages by reservation, so paging is exercised by launching in several calls.
"""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from harness import ROOT, FunctionError, auto_scaling_group, launch, states

SEOUL = ZoneInfo("Asia/Seoul")
BERLIN = ZoneInfo("Europe/Berlin")
FN = "ec2-autostop"


def at(tz: ZoneInfo, *args: int) -> str:
    """RFC 3339 for a wall-clock time in `tz`."""
    return datetime(*args, tzinfo=tz).isoformat()


def run(watch, when: str, **extra) -> dict:
    return watch.invoke(FN, {"now": when, **extra})


def managed(**tags: str) -> dict[str, str]:
    return {"AUTOSTOP_ENABLE": "true", **tags}


def test_working_week_in_two_zones_hourly(watch, ec2):
    """A week that contains Europe's spring-forward night (Sun 2026-03-29), run every hour.

    Expected states come from independent rules written here with Python's zoneinfo."""
    office = launch(ec2, managed(DAY="월-금", TIME="9~18"), state="stopped")[0]
    berlin = launch(ec2, managed(DAY="mon-fri", TIME="09:30~18:00", TZ="Europe/Berlin"), state="stopped")[0]
    weekend = launch(ec2, {"AUTOSTOP_ENABLE": "True", "DAY": "weekends", "TIME": "10~16"})[0]
    dst_night = launch(ec2, managed(DAY="일", TIME="1~3", TZ="Europe/Berlin"), state="stopped")[0]

    def expected(utc: datetime) -> dict[str, str]:
        s, b = utc.astimezone(SEOUL), utc.astimezone(BERLIN)
        on = {
            office: s.weekday() < 5 and 9 <= s.hour <= 18,
            berlin: b.weekday() < 5 and (b.hour, b.minute) >= (9, 30) and b.hour < 18,
            weekend: s.weekday() >= 5 and 10 <= s.hour <= 16,
            dst_night: b.weekday() == 6 and 1 <= b.hour <= 3,
        }
        return {i: "running" if v else "stopped" for i, v in on.items()}

    start = datetime(2026, 3, 23, 0, 0, tzinfo=SEOUL).astimezone(timezone.utc)  # Monday
    actions = 0
    for hour in range(7 * 24 + 1):
        now = start + timedelta(hours=hour)
        report = run(watch, now.isoformat())
        actions += len(report["started"]) + len(report["stopped"])
        assert states(ec2, list(expected(now))) == expected(now), f"at {now.astimezone(SEOUL)}"
        assert report["failed"] == [] and report["skipped"] == []
    # office: 5 starts + 5 stops; berlin: 5 + 5; weekend: stop Mon 00:00, then 2 starts + 2 stops;
    # dst_night: 1 start + 1 stop on the short night.
    assert actions == 10 + 10 + 5 + 2


def test_overnight_window_belongs_to_start_day(watch, ec2):
    night = launch(ec2, managed(DAY="금", TIME="22~2"), state="stopped")[0]
    timeline = [
        ((2026, 11, 27, 21, 0), "stopped"),  # Fri
        ((2026, 11, 27, 22, 0), "running"),
        ((2026, 11, 28, 0, 0), "running"),  # Sat, still Friday's window
        ((2026, 11, 28, 2, 0), "running"),
        ((2026, 11, 28, 3, 0), "stopped"),
        ((2026, 11, 28, 22, 0), "stopped"),  # Sat is not listed
        ((2026, 11, 27, 1, 0), "stopped"),  # Thu's window is not listed either
    ]
    for when, state in timeline:
        run(watch, at(SEOUL, *when))
        assert states(ec2, [night])[night] == state, when


def test_minute_windows_and_several_windows(watch, ec2):
    split = launch(ec2, managed(TIME="09:30~12:00, 13:00~18:00"), state="stopped")[0]
    for when, state in [
        ((2026, 11, 25, 9, 29), "stopped"),
        ((2026, 11, 25, 9, 30), "running"),
        ((2026, 11, 25, 12, 0), "stopped"),
        ((2026, 11, 25, 13, 0), "running"),
        ((2026, 11, 25, 18, 0), "stopped"),
    ]:
        run(watch, at(SEOUL, *when))
        assert states(ec2, [split])[split] == state, when


def test_hold_until_keeps_running_then_schedule_rules(watch, ec2):
    held = launch(ec2, managed(TIME="9~18", AUTOSTOP_HOLD_UNTIL="2026-11-25T23:00:00+09:00"))[0]
    plain = launch(ec2, managed(TIME="9~18"))[0]
    report = run(watch, at(SEOUL, 2026, 11, 25, 20, 0))
    assert states(ec2) == {held: "running", plain: "stopped"}
    assert report["unchanged"] == 1
    run(watch, at(SEOUL, 2026, 11, 25, 23, 0))
    assert states(ec2)[held] == "stopped"
    # A held instance found stopped is started, whatever the schedule says.
    ec2.create_tags(Resources=[held], Tags=[{"Key": "AUTOSTOP_HOLD_UNTIL", "Value": "2026-11-26T02:00:00+09:00"}])
    report = run(watch, at(SEOUL, 2026, 11, 26, 1, 0))
    assert states(ec2)[held] == "running"
    assert report["started"][0]["reason"].startswith("held running until 2026-11-26T02:00:00+09:00")


def test_skip_dates_on_the_tag(watch, ec2):
    xmas = launch(ec2, managed(TIME="9~18", AUTOSTOP_SKIP_DATES="2026-12-24, 2026-12-25"))[0]
    report = run(watch, at(SEOUL, 2026, 12, 25, 10, 0))
    assert states(ec2)[xmas] == "stopped"
    assert report["stopped"][0]["reason"] == "skip date 2026-12-25 (Asia/Seoul)"
    run(watch, at(SEOUL, 2026, 12, 26, 10, 0))
    assert states(ec2)[xmas] == "running"


def test_stack_wide_holidays_from_settings(watch_with, ec2):
    w = watch_with({"SKIP_DATES": "2027-01-01"})
    seoul = launch(ec2, managed(TIME="9~18"), state="stopped")[0]
    # 2027-01-01 10:00 in Los Angeles is already 01-02 in Seoul: holidays are local dates.
    la = launch(ec2, managed(TIME="0~23", TZ="America/Los_Angeles"))[0]
    report = run(w, at(SEOUL, 2027, 1, 1, 10, 0))
    assert states(ec2) == {seoul: "stopped", la: "running"}
    assert report["unchanged"] == 2
    run(w, at(SEOUL, 2027, 1, 1, 17, 0))  # 00:00 on 01-01 in Los Angeles
    assert states(ec2)[la] == "stopped"


def test_stop_only_and_start_only(watch, ec2):
    stop_only = launch(ec2, managed(TIME="9~18", AUTOSTOP_MODE="stop-only"), state="stopped")[0]
    start_only = launch(ec2, managed(TIME="9~18", AUTOSTOP_MODE="start-only"), state="stopped")[0]
    run(watch, at(SEOUL, 2026, 11, 25, 10, 0))
    assert states(ec2) == {stop_only: "stopped", start_only: "running"}
    ec2.start_instances(InstanceIds=[stop_only])
    run(watch, at(SEOUL, 2026, 11, 25, 20, 0))
    assert states(ec2) == {stop_only: "stopped", start_only: "running"}


def test_auto_scaling_members_untouched(watch, moto, ec2):
    members = auto_scaling_group(moto, ec2, "web-asg", {"AUTOSTOP_ENABLE": "true", "TIME": "9~18"}, size=2)
    assert len(members) == 2
    report = run(watch, at(SEOUL, 2026, 11, 25, 22, 0))
    assert set(states(ec2).values()) == {"running"}
    assert sorted(s["instanceId"] for s in report["skipped"]) == sorted(members)
    assert all("Auto Scaling group web-asg" in s["reason"] for s in report["skipped"])


def test_untagged_and_disabled_untouched(watch, ec2):
    untagged = launch(ec2, {})[0]
    disabled = launch(ec2, {"AUTOSTOP_ENABLE": "false", "TIME": "9~18"})[0]
    other = launch(ec2, {"AUTOSTOP_ENABLE": "yes", "TIME": "9~18"}, state="stopped")[0]
    no_tag = launch(ec2, {"TIME": "9~18"}, state="stopped")[0]
    for hour in (3, 10, 22):
        report = run(watch, at(SEOUL, 2026, 11, 25, hour, 0))
        assert report["started"] == report["stopped"] == report["skipped"] == []
        assert report["unchanged"] == 0
    assert states(ec2) == {untagged: "running", disabled: "running", other: "stopped", no_tag: "stopped"}


def test_dry_run_changes_nothing(watch, watch_with, ec2):
    to_stop = launch(ec2, managed(TIME="9~18"))[0]
    to_start = launch(ec2, managed(TIME="19~23"), state="stopped")[0]
    report = run(watch, at(SEOUL, 2026, 11, 25, 20, 0), dryRun=True)
    assert report["dryRun"] is True
    assert [a["instanceId"] for a in report["stopped"]] == [to_stop]
    assert [a["instanceId"] for a in report["started"]] == [to_start]
    assert states(ec2) == {to_stop: "running", to_start: "stopped"}
    # The same through the function's DRY_RUN setting, and an event can't be more daring than it.
    w = watch_with({"DRY_RUN": "true"})
    report = run(w, at(SEOUL, 2026, 11, 25, 20, 0))
    assert report["dryRun"] is True and len(report["stopped"]) == 1
    assert states(ec2) == {to_stop: "running", to_start: "stopped"}
    # An explicit dryRun=false in the event overrides the setting.
    run(w, at(SEOUL, 2026, 11, 25, 20, 0), dryRun=False)
    assert states(ec2) == {to_stop: "stopped", to_start: "running"}


def test_more_instances_than_one_page(watch, ec2):
    """The session's watch uses PAGE_SIZE=5 and moto pages by reservation: 12 launches of 3."""
    ids = [i for _ in range(12) for i in launch(ec2, managed(TIME="9~18"), count=3)]
    first_page = ec2.describe_instances(MaxResults=5)
    assert "NextToken" in first_page, "moto no longer pages: this test would not exercise paging"
    report = run(watch, at(SEOUL, 2026, 11, 25, 20, 0))
    assert len(report["stopped"]) == 36
    assert set(states(ec2, ids).values()) == {"stopped"}


def test_second_run_at_same_time_changes_nothing(watch, ec2):
    launch(ec2, managed(TIME="9~18"), count=3)
    launch(ec2, managed(TIME="19~23"), count=2, state="stopped")
    first = run(watch, at(SEOUL, 2026, 11, 25, 20, 0))
    assert len(first["stopped"]) == 3 and len(first["started"]) == 2
    before = states(ec2)
    second = run(watch, at(SEOUL, 2026, 11, 25, 20, 0))
    assert second["started"] == second["stopped"] == []
    assert second["unchanged"] == 5
    assert states(ec2) == before


def test_bad_tags_reported_not_fatal(watch, ec2):
    bad = {
        "time": launch(ec2, managed(TIME="nine to six"))[0],
        "missing": launch(ec2, managed(DAY="mon-fri"))[0],
        "day": launch(ec2, managed(TIME="9~18", DAY="someday"))[0],
        "tz": launch(ec2, managed(TIME="9~18", TZ="Mars/Olympus"))[0],
        "hold": launch(ec2, managed(TIME="9~18", AUTOSTOP_HOLD_UNTIL="tonight"))[0],
    }
    good = launch(ec2, managed(TIME="9~18"))[0]
    report = run(watch, at(SEOUL, 2026, 11, 25, 20, 0))
    reasons = {s["instanceId"]: s["reason"] for s in report["skipped"]}
    assert reasons[bad["time"]].startswith("TIME: `nine to six` is not a window")
    assert reasons[bad["missing"]].startswith("TIME tag is missing")
    assert reasons[bad["day"]].startswith("DAY: `someday` is not a day")
    assert reasons[bad["tz"]].startswith("TZ: `Mars/Olympus` is not an IANA time zone")
    assert reasons[bad["hold"]].startswith("AUTOSTOP_HOLD_UNTIL: `tonight`")
    current = states(ec2)
    assert all(current[i] == "running" for i in bad.values())
    assert current[good] == "stopped"


def test_hibernate_tag_stops_with_hibernation(watch, ec2):
    sleeper = launch(ec2, managed(TIME="9~18", AUTOSTOP_HIBERNATE="true"))[0]
    report = run(watch, at(SEOUL, 2026, 11, 25, 20, 0))
    assert states(ec2)[sleeper] == "stopped"
    assert report["stopped"][0]["hibernated"] is True


def test_regions_setting_covers_every_region(watch_with, moto):
    w = watch_with({"REGIONS": "ap-northeast-2,us-east-1"})
    seoul, virginia = moto.client("ec2", "ap-northeast-2"), moto.client("ec2", "us-east-1")
    a = launch(seoul, managed(TIME="9~18"))[0]
    b = launch(virginia, managed(TIME="9~18", TZ="America/New_York"))[0]
    report = run(w, at(SEOUL, 2026, 11, 25, 20, 0))  # 06:00 in New York
    assert report["regions"] == ["ap-northeast-2", "us-east-1"]
    assert states(seoul)[a] == "stopped" and states(virginia)[b] == "stopped"
    assert {(s["instanceId"], s["region"]) for s in report["stopped"]} == {(a, "ap-northeast-2"), (b, "us-east-1")}


def test_scheduled_event_time_is_the_decision_time(watch, ec2):
    """EventBridge's `time` wins over `now` and the clock: a late run decides for its slot."""
    office = launch(ec2, managed(TIME="9~18"))[0]
    report = watch.invoke(FN, {"source": "aws.events", "time": "2026-11-25T11:00:00Z", "now": "2026-11-25T01:00:00Z"})
    assert report["decisionTime"] == "2026-11-25T11:00:00Z"
    assert report["decisionTimeSource"] == "eventTime"
    assert states(ec2)[office] == "stopped"


def test_bad_event_and_bad_settings_fail_with_stable_types(watch, watch_with, ec2):
    office = launch(ec2, managed(TIME="9~18"))[0]
    with pytest.raises(FunctionError) as err:
        watch.invoke(FN, {"now": "yesterday evening"})
    assert err.value.error_type == "InvalidEvent"
    assert err.value.message.startswith("event field `now`: expected an RFC 3339 time")
    with pytest.raises(FunctionError) as err:
        watch.invoke(FN, {"now": at(SEOUL, 2026, 11, 25, 20, 0), "dryRun": "perhaps"})
    assert err.value.error_type == "InvalidEvent"
    w = watch_with({"SCHEDULE_TIMEZONE": "Seoul"})
    with pytest.raises(FunctionError) as err:
        run(w, at(SEOUL, 2026, 11, 25, 20, 0))
    assert err.value.error_type == "InvalidSettings"
    assert "SCHEDULE_TIMEZONE: `Seoul`" in err.value.message
    assert states(ec2)[office] == "running"


def test_sample_events_work_with_cargo_lambda_invoke(watch, ec2):
    """Every file in events/ is accepted by `cargo lambda invoke` (docs/testing.md, "Running it by hand locally")."""
    launch(ec2, managed(TIME="9~18"))
    files = sorted((ROOT / "events").glob("ec2-autostop-*.json"))
    assert len(files) >= 3
    cargo_lambda = str(Path(sys.executable).parent / "cargo-lambda")
    for path in files:
        out = subprocess.run(
            [cargo_lambda, "lambda", "invoke", FN, "--data-file", str(path), "--invoke-address", "127.0.0.1", "--invoke-port", str(watch.port), "--output-format", "json"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
        assert out.returncode == 0, f"{path.name}: {out.stderr}"
        report = json.loads(out.stdout)
        assert report["failed"] == [], path.name
