"""The SQS request pipeline under load: HTTP clients → `sqs-producer` → SQS → `sqs-consumer` → EC2,
all local (moto plays AWS), with release binaries.

How the functions are served, and why this way:
- `cargo lambda watch --only-lambda-apis` is the HTTP front end. It is what the tests use (its
  function URL `/lambda-url/sqs-producer/...` turns an HTTP request into the API Gateway v2 /
  function URL event, and the answer back into HTTP), and it also serves the Lambda Runtime API.
  With `--only-lambda-apis` it starts no function itself (`cargo lambda watch --release` would
  `cargo run` its own build, and with `--concurrency` above 1 cargo-lambda 1.9.2 spawns `cargo
  run` even under `--only-lambda-apis`, so the concurrency stays 1 and we bring the instances).
- The instances are the release `bootstrap`s (`sqs-producer`, `sqs-consumer`), several processes
  each, polling that Runtime API as Lambda execution environments do: each handles one
  invocation at a time and the front end hands each request to an idle one. So concurrency is
  Lambda's (one request per instance, N instances), the code is exactly what would be deployed,
  and no Python sits in the request path. The benchmark's own runtime_api.py was the other
  candidate; it is a Python server, which on a 2-core machine would measure itself.
- wrk (Debian package `wrk`) is the client: N connections for a bounded time, `--latency`,
  driven by pipeline.lua, which sends a valid, unique request each time (its Idempotency-Key
  becomes the request id) and keeps the id of every accepted one.
- The consumer is fed by `EventSourceMapping` below, which does what the Lambda SQS event source
  mapping does with `ReportBatchItemFailures`: pollers receive up to 10 messages, invoke the
  consumer with them, delete the ones not reported failed and leave the rest to reappear after
  the visibility timeout; the queue's redrive policy (maxReceiveCount 3) moves a message that
  keeps failing to the dead-letter queue. It runs while the clients post, as the real mapping
  would, and goes on until the queue is empty.

Afterwards it counts: every accepted request id must be carried out (an outcome record in S3,
status done/partial/refused) or dead-lettered (its message in the DLQ): accepted = carried out +
dead-lettered, lost = 0, and nothing both carried out and dead-lettered or queued twice.

Usage (the benchmark calls `sqs_pipeline`; this runs it alone against a fresh moto):
    python tests/bench/pipeline.py [--duration 20] [--clients 16] [--bin-dir DIR]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import boto3  # noqa: E402

from harness import ROOT, _stop, _wait_for_port, free_port  # noqa: E402

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"
LUA = HERE / "pipeline.lua"


def client(url: str, service: str):
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


# --- the functions, served locally ------------------------------------------------------------


class LambdaService:
    """`cargo lambda watch --only-lambda-apis` (HTTP front end + Runtime API) and, per function,
    `count` processes of its binary polling it: local Lambda execution environments."""

    def __init__(self, log_dir: Path, endpoint: str, functions: dict[str, tuple[Path, int, dict[str, str]]]):
        """`functions`: name → (binary, instances, settings). `endpoint`: their AWS_ENDPOINT_URL."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_dir / f"lambda-service-{self.port}.log", "wb")
        cargo_lambda = shutil.which("cargo-lambda", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
        if not cargo_lambda:
            raise RuntimeError("cargo-lambda not found (run scripts/setup.sh)")
        self.front = subprocess.Popen(
            [cargo_lambda, "lambda", "watch", "--ignore-changes", "--only-lambda-apis", "--concurrency", "1",
             "-A", "127.0.0.1", "-P", str(self.port)],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        _wait_for_port(self.port, self.front, "cargo lambda watch", 60)
        self.instances: list[subprocess.Popen] = []
        for name, (binary, count, settings) in functions.items():
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": os.environ.get("HOME", "/tmp"),
                "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{self.port}/.rt/{name}",
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_EC2_METADATA_DISABLED": "true",
                "RUST_LOG": "warn",
                **settings,
            }
            for _ in range(count):
                self.instances.append(subprocess.Popen([str(binary)], env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                                       start_new_session=True))

    def function_url(self, name: str) -> str:
        return f"{self.url}/lambda-url/{name}"

    def invoker(self, name: str, timeout: float = 300) -> Callable[[dict], dict]:
        return invoker(self.url, name, timeout)

    def stop(self) -> None:
        for proc in self.instances:
            _stop(proc)
        _stop(self.front)
        self.log.close()


def invoker(base_url: str, function: str, timeout: float = 300) -> Callable[[dict], dict]:
    """Invokes `function` through the Lambda Invoke API at `base_url`; raises on a function error."""

    def invoke(payload: dict) -> dict:
        req = urllib.request.Request(f"{base_url}/2015-03-31/functions/{function}/invocations",
                                     data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            answer = json.loads(resp.read() or b"null")
        if isinstance(answer, dict) and "errorType" in answer:
            raise RuntimeError(f"{answer['errorType']}: {answer.get('errorMessage')}")
        return answer

    return invoke


# --- the SQS event source mapping ---------------------------------------------------------------


def sqs_records(messages: list[dict], queue_arn: str) -> list[dict]:
    """SQS messages as the records of a Lambda SQS event."""
    return [
        {
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn, "awsRegion": REGION,
            "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"], "stringListValues": [], "binaryListValues": []}
                for k, v in m.get("MessageAttributes", {}).items()
            },
        }
        for m in messages
    ]


