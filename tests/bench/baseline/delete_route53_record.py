"""Baseline: DeleteRoute53Record in Python with boto3 — find the alias A record and delete it."""

import boto3

route53 = boto3.client("route53")


def handler(event, context):
    name = event["domainName"].rstrip(".") + "."
    sets = route53.list_resource_record_sets(HostedZoneId=event["hostedZoneId"], StartRecordName=name,
                                             StartRecordType="A", MaxItems="1")["ResourceRecordSets"]
    for record in sets:
        if record["Name"] == name and record["Type"] == "A":
            route53.change_resource_record_sets(HostedZoneId=event["hostedZoneId"],
                                                ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]})
    event["recordExists"] = False
    return event
