"""Baseline: DeleteALB in Python with boto3 — save the listeners to S3 as a snapshot, then delete
the load balancer (nothing to do when it is already gone)."""

import json

import boto3

elbv2 = boto3.client("elbv2")
s3 = boto3.client("s3")


def handler(event, context):
    try:
        alb = elbv2.describe_load_balancers(Names=[event["albName"]])["LoadBalancers"][0]
    except elbv2.exceptions.LoadBalancerNotFoundException:
        alb = None
    if alb:
        if event.get("snapshotBucket"):
            listeners = elbv2.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]
            s3.put_object(Bucket=event["snapshotBucket"], Key=f"alb/{event['albName']}.json",
                          Body=json.dumps({"loadBalancer": alb, "listeners": listeners}, default=str))
        elbv2.delete_load_balancer(LoadBalancerArn=alb["LoadBalancerArn"])
    event["albExists"] = False
    event["albArn"] = event["albDNSName"] = event["albHostedZoneId"] = ""
    return event
