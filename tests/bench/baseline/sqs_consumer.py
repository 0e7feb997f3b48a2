"""Baseline: the SQS consumer in Python with boto3 — for each message, check the instances are
managed, start or stop them, write the outcome to S3; failed messages go back as batch failures."""

import json
import os

import boto3

ec2 = boto3.client("ec2")
s3 = boto3.client("s3")
BUCKET = os.environ["OUTCOMES_BUCKET"]


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            request = json.loads(record["body"])
            ids = request["target"]["instanceIds"]
            found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
            managed = [i["InstanceId"] for r in found for i in r["Instances"]
                       if any(t["Key"] == "AUTOSTOP_ENABLE" and t["Value"].lower() == "true" for t in i.get("Tags", []))]
            if managed:
                (ec2.start_instances if request["action"] == "wake" else ec2.stop_instances)(InstanceIds=managed)
            outcome = {"requestId": request["requestId"], "status": "done", "acted": managed,
                       "refused": [i for i in ids if i not in managed]}
            s3.put_object(Bucket=BUCKET, Key=f"requests/{request['requestId']}.json", Body=json.dumps(outcome))
        except Exception:  # noqa: BLE001 - the message is retried by SQS
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