def request_id_of(body: str) -> str | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value.get("requestId") if isinstance(value, dict) else None


class EventSourceMapping:
    """What Lambda's SQS event source mapping does with ReportBatchItemFailures, with `pollers`
    concurrent batches: receive up to `batch_size` messages (long poll), invoke the function with
    them, delete those it did not report as failed. A failed message, or every message of a
    failed invocation, stays in the queue and is received again once its visibility timeout has
    passed; the queue's redrive policy dead-letters it after maxReceiveCount receives.

    Also records, per request id, how many times it was delivered and under which message ids."""

    def __init__(self, sqs_url: str, queue_url: str, invoke: Callable[[dict], dict], pollers: int = 4,
                 batch_size: int = 10, wait_s: int = 1):
        self.sqs_url, self.queue_url, self.invoke = sqs_url, queue_url, invoke
        self.pollers, self.batch_size, self.wait_s = pollers, batch_size, wait_s
        sqs = client(sqs_url, "sqs")
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.lock = threading.Lock()
        self.deliveries: collections.Counter[str] = collections.Counter()
        # Deliveries the function reported carried out, and deletes that found the message gone
        # (moved to the DLQ meanwhile: the invocation outlived the visibility timeout).
        self.acknowledged: collections.Counter[str] = collections.Counter()
        self.deletes_too_late = 0
        self.message_ids: dict[str, set[str]] = collections.defaultdict(set)
        self.invocations = 0
        self.invocation_errors: collections.Counter[str] = collections.Counter()
        self.messages = 0
        self.item_failures = 0
        self.deleted = 0
        self.invoke_ms: list[float] = []
        self.in_flight = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._poll, daemon=True) for _ in range(pollers)]

    def start(self) -> "EventSourceMapping":
        for t in self.threads:
            t.start()
        return self

    def _poll(self) -> None:
        sqs = client(self.sqs_url, "sqs")
        while not self.stopping.is_set():
            try:
                self._one_batch(sqs)
            except Exception as e:  # noqa: BLE001 - a poller must survive anything and keep polling
                with self.lock:
                    self.invocation_errors[f"poller: {type(e).__name__}"] += 1
                time.sleep(0.2)

    def _one_batch(self, sqs) -> None:
        got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size,
                                  WaitTimeSeconds=self.wait_s, AttributeNames=["All"],
                                  MessageAttributeNames=["All"]).get("Messages", [])
        if not got:
            return
        with self.lock:
            self.in_flight += 1
        try:
            self._deliver(sqs, got)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _deliver(self, sqs, got: list[dict]) -> None:
        with self.lock:
            self.messages += len(got)
            for m in got:
                rid = request_id_of(m["Body"]) or f"<unreadable {m['MessageId']}>"
                self.deliveries[rid] += 1
                self.message_ids[rid].add(m["MessageId"])
        started = time.perf_counter()
        try:
            answer = self.invoke({"Records": sqs_records(got, self.queue_arn)})
            failures = answer.get("batchItemFailures", []) if isinstance(answer, dict) else None
            failed = {f.get("itemIdentifier") for f in failures} if failures is not None else None
        except Exception as e:  # noqa: BLE001 - the whole batch failed: every message comes back
            failed, answer = None, None
            with self.lock:
                self.invocation_errors[type(e).__name__] += 1
        elapsed = (time.perf_counter() - started) * 1000
        ids = {m["MessageId"] for m in got}
        if failed is None or not failed <= ids:
            # An invocation error, or an answer naming a message not in the batch: Lambda then
            # treats the whole batch as failed.
            failed = ids
        done = [m for m in got if m["MessageId"] not in failed]
        too_late = 0
        for k in range(0, len(done), 10):
            chunk = done[k:k + 10]
            answer = sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)])
            too_late += len(answer.get("Failed", []))
        with self.lock:
            self.deletes_too_late += too_late
            for m in done:
                self.acknowledged[request_id_of(m["Body"]) or f"<unreadable {m['MessageId']}>"] += 1
            self.invocations += 1
            self.invoke_ms.append(elapsed)
            self.item_failures += len(failed)
            self.deleted += len(done)

    def queue_depth(self) -> int:
        attrs = client(self.sqs_url, "sqs").get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(v) for v in attrs.values())

    def wait_drained(self, timeout: float) -> bool:
        """Until the queue is empty (every message deleted or dead-lettered) and no batch is in
        progress, twice in a row half a second apart. False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            with self.lock:
                in_flight = self.in_flight
            quiet = quiet + 1 if self.queue_depth() == 0 and not in_flight else 0
            if quiet >= 2:
                return True
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        self.stopping.set()
        for t in self.threads:
            if t.ident is not None:
                t.join(timeout=self.wait_s + 30)

    def stats(self) -> dict:
        with self.lock:
            ms = sorted(self.invoke_ms)
            return {
                "invocations": self.invocations,
                "messages_received": self.messages,
                "mean_batch": self.messages / self.invocations if self.invocations else 0.0,
                "item_failures": self.item_failures,
                "deleted": self.deleted,
                "invocation_errors": dict(self.invocation_errors),
                "invoke_ms_p50": percentile(ms, 50),
                "invoke_ms_p99": percentile(ms, 99),
                "deletes_too_late": self.deletes_too_late,
                "redelivered": sum(1 for n in self.deliveries.values() if n > 1),
                "redelivered_ids": sorted(r for r, n in self.deliveries.items() if n > 1)[:20],
                "queued_more_than_once": sorted(r for r, ids in self.message_ids.items() if len(ids) > 1),
            }


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


# --- what happened: outcomes, dead letters, the count check -------------------------------------


def outcomes(s3_url: str, bucket: str) -> dict[str, dict]:
    """request id → the outcome record the consumer wrote (`requests/{id}.json`)."""
    s3 = client(s3_url, "s3")
    # `requests/{id}.claim` beside them is the consumer's note of who is carrying a request out.
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="requests/")
            for o in page.get("Contents", []) if o["Key"].endswith(".json")]

    def read(key: str) -> tuple[str, dict]:
        body = client(s3_url, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        return key[len("requests/"):-len(".json")], json.loads(body)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return dict(pool.map(read, keys))


def dead_letters(sqs_url: str, dlq_url: str) -> collections.Counter[str]:
    """request id → how many of its messages are in the dead-letter queue (read, not removed:
    each stays invisible for five minutes so that it is counted once)."""
    sqs = client(sqs_url, "sqs")
    found: collections.Counter[str] = collections.Counter()
    while True:
        got = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=300,
                                  WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return found
        for m in got:
            found[request_id_of(m["Body"]) or f"<unreadable {m['MessageId']}>"] += 1


def account(accepted: list[str], recorded: dict[str, dict], dead: collections.Counter[str],
            queued_twice: list[str] | None = None) -> dict:
    """The count check. `accepted`: ids the API answered 200 for; `recorded`: outcomes in S3;
    `dead`: messages in the DLQ by request id; `queued_twice`: ids that had more than one message."""
    accepted_set = set(accepted)
    carried = accepted_set & recorded.keys()
    dead_set = accepted_set & set(dead)
    statuses = collections.Counter(recorded[i].get("status", "?") for i in carried)
    result = {
        "accepted": len(accepted),
        "accepted_twice": len(accepted) - len(accepted_set),
        "carried_out": len(carried - dead_set),
        "done": statuses.get("done", 0),
        "partial": statuses.get("partial", 0),
        "refused": statuses.get("refused", 0),
        "dead_lettered": len(dead_set - carried),
        "carried_out_and_dead_lettered": len(carried & dead_set),
        "dead_lettered_twice": sum(1 for i in dead_set if dead[i] > 1),
        "queued_twice": len(set(queued_twice or []) & accepted_set),
        "lost": len(accepted_set - carried - dead_set),
        "lost_ids": sorted(accepted_set - carried - dead_set)[:20],
        # Requests carried out or dead-lettered whose 200 the client never read (wrk stops at the
        # time limit with requests in flight; a client that gave up). Not lost, not counted above.
        "unacknowledged": len((recorded.keys() | set(dead)) - accepted_set),
    }
    result["duplicates"] = (result["accepted_twice"] + result["carried_out_and_dead_lettered"]
                            + result["dead_lettered_twice"] + result["queued_twice"])
    result["check"] = (result["accepted"] == result["carried_out"] + result["dead_lettered"]
                       and result["lost"] == 0 and result["duplicates"] == 0)
    return result


# --- the benchmark ------------------------------------------------------------------------------


def reset_moto(moto_url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=30).read()


def make_pipeline(moto_url: str, name: str, visibility_timeout: int) -> dict[str, str]:
    """The queue with its DLQ (redrive after 3 receives) and the outcomes bucket, as template.yaml
    has them."""
    sqs = client(moto_url, "sqs")
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility_timeout),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
    })["QueueUrl"]
    bucket = f"{name}-outcomes"
    client(moto_url, "s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return {"queue": queue, "dlq": dlq, "bucket": bucket}


def make_fleet(moto_url: str, managed: int) -> dict[str, list[str]]:
    """`managed` instances with AUTOSTOP_ENABLE=true (half stopped; Team bench-a/bench-b
    alternating) and one unmanaged instance."""
    ec2 = client(moto_url, "ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    fleet: dict[str, list[str]] = {"stopped": [], "running": [], "unmanaged": []}
    for i in range(managed):
        tags = {"AUTOSTOP_ENABLE": "true", "TIME": "9~18", "Team": "bench-a" if i % 2 == 0 else "bench-b"}
        [box] = [x["InstanceId"] for x in ec2.run_instances(
            ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        )["Instances"]]
        fleet["stopped" if i % 4 < 2 else "running"].append(box)
    ec2.stop_instances(InstanceIds=fleet["stopped"])
    fleet["unmanaged"] = [ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]["InstanceId"]]
    return fleet


def moto_send_floor(wrk: str, moto_url: str, name: str, clients: int, seconds: int, log_dir: Path) -> float:
    """Requests per second moto takes for SendMessage alone: wrk straight at moto with the same
    connections and a message like the producer's (moto checks no signature, only the scope).
    Everything the pipeline does goes through this one Python process, so this is its ceiling."""
    sqs = client(moto_url, "sqs")
    queue = sqs.create_queue(QueueName=f"{name}-floor")["QueueUrl"]
    body = json.dumps({"QueueUrl": queue, "MessageBody": json.dumps({"requestId": "floor", "action": "wake",
                                                                     "target": {"instanceIds": ["i-0123456789abcdef0"]}})})
    script = log_dir / f"{name}-floor.lua"
    script.write_text("\n".join([
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/x-amz-json-1.0"',
        'wrk.headers["X-Amz-Target"] = "AmazonSQS.SendMessage"',
        f'wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=testing/20261125/{REGION}/sqs/aws4_request, '
        'SignedHeaders=host, Signature=0"',
        f"wrk.body = {json.dumps(body)}", ""]))
    out = subprocess.run([wrk, "-t", str(max(1, min(2, clients))), "-c", str(clients), "-d", f"{seconds}s", "-s", str(script),
                          f"{moto_url}/"], capture_output=True, text=True, timeout=seconds + 60)
    sqs.delete_queue(QueueUrl=queue)
    for line in out.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError(f"wrk against moto: {out.stdout[-500:]} {out.stderr[-500:]}")


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if not wrk:
        raise RuntimeError("wrk is not installed: `apt-get install -y wrk` (make bench does this)")
    return wrk


def sqs_pipeline(moto_url: str, endpoint_for_functions: str, release_dir: Path, duration_s: int = 20,
                 clients: int = 16, producers: int = 4, consumers: int = 4, managed: int = 24,
                 visibility_timeout: int = 10, drain_timeout_s: float = 600, log_dir: Path | None = None,
                 consume_during_load: bool = True, floor_s: int = 5) -> dict:
    """Runs the pipeline benchmark once and returns its numbers (see the module docstring).

    `moto_url`: moto itself (set-up and read-back go there, uncounted); `endpoint_for_functions`:
    the functions' AWS_ENDPOINT_URL (moto, or a counting proxy in front of it); `release_dir`:
    where the release `sqs-producer` and `sqs-consumer` are; `clients`: wrk connections for
    `duration_s` seconds; `producers`/`consumers`: instances of each function (the consumer's are
    also the event source mapping's concurrent batches). `consume_during_load=False` starts the
    consumer only when the clients have finished (the producer then has the machine to itself).
    `floor_s`: seconds of SendMessage straight at moto first, for the ceiling (0: skip).
    moto is reset first."""
    wrk = ensure_wrk()
    log_dir = log_dir or ROOT / ".local" / "bench-pipeline"
    log_dir.mkdir(parents=True, exist_ok=True)
    for binary in ("sqs-producer", "sqs-consumer"):
        if not (release_dir / binary).exists():
            raise RuntimeError(f"{release_dir / binary} is missing: cargo build --release --workspace")
    reset_moto(moto_url)
    run = f"bench{int(time.time())}"
    names = make_pipeline(moto_url, run, visibility_timeout)
    fleet = make_fleet(moto_url, managed)
    floor = moto_send_floor(wrk, moto_url, run, clients, floor_s, log_dir) if floor_s else float("nan")
    queue_for_functions = names["queue"].replace(moto_url, endpoint_for_functions)
    settings = {"QUEUE_URL": queue_for_functions, "OUTCOMES_BUCKET": names["bucket"]}
    service = LambdaService(log_dir, endpoint_for_functions, {
        "sqs-producer": (release_dir / "sqs-producer", producers, settings),
        "sqs-consumer": (release_dir / "sqs-consumer", consumers, settings),
    })
    esm = None
    try:
        # One request through the whole path first: fails fast if anything is not serving.
        probe = urllib.request.Request(f"{service.function_url('sqs-producer')}/requests/probe")
        try:
            urllib.request.urlopen(probe, timeout=60)
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise RuntimeError(f"the producer answered the probe with {err.code}: {err.read()[:300]!r}") from None
        esm = EventSourceMapping(moto_url, names["queue"], service.invoker("sqs-consumer"), pollers=consumers)
        if consume_during_load:
            esm.start()
        out = log_dir / run
        threads = max(1, min(2, clients))
        cmd = [wrk, "-t", str(threads), "-c", str(clients), "-d", f"{duration_s}s", "--timeout", "30s", "--latency",
               "-s", str(LUA), f"{service.function_url('sqs-producer')}/requests", "--",
               run, str(out), ",".join(fleet["stopped"]), ",".join(fleet["running"]), fleet["unmanaged"][0]]
        started = time.perf_counter()
        wrk_run = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 120)
        load_s = time.perf_counter() - started
        (log_dir / f"{run}.wrk.txt").write_text(wrk_run.stdout + wrk_run.stderr)
        if wrk_run.returncode != 0 or not Path(f"{out}.json").exists():
            raise RuntimeError(f"wrk failed ({wrk_run.returncode}): {wrk_run.stderr[-800:]}")
        summary = json.loads(Path(f"{out}.json").read_text())
        accepted = Path(f"{out}.ids").read_text().split()
        if not consume_during_load:
            esm.start()
        drained = esm.wait_drained(drain_timeout_s)
        total_s = time.perf_counter() - started
    finally:
        if esm is not None:
            esm.stop()
        service.stop()
    mapping = esm.stats()
    recorded = outcomes(moto_url, names["bucket"])
    dead = dead_letters(moto_url, names["dlq"])
    counts = account(accepted, recorded, dead, mapping["queued_more_than_once"])
    lat = summary["latency_us"]
    return {
        "duration_s": duration_s, "clients": clients, "producers": producers, "consumers": consumers,
        "managed_instances": managed, "consume_during_load": consume_during_load, "drained": drained,
        "requests": summary["requests"], "statuses": summary["statuses"], "errors": summary["errors"],
        "rps": summary["requests"] / (summary["duration_us"] / 1e6),
        "accepted_rps": len(accepted) / (summary["duration_us"] / 1e6),
        "moto_send_floor_rps": floor,
        "latency_ms": {k: lat[k] / 1000 for k in ("p50", "p90", "p99", "max", "mean")},
        # From the first request to the last outcome: the rate the whole pipeline sustained.
        "pipeline_rps": (counts["carried_out"] + counts["dead_lettered"]) / total_s,
        "drain_after_load_s": total_s - load_s,
        "consumer": {k: v for k, v in mapping.items() if k != "queued_more_than_once"},
        **counts,
    }


def pipeline_markdown(result: dict) -> list[str]:
    """The result as Markdown lines (a heading, a short note, two tables)."""
    r = result
    lat = r["latency_ms"]
    c = r["consumer"]
    return [
        "## SQS pipeline: clients → sqs-producer → SQS → sqs-consumer → EC2 (release binaries, moto)", "",
        f"wrk, {r['clients']} connections for {r['duration_s']} s against the producer's function URL "
        f"(`cargo lambda watch --only-lambda-apis` in front of {r['producers']} producer instances); "
        f"{r['consumers']} consumer instances fed by an event source mapping stand-in (batches of up to 10, "
        f"partial batch failures, DLQ after 3 receives) while the clients post; {r['managed_instances']} managed instances.", "",
        "| requests | rps | accepted rps | moto SendMessage alone rps | p50 ms | p90 ms | p99 ms | max ms | pipeline rps (to the last outcome) | drain after load s | consumer batches | mean batch | invoke p50 ms | invoke p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {r['requests']} | {r['rps']:.1f} | {r['accepted_rps']:.1f} | {r['moto_send_floor_rps']:.1f} | {lat['p50']:.1f} | {lat['p90']:.1f} | {lat['p99']:.1f} | "
        f"{lat['max']:.1f} | {r['pipeline_rps']:.1f} | {r['drain_after_load_s']:.1f} | {c['invocations']} | {c['mean_batch']:.1f} | "
        f"{c['invoke_ms_p50']:.1f} | {c['invoke_ms_p99']:.1f} |",
        "",
        "| accepted | carried out | done | partial | refused | dead-lettered | lost | duplicates | redelivered | not 200 | unacknowledged at cut-off | accepted = carried out + dead-lettered |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {r['accepted']} | {r['carried_out']} | {r['done']} | {r['partial']} | {r['refused']} | {r['dead_lettered']} | "
        f"{r['lost']} | {r['duplicates']} | {c['redelivered']} | {r['requests'] - r['accepted']} | {r['unacknowledged']} | "
        f"{'yes' if r['check'] else '**no**'} |",
    ]


def main() -> None:
    from harness import Moto

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--consumers", type=int, default=4)
    parser.add_argument("--consume-after-load", action="store_true", help="start the consumer when the clients stop")
    default_bin = os.environ.get("LIGHTSOUT_BENCH_BIN_DIR") or str(
        Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release")
    parser.add_argument("--bin-dir", default=default_bin)
    args = parser.parse_args()
    (ROOT / ".local").mkdir(exist_ok=True)
    moto = Moto(ROOT / ".local")
    try:
        result = sqs_pipeline(moto.url, moto.url, Path(args.bin_dir), args.duration, args.clients,
                              producers=args.producers, consumers=args.consumers,
                              consume_during_load=not args.consume_after_load)
    finally:
        moto.stop()
    print(json.dumps(result, indent=2, default=str))
    print()
    print("\n".join(pipeline_markdown(result)))
    if not result["check"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
