"""Baseline: CreateRoute53Record in Python with boto3 — UPSERT the alias A record to the ALB."""

import boto3

route53 = boto3.client("route53")


def handler(event, context):
    route53.change_resource_record_sets(HostedZoneId=event["hostedZoneId"], ChangeBatch={"Changes": [{
        "Action": "UPSERT",
        "ResourceRecordSet": {"Name": event["domainName"], "Type": "A", "AliasTarget": {
            "HostedZoneId": event["albHostedZoneId"], "DNSName": event["albDNSName"], "EvaluateTargetHealth": False}},
    }]})
    event["recordExists"] = True
    return event
