"""Baseline: the HTTP API producer in Python with boto3 — validate, then SendMessage."""

import json
import os
import uuid

import boto3

sqs = boto3.client("sqs")
QUEUE_URL = os.environ["QUEUE_URL"]


def answer(status, body):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def handler(event, context):
    body = event.get("body")
    if not body:
        return answer(400, {"message": "No body was found"})
    try:
        request = json.loads(body)
    except ValueError as e:
        return answer(400, {"message": f"Body is not valid JSON: {e}"})
    if request.get("action") not in ("wake", "sleep"):
        return answer(400, {"message": "action: allowed: wake, sleep"})
    if not request.get("instanceIds") and not request.get("tag"):
        return answer(400, {"message": "instanceIds or tag required"})
    request_id = str(uuid.uuid4())
    request["requestId"] = request_id
    sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=json.dumps(request), MessageAttributes={
        "action": {"DataType": "String", "StringValue": request["action"]},
        "requestId": {"DataType": "String", "StringValue": request_id},
    })
    return answer(200, {"message": "Message accepted!", "requestId": request_id})
