"""Baseline: CheckExistingALB in Python with boto3 — describe the ALB, look up the record."""

import datetime
from zoneinfo import ZoneInfo

import boto3

elbv2 = boto3.client("elbv2")
route53 = boto3.client("route53")


def handler(event, context):
    try:
        alb = elbv2.describe_load_balancers(Names=[event["albName"]])["LoadBalancers"][0]
    except elbv2.exceptions.LoadBalancerNotFoundException:
        alb = None
    now = datetime.datetime.fromisoformat(event["now"]) if event.get("now") else datetime.datetime.now(datetime.timezone.utc)
    hour = now.astimezone(ZoneInfo(event.get("timezone", "Asia/Seoul"))).hour
    event["albExists"] = alb is not None
    event["albArn"] = alb["LoadBalancerArn"] if alb else ""
    event["albDNSName"] = alb["DNSName"] if alb else ""
    event["albHostedZoneId"] = alb["CanonicalHostedZoneID"] if alb and "CanonicalHostedZoneID" in alb else (alb or {}).get("CanonicalHostedZoneId", "")
    event["shouldExist"] = int(event["startTime"]) <= hour <= int(event["endTime"])
    record = False
    if alb:
        sets = route53.list_resource_record_sets(HostedZoneId=event["hostedZoneId"], StartRecordName=event["domainName"], StartRecordType="A", MaxItems="1")
        record = any(r.get("AliasTarget", {}).get("DNSName", "").rstrip(".") == alb["DNSName"] for r in sets["ResourceRecordSets"])
    event["recordExists"] = record
    return event
