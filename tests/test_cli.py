"""The `lightsout` command line as a user runs it: the built binary, against moto for `plan`.

What it prints is asserted on (JSON where there is JSON), and moto's state is read with boto3
before and after: a plan must never change anything.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness import DUMMY_CREDENTIALS, REGION, ROOT, auto_scaling_group, free_port, launch, states

# Wednesday 2026-11-25 20:00 in Seoul (12:00 in Berlin).
EVENING = "2026-11-25T20:00:00+09:00"
MORNING = "2026-11-25T10:00:00+09:00"
ALB_INPUT = str(ROOT / "events" / "alb-input.json")


@pytest.fixture(scope="module")
def cli() -> Path:
    """The debug binary that `cargo build --workspace` made (built here if it is missing)."""
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    path = Path(json.loads(meta.stdout)["target_directory"]) / "debug" / "lightsout"
    if not path.exists():
        subprocess.run(["cargo", "build", "-p", "lightsout"], cwd=ROOT, check=True, timeout=1800)
    return path


def run(cli: Path, *args: str, endpoint: str | None = None, env: dict[str, str] | None = None):
    """Runs the CLI with only the settings given: no AWS profile or lightsout setting leaks in."""
    ours = ("AWS_", "SCHEDULE_TIMEZONE", "SKIP_DATES", "REGIONS", "PAGE_SIZE")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    environment.update(DUMMY_CREDENTIALS)
    # The SDK would otherwise probe the instance metadata service.
    environment["AWS_EC2_METADATA_DISABLED"] = "true"
    environment["AWS_REGION"] = REGION
    if endpoint:
        environment["AWS_ENDPOINT_URL"] = endpoint
    environment.update(env or {})
    return subprocess.run([str(cli), *args], env=environment, capture_output=True, text=True, timeout=300)


def managed(**tags: str) -> dict[str, str]:
    return {"AUTOSTOP_ENABLE": "true", **tags}


def by_id(plan: dict) -> dict[str, dict]:
    return {row["instanceId"]: row for row in plan["instances"]}


def test_plan_decides_every_instance_and_changes_nothing(cli, moto, ec2):
    office = launch(ec2, managed(Name="web-dev", DAY="월-금", TIME="9~18"))[0]
    night = launch(ec2, managed(Name="야간배치", TIME="18~23"), state="stopped")[0]
    berlin = launch(ec2, managed(DAY="mon-fri", TIME="9~18", TZ="Europe/Berlin"))[0]
    stop_only = launch(ec2, managed(TIME="18~23", AUTOSTOP_MODE="stop-only"), state="stopped")[0]
    hibernate = launch(ec2, managed(TIME="9~18", AUTOSTOP_HIBERNATE="true"))[0]
    bad = launch(ec2, managed(TIME="9 to 6"))[0]
    unmanaged = launch(ec2, {"TIME": "9~18"})[0]
    asg = auto_scaling_group(moto, ec2, "web", managed(TIME="9~18"))
    before = states(ec2)
    assert len(before) == 7 + len(asg)

    # PAGE_SIZE=5 with one reservation per launch: DescribeInstances is paged (moto pages by
    # reservation), so the plan covers more than one page.
    result = run(cli, "plan", "--json", "--at", EVENING, endpoint=moto.url, env={"PAGE_SIZE": "5"})

    assert result.returncode == 1, result.stderr  # one instance's tags cannot be read
    plan = json.loads(result.stdout)
    rows = by_id(plan)
    assert set(rows) == {office, night, berlin, stop_only, hibernate, bad, *asg}, "unmanaged never shown"
    assert unmanaged not in rows
    got = {i: (r["state"], r["wanted"], r["action"], r["hibernate"]) for i, r in rows.items()}
    assert got[office] == ("running", "stopped", "stop", False)
    assert got[night] == ("stopped", "running", "start", False)
    assert got[berlin] == ("running", "running", "leave", False)
    assert got[stop_only] == ("stopped", "running", "leave", False)
    assert got[hibernate] == ("running", "stopped", "stop", True)
    assert got[bad] == ("running", None, "skip", False)
    assert all(got[i] == ("running", None, "skip", False) for i in asg)
    assert rows[office]["name"] == "web-dev" and rows[night]["name"] == "야간배치"
    assert rows[office]["reason"] == (
        "outside schedule mon-fri 09:00–18:59 (Asia/Seoul); now Wed 2026-11-25 20:00"
    )
    assert rows[stop_only]["reason"].endswith("not started: AUTOSTOP_MODE=stop-only")
    assert rows[bad]["reason"].startswith("TIME: `9 to 6` is not a window")
    assert rows[asg[0]]["reason"].startswith("member of Auto Scaling group web")
    assert plan["summary"] == {"start": 1, "stop": 2, "leave": 2, "skip": 1 + len(asg)}
    assert plan["decisionTime"] == "2026-11-25T11:00:00Z"
    assert plan["regions"] == [REGION] and plan["failed"] == []
    assert f"{bad} ({REGION}): tags cannot be read" in result.stderr

    assert states(ec2) == before, "a plan changed instance states"


def test_plan_agrees_with_the_functions_dry_run(cli, moto, ec2, watch):
    """The same instances, the same moment: `lightsout plan` and ec2-autostop's dry run must list
    the same starts, stops (with hibernation) and skips, with the same reasons."""
    launch(ec2, managed(DAY="월-금", TIME="9~18"))
    launch(ec2, managed(TIME="18~23"), count=3, state="stopped")
    launch(ec2, managed(TIME="9~18", AUTOSTOP_HIBERNATE="true"), count=2)
    launch(ec2, managed(TIME="9~18", AUTOSTOP_MODE="start-only"))
    launch(ec2, managed(TIME="9~18", AUTOSTOP_SKIP_DATES="2026-11-25"), state="stopped")
    launch(ec2, managed(TIME="late"))
    launch(ec2, managed(DAY="mon-fri", TIME="9~18", TZ="Europe/Berlin"), state="stopped")
    before = states(ec2)

    result = run(cli, "plan", "--json", "--at", EVENING, endpoint=moto.url)
    report = watch.invoke("ec2-autostop", {"now": EVENING, "dryRun": True})

    plan = by_id(json.loads(result.stdout))
    assert report["dryRun"] is True
    planned = {
        "start": {i: r["reason"] for i, r in plan.items() if r["action"] == "start"},
        "stop": {i: (r["reason"], r["hibernate"]) for i, r in plan.items() if r["action"] == "stop"},
        "skip": {i: r["reason"] for i, r in plan.items() if r["action"] == "skip"},
    }
    done = {
        "start": {a["instanceId"]: a["reason"] for a in report["started"]},
        "stop": {a["instanceId"]: (a["reason"], a["hibernated"]) for a in report["stopped"]},
        "skip": {s["instanceId"]: s["reason"] for s in report["skipped"]},
    }
    assert planned == done
    assert (len(done["start"]), len(done["stop"]), len(done["skip"])) == (4, 3, 1)
    assert sum(r["action"] == "leave" for r in plan.values()) == report["unchanged"] == 2
    assert states(ec2) == before


def test_plan_table_in_two_regions(cli, moto, ec2):
    seoul = launch(ec2, managed(Name="web-dev", DAY="월-금", TIME="9~18"), state="stopped")[0]
    virginia = launch(moto.client("ec2", "us-east-1"), managed(TIME="9~18", TZ="America/New_York"))[0]

    result = run(cli, "plan", "--region", f"{REGION},us-east-1", "--at", MORNING, endpoint=moto.url)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f"Plan for Wed 2026-11-25 10:00 Asia/Seoul (2026-11-25T01:00:00Z), {REGION}, us-east-1: "
        "nothing is changed."
    )
    assert lines[2].split() == ["INSTANCE", "REGION", "NAME", "STATE", "WANTED", "ACTION", "NEXT", "REASON"]
    row = {line.split()[0]: line.split()[:11] for line in lines[3:5]}
    # Started now; stopped at the end of its window (19:00), the stack's default schedule's run then.
    assert row[seoul] == [seoul, REGION, "web-dev", "stopped", "running", "start", "stop", "Wed", "11-25", "19:00", "KST"]
    # 20:00 on Tuesday in New York: outside 9~18 there, and it is running.
    assert row[virginia] == [virginia, "us-east-1", "-", "running", "stopped", "stop", "start", "Wed", "11-25", "09:00", "EST"]
    assert lines[-2] == "1 to start, 1 to stop, 0 left as they are, 0 skipped."
    assert lines[-1].startswith("NEXT: the run of `cron(0/15 * * * ? *)` (Asia/Seoul)")
    # Under an hourly schedule, a window written in minutes acts at the next full hour.
    launch(ec2, managed(Name="late", TIME="10:30~18:00"))
    hourly = run(cli, "plan", "--at", MORNING, "--schedule", "cron(0 * * * ? *)", "--json", endpoint=moto.url)
    [late] = [i for i in json.loads(hourly.stdout)["instances"] if i["name"] == "late"]
    assert late["action"] == "stop" and late["next"] == {"action": "start", "at": "2026-11-25T02:00:00Z"}, late
    assert states(ec2)[seoul] == "stopped"
    assert states(moto.client("ec2", "us-east-1"))[virginia] == "running"


def test_plan_aws_failure_and_usage_errors(cli, moto):
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = run(cli, "plan", "--at", EVENING, endpoint=closed)
    assert result.returncode == 3
    assert f"lightsout: {REGION}: could not list instances: DispatchFailure" in result.stderr
    assert "No managed instances" in result.stdout

    bad_zone = run(cli, "plan", endpoint=moto.url, env={"SCHEDULE_TIMEZONE": "Mars/Olympus"})
    assert bad_zone.returncode == 2
    assert "setting SCHEDULE_TIMEZONE: `Mars/Olympus` is invalid" in bad_zone.stderr
    bad_time = run(cli, "plan", "--at", "tonight", endpoint=moto.url)
    assert bad_time.returncode == 2 and "is not an RFC 3339 time" in bad_time.stderr


def test_alb_plan_of_the_sample_input(cli):
    evening = run(cli, "alb", "plan", "--input", ALB_INPUT, "--at", EVENING, "--json")
    assert evening.returncode == 0, evening.stderr
    plan = json.loads(evening.stdout)
    assert plan["albName"] == "dev-alb" and plan["shouldExist"] is False
    assert [(c["albExists"], c["nextStep"], c["states"]) for c in plan["cases"]] == [
        (True, "Delete", ["Delete Route 53 Record", "Delete ALB"]),
        (False, "Nothing", ["No Action Required"]),
    ]
    assert plan["nextCreate"] == "2026-11-26T00:00:00Z"

    morning = run(cli, "alb", "plan", "--input", ALB_INPUT, "--at", MORNING, "--ascii")
    assert morning.returncode == 0, morning.stderr
    assert morning.stdout.startswith(
        "ALB dev-alb (dev.example.com) at Wed 2026-11-25 10:00 Asia/Seoul: it should exist.\n"
    )
    assert "  if no ALB named dev-alb: Create ALB → Create Route 53 Record\n" in morning.stdout
    assert "Next delete: Wed 2026-11-25 19:00 (in 9 h)\n" in morning.stdout


def test_alb_plan_finds_every_alb_tagged_awake_or_asleep_and_changes_nothing(cli, moto):
    """Without --input: the ALBs tagged AUTOSTOP_ENABLE=true (in the forms an ALB accepts), and a
    sleeping one from its snapshot, each decided for its own zone; one with unreadable tags left
    out by name, an untagged one not touched or listed. Nothing changes in moto."""
    ec2, elb, s3 = moto.client("ec2"), moto.client("elbv2"), moto.client("s3")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "c"))
    ]

    def make(name: str, tags: dict[str, str]) -> None:
        elb.create_load_balancer(Name=name, Subnets=subnets, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])

    make("cli-seoul", managed(DAY="mon-fri", TIME="9-18"))
    make("cli-berlin", managed(TIME="9-12 13-18", TZ="Europe/Berlin"))
    make("cli-bad", managed(TIME="9-25"))
    make("cli-untagged", {"Name": "prod"})
    bucket = "cli-alb-snapshots"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    snapshot = {
        "version": 1, "albName": "cli-asleep", "takenAt": "2026-11-24T19:00:00+09:00",
        "albArn": f"arn:aws:elasticloadbalancing:{REGION}:123456789012:loadbalancer/app/cli-asleep/1",
        "scheme": "internal", "ipAddressType": "ipv4", "subnets": subnets, "listeners": [],
        "attributes": [], "tags": [{"key": "AUTOSTOP_ENABLE", "value": "true"}, {"key": "TIME", "value": "9-18"}],
    }
    key = "lightsout/alb-snapshots/cli-asleep.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(snapshot).encode())
    names = lambda: sorted(lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancers"])  # noqa: E731
    before = names()

    result = run(cli, "alb", "plan", "--bucket", bucket, "--at", EVENING, "--json", endpoint=moto.url)
    assert result.returncode == 1, result.stderr  # one ALB left out
    plan = json.loads(result.stdout)
    mine = {a["albName"]: a for a in plan["albs"] if a["albName"].startswith("cli-")}
    assert sorted(mine) == ["cli-asleep", "cli-berlin", "cli-seoul"], plan
    steps = {name: [c["nextStep"] for c in a["cases"]] for name, a in mine.items()}
    # 20:00 in Seoul is 12:00 in Berlin: Seoul's goes; Berlin's is inside its first window
    # (9-12 runs through 12:59), so it stays; the sleeping one sleeps on until 09:00 in Seoul.
    assert (mine["cli-seoul"]["found"], mine["cli-seoul"]["shouldExist"], steps["cli-seoul"]) == ("awake", False, ["Delete"])
    assert (mine["cli-berlin"]["found"], mine["cli-berlin"]["shouldExist"]) == ("awake", True), mine["cli-berlin"]
    assert steps["cli-berlin"] == ["Nothing"]  # no record tags: nothing to repair
    assert (mine["cli-asleep"]["found"], mine["cli-asleep"]["shouldExist"], steps["cli-asleep"]) == ("asleep", False, ["Nothing"])
    assert mine["cli-asleep"]["nextCreate"] == "2026-11-26T00:00:00Z"
    skipped = {s["albName"]: s["reason"] for s in plan["skipped"]}
    assert skipped["cli-bad"].startswith("tags: TIME: `25` in `9-25` is not a time"), skipped
    assert "cli-untagged" not in mine and "cli-untagged" not in skipped
    assert "lightsout: cli-bad left out: tags: TIME" in result.stderr

    table = run(cli, "alb", "plan", "--bucket", bucket, "--at", EVENING, endpoint=moto.url)
    assert "cli-seoul" in table.stdout and "Delete Route 53 Record → Delete ALB" in table.stdout, table.stdout
    assert "left out: cli-bad: tags: TIME" in table.stdout
    assert names() == before
    assert json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == snapshot

    usage = run(cli, "alb", "plan", endpoint=moto.url)
    assert usage.returncode == 2 and "give --bucket" in usage.stderr


def test_alb_plan_refuses_bad_input(cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"albName": "dev alb", "startTime": 9, "endTime": 18}))
    result = run(cli, "alb", "plan", "--input", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith("lightsout: InvalidInput: invalid input: ")
    assert "albName" in result.stderr and "subnets" in result.stderr
    missing = run(cli, "alb", "plan", "--input", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_check(cli):
    ok = run(cli, "check", "월-금", "9~18", "--at", EVENING, "--ascii")
    assert ok.returncode == 0, ok.stderr
    assert "Next start: Thu 2026-11-26 09:00 (in 13 h)" in ok.stdout
    assert "수  11-25  .........##########.....\n" + " " * 31 + "^ now 20:00\n" in ok.stdout
    tags = run(cli, "check", "--tags", "DAY=mon,wed,TIME=9~12,13~18,TZ=UTC", "--at", "2026-11-25T12:00:00Z")
    assert tags.returncode == 0, tags.stderr
    assert "It runs Monday and Wednesday, 09:00–12:59, 13:00–18:59, UTC time" in tags.stdout
    bad = run(cli, "check", "someday", "9~18")
    assert bad.returncode == 1
    assert bad.stderr.startswith("lightsout: tags invalid: DAY: `someday` is not a day")
    usage = run(cli, "check", "mon", "9~18", "--tags", "DAY=tue")
    assert usage.returncode == 2 and "DAY is given twice" in usage.stderr
