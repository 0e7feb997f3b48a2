"""The on-demand request pipeline: HTTP API (`sqs-producer`, served by `cargo lambda watch` as a
function URL) → SQS (moto) → `sqs-consumer` (invoked through the Lambda Invoke API) → EC2 (moto).

The test plays the SQS event source mapping: it receives a batch from the queue, invokes the
consumer with it, and deletes the messages the consumer did not report as failed, exactly as Lambda
does with `ReportBatchItemFailures`. moto's redrive (maxReceiveCount) moves a message that keeps
failing to the dead-letter queue.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from conftest import ACCOUNT, OUTCOMES_BUCKET, QUEUE, REQUEST_SETTINGS
from harness import launch, states, tags_of

REGION = "ap-northeast-2"
SEOUL_EVENING = "2026-11-25T20:00:00+09:00"


@pytest.fixture
def queues(moto):
    sqs = moto.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{QUEUE}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    main = sqs.create_queue(
        QueueName=QUEUE,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})},
    )["QueueUrl"]
    moto.client("s3").create_bucket(Bucket=OUTCOMES_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return {"main": main, "dlq": dlq, "sqs": sqs}


def call(watch, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(f"{watch.url}/lambda-url/sqs-producer{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=900) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers


def post(watch, doc: dict, **headers):
    return call(watch, "POST", "/requests", json.dumps(doc).encode(), headers)


def deliver(watch, moto, queue_url: str, max_messages: int = 10) -> tuple[list[dict], list[str]]:
    """One poll of the event source mapping: receive, invoke the consumer, delete what succeeded.
    Returns the messages delivered and the ids the consumer reported as failed."""
    sqs = moto.client("sqs")
    got = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=max_messages, MessageAttributeNames=["All"],
        AttributeNames=["All"], VisibilityTimeout=0,
    ).get("Messages", [])
    if not got:
        return [], []
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    records = [
        {
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
            "eventSourceARN": arn, "awsRegion": REGION,
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"], "stringListValues": [], "binaryListValues": []}
                for k, v in m.get("MessageAttributes", {}).items()
            },
        }
        for m in got
    ]
    answer = watch.invoke("sqs-consumer", {"Records": records})
    failed = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
    for m in got:
        if m["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    return got, failed


def outcome(watch, request_id: str):
    return call(watch, "GET", f"/requests/{request_id}")


def managed(**tags):
    return {"AUTOSTOP_ENABLE": "true", "TIME": "9~18", **tags}


# --- the API's answers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, status, message",
    [
        (None, 400, "No body was found"),
        (b"", 400, "No body was found"),
        (b'{"action": "wake", ', 400, "Body is not valid JSON: EOF while parsing a value at line 1 column 19"),
        (b"[]", 400, "Body: expected a JSON object, got an array of 0"),
        (b'{"action": "reboot", "instanceIds": ["i-0123456789abcdef0"]}', 400, "action: `reboot` is not an action; allowed: wake, sleep"),
        (b'{"instanceIds": ["i-0123456789abcdef0"]}', 400, 'action: expected "wake" or "sleep", got nothing'),
        (b'{"action": "wake"}', 400, 'instanceIds or tag: expected a list of instance ids or a tag {"key", "value"}, got neither'),
        (b'{"action": "wake", "instanceIds": ["web-1"]}', 400, 'instanceIds[0]: expected an instance id such as i-0123456789abcdef0, got "web-1"'),
        (b'{"action": "wake", "instanceIds": ["i-0123456789abcdef0"], "until": "tonight"}', 400, 'until: expected an RFC 3339 time such as 2026-11-25T23:00:00+09:00, got "tonight"'),
        (b'{"action": "sleep", "tag": {"key": "Team"}}', 400, 'tag: expected {"key": "Team", "value": "api"}, got an object'),
        (b'{"action": "wake", "instanceId": ["i-0123456789abcdef0"]}', 400, "unknown field `instanceId`; expected action, instanceIds, tag, until, requestedBy"),
        (b'{"action": "wake", "requestedBy": "' + b"x" * 70000 + b'"}', 413, "Body is 70037 bytes; the limit is 65536"),
    ],
)
def test_bad_requests_get_exact_messages_and_nothing_is_queued(watch, queues, body, status, message):
    code, answer, headers = call(watch, "POST", "/requests", body)
    assert (code, answer) == (status, {"message": message})
    assert headers["Content-Type"] == "application/json"
    assert "Messages" not in queues["sqs"].receive_message(QueueUrl=queues["main"])


def test_accepted_request_is_queued_with_attributes(watch, queues):
    code, answer, _ = post(watch, {"action": "sleep", "tag": {"key": "Team", "value": "api"}, "requestedBy": "mina"},
                           **{"Idempotency-Key": "sleep-api-1"})
    assert (code, answer) == (200, {"message": "Message accepted!", "requestId": "sleep-api-1"})
    [message] = queues["sqs"].receive_message(QueueUrl=queues["main"], MessageAttributeNames=["All"])["Messages"]
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {"action": "sleep", "requestId": "sleep-api-1", "requester": "mina"}
    assert json.loads(message["Body"])["target"] == {"tag": {"key": "Team", "value": "api"}}


def test_queue_failures_answer_500_and_send_nothing(watch_with, moto, queues):
    missing = watch_with({"QUEUE_URL": f"{moto.url}/{ACCOUNT}/no-such-queue", "OUTCOMES_BUCKET": OUTCOMES_BUCKET})
    code, answer, _ = post(missing, {"action": "wake", "instanceIds": ["i-0123456789abcdef0"]})
    assert code == 500
    assert answer["message"].startswith("The request could not be queued (") and "nothing was sent" in answer["message"]
    unreachable = watch_with({**REQUEST_SETTINGS(moto), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    code, answer, _ = post(unreachable, {"action": "wake", "instanceIds": ["i-0123456789abcdef0"]})
    assert code == 500
    assert answer == {"message": "The request could not be queued (DispatchFailure); nothing was sent, please try again"}
    assert "Messages" not in queues["sqs"].receive_message(QueueUrl=queues["main"])


# --- carried out ---------------------------------------------------------------------------------


def test_wake_starts_and_holds_then_the_schedule_honours_the_hold(watch, moto, queues, ec2):
    box = launch(ec2, managed(), state="stopped")[0]
    until = "2099-01-01T23:00:00+09:00"
    code, answer, _ = post(watch, {"action": "wake", "instanceIds": [box], "until": until, "requestedBy": "mina"})
    assert code == 200
    assert outcome(watch, answer["requestId"])[0] == 404
    delivered, failed = deliver(watch, moto, queues["main"])
    assert len(delivered) == 1 and failed == []
    assert states(ec2)[box] == "running"
    tags = tags_of(ec2, box)
    assert tags["AUTOSTOP_HOLD_UNTIL"] == until
    status, recorded, _ = outcome(watch, answer["requestId"])
    assert status == 200 and recorded["status"] == "done" and recorded["instances"][0]["result"] == "started"
    # ec2-autostop at 20:00 (outside 9~18) leaves it running: the hold rules.
    report = watch.invoke("ec2-autostop", {"now": SEOUL_EVENING})
    assert states(ec2)[box] == "running" and report["unchanged"] == 1
    # Once the hold has passed, the schedule stops it.
    watch.invoke("ec2-autostop", {"now": "2099-01-02T20:00:00+09:00"})
    assert states(ec2)[box] == "stopped"


def test_wake_without_until_holds_to_the_end_of_todays_window(watch, moto, queues, ec2):
    box = launch(ec2, managed(TIME="0~23"), state="stopped")[0]
    code, answer, _ = post(watch, {"action": "wake", "instanceIds": [box]})
    deliver(watch, moto, queues["main"])
    tags = tags_of(ec2, box)
    assert tags["AUTOSTOP_HOLD_UNTIL"].endswith("T00:00:00+09:00")  # TIME=0~23: the window ends at midnight
    assert states(ec2)[box] == "running"


def test_sleep_stops_and_clears_the_hold(watch, moto, queues, ec2):
    box = launch(ec2, managed(AUTOSTOP_HOLD_UNTIL="2099-01-01T00:00:00Z"))[0]
    by_tag = launch(ec2, managed(Team="api"))[0]
    post(watch, {"action": "sleep", "instanceIds": [box]})
    post(watch, {"action": "sleep", "tag": {"key": "Team", "value": "api"}})
    deliver(watch, moto, queues["main"])
    assert states(ec2) == {box: "stopped", by_tag: "stopped"}
    keys = tags_of(ec2, box).keys()
    assert "AUTOSTOP_HOLD_UNTIL" not in keys


def test_unmanaged_instances_are_refused_and_recorded(watch, moto, queues, ec2):
    mine = launch(ec2, {"Name": "someone-elses"})[0]
    code, answer, _ = post(watch, {"action": "sleep", "instanceIds": [mine, "i-0000000000000dead"]})
    delivered, failed = deliver(watch, moto, queues["main"])
    assert failed == []
    assert states(ec2)[mine] == "running"
    _, recorded, _ = outcome(watch, answer["requestId"])
    assert recorded["status"] == "refused"
    results = {i["instanceId"]: (i["result"], i.get("detail")) for i in recorded["instances"]}
    assert results[mine] == ("refused", "not managed: no AUTOSTOP_ENABLE=true tag")
    assert results["i-0000000000000dead"][0] == "not found"


def test_a_spaced_enable_value_is_unmanaged_as_iam_sees_it(watch, moto, queues, ec2):
    """`" true"` is not `true` to IAM's StringEqualsIgnoreCase, so the consumer's role may not tag,
    start or stop that instance: were the code to trim it, the batched CreateTags would be denied
    for the whole request in a real account. The code refuses it alone; the other one is woken."""
    good = launch(ec2, managed(), state="stopped")[0]
    spaced = launch(ec2, managed(AUTOSTOP_ENABLE=" true"), state="stopped")[0]
    code, answer, _ = post(watch, {"action": "wake", "instanceIds": [good, spaced], "until": "2099-01-01T00:00:00Z"})
    delivered, failed = deliver(watch, moto, queues["main"])
    assert failed == []
    assert states(ec2) == {good: "running", spaced: "stopped"}
    assert "AUTOSTOP_HOLD_UNTIL" in tags_of(ec2, good) and "AUTOSTOP_HOLD_UNTIL" not in tags_of(ec2, spaced)
    _, recorded, _ = outcome(watch, answer["requestId"])
    results = {i["instanceId"]: (i["result"], i.get("detail")) for i in recorded["instances"]}
    assert results[good][0] == "started"
    assert results[spaced] == ("refused", "not managed: no AUTOSTOP_ENABLE=true tag")


def test_the_same_message_delivered_twice_acts_once(watch, moto, queues, ec2):
    box = launch(ec2, managed(), state="stopped")[0]
    post(watch, {"action": "wake", "instanceIds": [box], "until": "2099-01-01T00:00:00Z"})
    [message] = queues["sqs"].receive_message(QueueUrl=queues["main"], VisibilityTimeout=0)["Messages"]
    record = {"messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
              "eventSource": "aws:sqs", "awsRegion": REGION, "attributes": {}, "messageAttributes": {}}
    assert watch.invoke("sqs-consumer", {"Records": [record]})["batchItemFailures"] == []
    ec2.stop_instances(InstanceIds=[box])  # someone stops it by hand afterwards
    # At-least-once delivery: the same message again. It has an outcome, so nothing is done.
    assert watch.invoke("sqs-consumer", {"Records": [record]})["batchItemFailures"] == []
    assert states(ec2)[box] == "stopped"


def test_one_poison_message_fails_alone(watch, moto, queues, ec2):
    box = launch(ec2, managed(), state="stopped")[0]
    post(watch, {"action": "wake", "instanceIds": [box], "until": "2099-01-01T00:00:00Z"})
    queues["sqs"].send_message(QueueUrl=queues["main"], MessageBody="this is not a request",
                               MessageAttributes={"action": {"DataType": "String", "StringValue": "poison"}})
    delivered, failed = deliver(watch, moto, queues["main"])
    assert len(delivered) == 2 and len(failed) == 1
    poison = next(m for m in delivered if m["Body"] == "this is not a request")
    assert failed == [poison["MessageId"]]
    assert states(ec2)[box] == "running"


def test_poison_message_lands_in_the_dlq_after_three_receives(watch, moto, queues):
    queues["sqs"].send_message(QueueUrl=queues["main"], MessageBody="{}",
                               MessageAttributes={"action": {"DataType": "String", "StringValue": "poison"}})
    receives = 0
    for _ in range(5):
        delivered, failed = deliver(watch, moto, queues["main"])
        receives += len(delivered)
        assert len(failed) == len(delivered)
    assert receives == 3
    [dead] = queues["sqs"].receive_message(QueueUrl=queues["dlq"], MessageAttributeNames=["All"])["Messages"]
    assert dead["Body"] == "{}" and dead["MessageAttributes"]["action"]["StringValue"] == "poison"


def test_fifo_queue_groups_and_deduplicates(watch_with, moto, queues, ec2):
    sqs = moto.client("sqs")
    fifo = sqs.create_queue(QueueName=f"{QUEUE}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    w = watch_with({"QUEUE_URL": fifo, "OUTCOMES_BUCKET": OUTCOMES_BUCKET})
    box = launch(ec2, managed(), state="stopped")[0]
    for _ in range(2):  # a client retrying with the same Idempotency-Key
        code, answer, _ = post(w, {"action": "wake", "instanceIds": [box], "until": "2099-01-01T00:00:00Z"},
                               **{"Idempotency-Key": "wake-box-1"})
        assert (code, answer["requestId"]) == (200, "wake-box-1")
    got = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=0)["Messages"]
    assert len(got) == 1, "the retry was deduplicated"
    assert got[0]["Attributes"]["MessageGroupId"] == box
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "wake-box-1"
    deliver(w, moto, fifo)
    assert states(ec2)[box] == "running"
    assert outcome(w, "wake-box-1")[1]["status"] == "done"


def test_sample_events_work_with_cargo_lambda_invoke(watch, moto, queues):
    """events/sqs-*.json: an API request and an SQS batch, as `cargo lambda invoke` sends them."""
    import subprocess
    import sys
    from pathlib import Path

    from harness import ROOT

    cargo_lambda = str(Path(sys.executable).parent / "cargo-lambda")
    outputs = {}
    for name, function in (("sqs-producer-request.json", "sqs-producer"), ("sqs-consumer-batch.json", "sqs-consumer")):
        out = subprocess.run(
            [cargo_lambda, "lambda", "invoke", function, "--data-file", str(ROOT / "events" / name),
             "--invoke-address", "127.0.0.1", "--invoke-port", str(watch.port), "--output-format", "json"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
        assert out.returncode == 0, f"{name}: {out.stderr}"
        outputs[name] = json.loads(out.stdout)
    api = outputs["sqs-producer-request.json"]
    assert api["statusCode"] == 200 and json.loads(api["body"])["message"] == "Message accepted!"
    assert outputs["sqs-consumer-batch.json"] == {"batchItemFailures": []}
