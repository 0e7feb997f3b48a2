"""Baseline: the EC2 start/stop job as it is commonly written in Python with boto3 — one
DescribeInstances call, then one StartInstances/StopInstances call per instance (or every page of
DescribeInstances with BASELINE_PAGED=1). The schedule rules
are the simple core of the tag contract (DAY list/range, TIME hours with inclusive end, TZ)."""

import datetime
import os
from zoneinfo import ZoneInfo

import boto3

ec2 = boto3.client("ec2")
DEFAULT_TZ = os.environ.get("SCHEDULE_TIMEZONE", "Asia/Seoul")
# BASELINE_PAGED=1: read every page of DescribeInstances (the same work as lightsout), still one
# start/stop call per instance. Unset: one page, as the job is commonly written.
PAGED = os.environ.get("BASELINE_PAGED") == "1"
NAMES = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
         "월": 0, "화": 1, "수": 2, "목": 3, "금": 4, "토": 5, "일": 6}


def days(value):
    if not value:
        return set(range(7))
    out = set()
    def day(name):
        name = name.strip().lower()
        return NAMES[name[:3] if name.isascii() else name[:1]]

    for part in value.replace(" ", ",").split(","):
        part = part.strip()
        if "-" in part:
            a, b = (day(p) for p in part.split("-"))
            d = a
            while True:
                out.add(d)
                if d == b:
                    break
                d = (d + 1) % 7
        elif part:
            out.add(day(part))
    return out


def should_run(tags, now):
    local = now.astimezone(ZoneInfo(tags.get("TZ", DEFAULT_TZ)))
    allowed = days(tags.get("DAY"))
    for window in tags["TIME"].split(","):
        start, end = (int(x) for x in window.replace("~", "-").split("-"))
        if start <= end:
            if local.weekday() in allowed and start <= local.hour <= end:
                return True
        elif (local.weekday() in allowed and local.hour >= start) or ((local.weekday() - 1) % 7 in allowed and local.hour <= end):
            return True
    return False


def handler(event, context):
    when = (event or {}).get("time") or (event or {}).get("now")
    now = datetime.datetime.fromisoformat(when.replace("Z", "+00:00")) if when else datetime.datetime.now(datetime.timezone.utc)
    filters = [{"Name": "tag:AUTOSTOP_ENABLE", "Values": ["true", "True", "TRUE"]}]
    if PAGED:
        reservations = [r for page in ec2.get_paginator("describe_instances").paginate(Filters=filters) for r in page["Reservations"]]
    else:
        reservations = ec2.describe_instances(Filters=filters)["Reservations"]
    started, stopped = [], []
    for reservation in reservations:
        for instance in reservation["Instances"]:
            tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
            state = instance["State"]["Name"]
            if "TIME" not in tags:
                continue
            want = should_run(tags, now)
            if want and state == "stopped":
                ec2.start_instances(InstanceIds=[instance["InstanceId"]])
                started.append(instance["InstanceId"])
            elif not want and state == "running":
                ec2.stop_instances(InstanceIds=[instance["InstanceId"]])
                stopped.append(instance["InstanceId"])
    return {"started": started, "stopped": stopped}
