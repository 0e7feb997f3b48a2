"""Baseline: CreateALB in Python with boto3 — create the load balancer (CreateLoadBalancer is
idempotent by name) and one listener per target group, forwarding to it."""

import boto3

elbv2 = boto3.client("elbv2")


def handler(event, context):
    args = {"Name": event["albName"], "Subnets": event["subnets"], "Scheme": "internet-facing", "Type": "application"}
    if event.get("securityGroups"):
        args["SecurityGroups"] = event["securityGroups"]
    alb = elbv2.create_load_balancer(**args)["LoadBalancers"][0]
    existing = {l["Port"] for l in elbv2.describe_listeners(LoadBalancerArn=alb["LoadBalancerArn"])["Listeners"]}
    for tg in event["targetGroups"]:
        if tg["listenerPort"] in existing:
            continue
        listener = {"LoadBalancerArn": alb["LoadBalancerArn"], "Protocol": tg["listenerProtocol"], "Port": tg["listenerPort"],
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg["targetGroupArn"]}]}
        if tg["listenerProtocol"] == "HTTPS":
            listener["Certificates"] = [{"CertificateArn": event["certificateArn"]}]
        elbv2.create_listener(**listener)
    event["albArn"] = alb["LoadBalancerArn"]
    event["albDNSName"] = alb["DNSName"]
    event["albHostedZoneId"] = alb.get("CanonicalHostedZoneId", "")
    event["albExists"] = True
    return event
