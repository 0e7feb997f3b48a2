"""Load with no loss (issue 7): many concurrent clients post wake/sleep requests to the producer for
a bounded time while faults are injected into SQS, EC2 and S3; afterwards every accepted request
is carried out exactly once or is in the dead-letter queue, and nothing is lost or done twice.

The set-up, and why:
- Functions: `cargo lambda watch --only-lambda-apis` serves the producer's function URL and the
  Runtime API; several processes of each debug binary poll it (tests/bench/pipeline.py's
  LambdaService). The `watch_with` fixture runs one instance per function, and Lambda runs the
  consumer with several concurrent batches: the races worth finding (two deliveries of one
  request at once) need more than one consumer instance.
- Their AWS_ENDPOINT_URL is a FaultProxy (tests/faults.py) that injects a fraction of faults on
  SendMessage, StartInstances/StopInstances, PutObject and GetObject, plus a StopInstances outage
  long enough for some requests to reach the dead-letter queue. Behind it a Recorder sees what
  reached moto: every StartInstances/StopInstances call with its instance ids and the SDK's
  `amz-sdk-invocation-id` (the same for the retries of one call, new for each call the function
  makes).
- The consumer is fed as the SQS event source mapping feeds it (EventSourceMapping in
  tests/bench/pipeline.py: batches of 10, partial batch failures, redrive after 3 receives).
- Every request targets an instance of its own, so the EC2 calls that reached moto can be laid
  at one request's door: "acted" = the number of distinct SDK invocations of
  StartInstances/StopInstances naming its instance. Exactly once = acted once, the instance ends
  in the wanted state, and the outcome is recorded in S3; a dead-lettered request may have acted
  at most once. Unmanaged instances must never be acted on.

The counts are printed and written to .local/reliability-load-run.md.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from conftest import LOG_DIR
from faults import FaultProxy
from harness import ROOT, free_port, image_id, states

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))

from pipeline import EventSourceMapping, LambdaService, dead_letters, make_pipeline, outcomes, sqs_records  # noqa: E402

# The load is a number of requests, not a length of time, so that a slower machine makes the
# test longer rather than weaker: the clients stop when the instances run out. LOAD_CAP_S only
# keeps a hung producer from holding the suite; it is far beyond what the load takes (~20 s on
# an idle 2-core machine, ~50 s on a busy one).
LOAD_CAP_S = 240
CLIENTS = 16
PRODUCERS = 3
CONSUMERS = 3
POLLERS = 4
VISIBILITY_TIMEOUT = 10
MAX_REQUESTS = 400  # instances are launched for this many; the clients stop when they run out
# StopInstances answers 503 to every call for this window of the load (seconds from its start):
# longer than two visibility timeouts, so the sleeps received early in it fail three times and are
# dead-lettered.
OUTAGE = (3.0, 34.0)
FAULTS = [
    # (operation, fault, fraction)
    ("SendMessage", "throttle", 0.04), ("SendMessage", "503", 0.03), ("SendMessage", "drop", 0.03),
    ("SendMessage", "drop_after", 0.04),
    ("StartInstances", "503", 0.05), ("StartInstances", "throttle", 0.04), ("StartInstances", "drop_after", 0.04),
    ("StartInstances", "slow", 0.03),
    ("StopInstances", "503", 0.05), ("StopInstances", "throttle", 0.04), ("StopInstances", "drop_after", 0.04),
    ("StopInstances", "slow", 0.03),
    ("PutObject", "500", 0.05), ("PutObject", "drop_after", 0.04), ("PutObject", "slow", 0.02),
    ("GetObject", "503", 0.05), ("GetObject", "drop", 0.03),
]
ACTIONS = ("StartInstances", "StopInstances")


class Recorder:
    """A pass-through proxy in front of moto that records the StartInstances/StopInstances calls
    moto answered: (operation, instance ids, amz-sdk-invocation-id, status)."""

    def __init__(self, upstream: str):
        parsed = urllib.parse.urlsplit(upstream)
        target = (parsed.hostname, parsed.port)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: list[tuple[str, list[str], str, int]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else ~40 ms per answer (Nagle + delayed ACK)

            def log_message(self, *args):
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                conn = http.client.HTTPConnection(*target, timeout=600)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for k, v in self.headers.items():
                        if k.lower() not in ("connection", "keep-alive", "content-length", "transfer-encoding"):
                            conn.putheader(k, v)
                    conn.putheader("Content-Length", str(len(body)))
                    conn.endheaders(body)
                    resp = conn.getresponse()
                    answer = resp.read()
                    headers = resp.getheaders()
                    status = resp.status
                finally:
                    conn.close()
                if body[:200].find(b"Action=St") >= 0:
                    form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
                    op = form.get("Action", [""])[0]
                    if op in ACTIONS:
                        ids = [v[0] for k, v in form.items() if k.startswith("InstanceId.")]
                        recorder.calls.append((op, ids, self.headers.get("amz-sdk-invocation-id") or "", status))
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                try:
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def acted(self) -> dict[str, set[str]]:
        """instance id → the SDK invocations whose StartInstances/StopInstances moto carried out."""
        out: dict[str, set[str]] = collections.defaultdict(set)
        for _op, ids, invocation, status in list(self.calls):
            if status == 200:
                for i in ids:
                    out[i].add(invocation)
        return out

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def debug_binaries() -> Path:
    """The producer's and consumer's debug builds, brought up to date (seconds when they are).
    LIGHTSOUT_LOAD_BIN_DIR runs other builds instead (e.g. an older release, to see a test fail)."""
    if os.environ.get("LIGHTSOUT_LOAD_BIN_DIR"):
        return Path(os.environ["LIGHTSOUT_LOAD_BIN_DIR"])
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    subprocess.run(["cargo", "build", "-q", "-p", "sqs-producer", "-p", "sqs-consumer"], cwd=ROOT, check=True, timeout=1800)
    return target / "debug"


def launch_pool(ec2, count: int, tags: dict[str, str], state: str) -> list[str]:
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    ids: list[str] = []
    image = image_id(ec2)
    while len(ids) < count:
        n = min(200, count - len(ids))
        reply = ec2.run_instances(ImageId=image, MinCount=n, MaxCount=n, InstanceType="t3.micro", TagSpecifications=spec)
        ids += [i["InstanceId"] for i in reply["Instances"]]
    if state == "stopped":
        for k in range(0, len(ids), 500):
            ec2.stop_instances(InstanceIds=ids[k:k + 500])
    return ids


class Load:
    """CLIENTS threads posting until the deadline. Request n (one counter for all clients) is, by
    n % 20: 0-8 wake a stopped managed instance, 9-17 sleep a running one, 18 sleep an unmanaged
    one (the consumer refuses it), 19 an invalid body (the producer refuses it: 400)."""

    def __init__(self, url: str, stopped: list[str], running: list[str], unmanaged: list[str]):
        self.url = url
        self.pools = {"wake": iter(stopped), "sleep": iter(running)}
        self.unmanaged = unmanaged
        self.lock = threading.Lock()
        self.n = 0
        self.sent: dict[str, dict] = {}  # Idempotency-Key → what was asked and answered
        self.ran_out = False  # every instance of a pool had its request (the load is complete)

    def _next(self) -> tuple[str, str, bytes] | None:
        with self.lock:
            n = self.n
            self.n += 1
            kind = {18: "unmanaged", 19: "invalid"}.get(n % 20, "wake" if n % 20 <= 8 else "sleep")
            if kind in ("wake", "sleep"):
                instance = next(self.pools[kind], None)
                if instance is None:
                    self.ran_out = True
                    return None
            else:
                instance = self.unmanaged[n % len(self.unmanaged)]
        key = f"load-{n}"
        doc = {
            "wake": {"action": "wake", "instanceIds": [instance], "until": "2099-01-01T00:00:00Z", "requestedBy": key},
            "sleep": {"action": "sleep", "instanceIds": [instance], "requestedBy": key},
            "unmanaged": {"action": "sleep", "instanceIds": [instance], "requestedBy": key},
            "invalid": {"action": "reboot", "instanceIds": [instance], "requestedBy": key},
        }[kind]
        self.sent[key] = {"kind": kind, "instance": instance}
        return key, kind, json.dumps(doc).encode()

    def _client(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            item = self._next()
            if item is None:
                return
            key, _kind, body = item
            # A careful client: on a 5xx or no answer it tries again with the same key (the API
            # says a retry with the same Idempotency-Key is the same request), three times at most.
            attempts = self.sent[key]["attempts"] = []
            for attempt in range(3):
                status, answer = self._post(key, body)
                attempts.append((status, answer))
                if 0 < status < 500:
                    break
                time.sleep(0.2 * (attempt + 1))

    def _post(self, key: str, body: bytes) -> tuple[int, dict]:
        req = urllib.request.Request(f"{self.url}/requests", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Idempotency-Key": key})
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, {"raw": raw[:200].decode("utf-8", "replace")}
        except OSError as err:  # no answer at all: the client cannot know what happened
            return 0, {"error": str(err)}

    def run(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=self._client, args=(deadline,)) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def add_faults(proxy: FaultProxy) -> None:
    for operation, fault, fraction in FAULTS:
        proxy.add(operation, fault, fraction=fraction, delay=1.0)


@pytest.fixture
def pipeline(moto):
    binaries = debug_binaries()
    names = make_pipeline(moto.url, "lightsout-requests", VISIBILITY_TIMEOUT)
    recorder = Recorder(moto.url)
    proxy = FaultProxy(free_port(), recorder.url)
    settings = {"QUEUE_URL": names["queue"].replace(moto.url, proxy.url), "OUTCOMES_BUCKET": names["bucket"], "RUST_LOG": "info"}
    service = LambdaService(LOG_DIR, proxy.url, {
        "sqs-producer": (binaries / "sqs-producer", PRODUCERS, settings),
        "sqs-consumer": (binaries / "sqs-consumer", CONSUMERS, settings),
    })
    yield {**names, "service": service, "proxy": proxy, "recorder": recorder}
    service.stop()
    proxy.stop()
    recorder.stop()


def test_load_with_faults_loses_nothing_and_acts_at_most_once(moto, pipeline, capsys):
    t0 = time.monotonic()
    ec2 = moto.client("ec2")
    per_action = MAX_REQUESTS * 9 // 20 + 1
    managed = {"AUTOSTOP_ENABLE": "true", "TIME": "9~18"}
    stopped = launch_pool(ec2, per_action, managed, "stopped")
    running = launch_pool(ec2, per_action, managed, "running")
    unmanaged = launch_pool(ec2, 5, {"Name": "not-ours"}, "running")
    proxy: FaultProxy = pipeline["proxy"]
    service: LambdaService = pipeline["service"]
    add_faults(proxy)

    esm = EventSourceMapping(moto.url, pipeline["queue"], service.invoker("sqs-consumer"), pollers=POLLERS).start()
    load = Load(service.function_url("sqs-producer"), stopped, running, unmanaged)

    def outage():
        time.sleep(OUTAGE[0])
        proxy.add("StopInstances", "503")
        time.sleep(OUTAGE[1] - OUTAGE[0])
        proxy.clear()
        add_faults(proxy)

    outage_thread = threading.Thread(target=outage, daemon=True)
    started = time.monotonic()
    setup_s = started - t0
    outage_thread.start()
    load.run(LOAD_CAP_S)
    load_s = time.monotonic() - started
    outage_thread.join()
    drained = esm.wait_drained(timeout=120)
    drain_s = time.monotonic() - started - load_s
    esm.stop()
    proxy.clear()
    mapping = esm.stats()

    # --- what happened ------------------------------------------------------------------------
    recorded = outcomes(moto.url, pipeline["bucket"])
    dead = dead_letters(moto.url, pipeline["dlq"])
    acted = pipeline["recorder"].acted()
    final = states(ec2)
    sent = {k: v for k, v in load.sent.items() if v.get("attempts")}
    final_status = {k: v["attempts"][-1][0] for k, v in sent.items()}
    accepted = {k for k, st in final_status.items() if st == 200}
    for k in accepted:
        assert sent[k]["attempts"][-1][1].get("requestId") == k, sent[k]
    refused_4xx = {k for k, st in final_status.items() if 400 <= st < 500}
    # Never accepted, and some attempt may have queued it: 502 "may have been queued", or no answer.
    unconfirmed = {k for k, st in final_status.items()
                   if (st >= 500 or st == 0) and any(a[0] in (0, 502) for a in sent[k]["attempts"])}
    # Never accepted, and every attempt was answered "nothing was sent".
    refused_5xx = {k for k, st in final_status.items() if st >= 500 and k not in unconfirmed}
    seen = set(esm.deliveries)  # request ids the event source mapping delivered

    wanted = {"wake": "running", "sleep": "stopped"}

    def acts(k: str) -> int:
        return len(acted.get(sent[k]["instance"], ()))

    queued_twice = set(mapping["queued_more_than_once"])
    exactly_once, dead_lettered, dead_after_acting, lost, wrong, both = [], [], [], [], [], []
    for k in sorted(accepted):
        ask = sent[k]
        if k in recorded and k in dead:
            # Carried out (judged below like any other), and a message of it in the DLQ too: it
            # was queued twice and the other copy kept failing (in the outage); or a delivery
            # outlived the visibility timeout and SQS dead-lettered the message meanwhile; or the
            # outcome's write and its read-back both failed though the write had landed. A
            # redrive finds the outcome and acts no more. Counted, not a failure.
            both.append(k)
        if k in recorded:
            if ask["kind"] in wanted:
                ok = acts(k) == 1 and final.get(ask["instance"]) == wanted[ask["kind"]]
            else:
                ok = recorded[k]["status"] == "refused"
            (exactly_once if ok else wrong).append(k)
        elif k in dead:
            dead_lettered.append(k)
            if ask["kind"] in wanted and acts(k):
                dead_after_acting.append(k)
        else:
            lost.append(k)
    # Acted on more than once, however the request ended (accepted or not).
    double_acted = sorted(k for k in sent if sent[k]["kind"] in wanted and acts(k) > 1)
    unmanaged_acted = sorted(i for i in unmanaged if acted.get(i))
    # "Nothing was sent" must be true: never delivered, no outcome, not dead-lettered, no action.
    refused_but_queued = sorted(k for k in refused_4xx | refused_5xx
                                if k in seen or k in recorded or k in dead or (sent[k]["kind"] in wanted and acts(k)))
    unconfirmed_carried_out = sorted(k for k in unconfirmed if k in recorded)
    unconfirmed_dead = sorted(k for k in unconfirmed if k in dead and k not in recorded)
    outcome_words = collections.Counter(
        recorded[k]["instances"][0]["result"] for k in exactly_once if recorded[k].get("instances"))
    attempts = [a for v in sent.values() for a in v["attempts"]]
    answers = collections.Counter(a[0] for a in attempts)

    counts = {
        "requests (distinct Idempotency-Keys)": len(sent),
        "POSTs sent (with the clients' retries)": len(attempts),
        "answers by status (0 = no answer)": dict(sorted(answers.items())),
        "accepted (200 with its id)": len(accepted),
        "accepted after a retry": sum(1 for k in accepted if len(sent[k]["attempts"]) > 1),
        "refused by the producer: 4xx": len(refused_4xx),
        "refused by the producer: 5xx, nothing sent": len(refused_5xx),
        "not accepted, may have been queued (502 or no answer, retries used up)": len(unconfirmed),
        "carried out exactly once": len(exactly_once),
        "dead-lettered": len(dead_lettered),
        "dead-lettered after acting once": len(dead_after_acting),
        "lost": len(lost),
        "double-acted": len(double_acted),
        "carried out, and a message of it dead-lettered too": len(both),
        "  of which a delivery was reported carried out": sum(1 for k in both if esm.acknowledged[k]),
        "outcome recorded but EC2 state or calls wrong": len(wrong),
        "refused with nothing sent, but queued or acted on": len(refused_but_queued),
        "not accepted (may have been queued) but carried out": len(unconfirmed_carried_out),
        "not accepted (may have been queued) and dead-lettered": len(unconfirmed_dead),
        "unmanaged instances acted on": len(unmanaged_acted),
        "requests queued more than once (a SendMessage retried after a lost answer, or a client retry)": len(queued_twice),
        "requests delivered more than once": mapping["redelivered"],
    }
    lines = [
        f"Load: {CLIENTS} clients, {len(sent)} requests in {load_s:.0f} s, {PRODUCERS} producer and "
        f"{CONSUMERS} consumer instances (debug builds), {POLLERS} event source mapping pollers, visibility timeout "
        f"{VISIBILITY_TIMEOUT} s, StopInstances down from {OUTAGE[0]:.0f} s to {OUTAGE[1]:.0f} s; drained: {drained} "
        f"({drain_s:.0f} s after the load; set-up {setup_s:.0f} s).",
        "",
        "| count | value |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in counts.items()],
        "",
        f"Outcomes of the requests carried out exactly once: {dict(outcome_words)}",
        f"Faults injected: {dict(sorted(proxy.injected.items()))}",
        f"Calls seen by the fault proxy: {dict(sorted(proxy.counts.items()))}",
        "Event source mapping: " + json.dumps({k: v for k, v in mapping.items()
                                               if k not in ("queued_more_than_once", "redelivered_ids")}),
    ]
    report = "\n".join(lines) + "\n"
    (ROOT / ".local").mkdir(exist_ok=True)
    (ROOT / ".local" / "reliability-load-run.md").write_text(report)
    with capsys.disabled():
        print("\n" + report)

    assert load.ran_out, f"the clients sent {len(sent)} requests in {LOAD_CAP_S} s and did not finish"
    assert drained, f"the queue did not drain: {mapping}"
    # Of the ~400 requests (MAX_REQUESTS) 5 % are invalid on purpose; the careful client's retries get
    # nearly all the others accepted (95 % of them in the recorded runs) despite the faults.
    assert len(accepted) > 300, f"the producer accepted only {len(accepted)} of {len(sent)} requests"
    assert len(dead_lettered) > 0, "the StopInstances outage should have dead-lettered some sleeps"
    assert lost == [], f"accepted but neither carried out nor dead-lettered: {lost[:10]}"
    assert double_acted == [], [(k, sent[k], k in queued_twice, esm.deliveries[k], sorted(acted[sent[k]["instance"]]))
                                for k in double_acted[:5]]
    assert wrong == [], [(k, sent[k], recorded[k], sorted(acted.get(sent[k]["instance"], ()))) for k in wrong[:5]]
    assert refused_but_queued == [], [(k, sent[k]) for k in refused_but_queued[:5]]
    assert all(acts(k) <= 1 for k in unconfirmed)
    assert unmanaged_acted == []
    assert len(accepted) == len(exactly_once) + len(dead_lettered)


# --- the two ways a request could be carried out twice, one at a time ----------------------------


def managed_box(ec2, state: str) -> str:
    return launch_pool(ec2, 1, {"AUTOSTOP_ENABLE": "true", "TIME": "9~18"}, state)[0]


def test_a_5xx_says_whether_the_request_may_have_been_queued(moto, pipeline):
    """SendMessage whose answers are lost (it reached SQS each time): the producer cannot know it
    was queued, so it must not say "nothing was sent". It answers 502 with the request id; the
    client's retry with that Idempotency-Key is the same request, carried out once although it is
    now queued four times. A refusal SQS answered (throttling) is 500 "nothing was sent", and
    nothing was."""
    ec2 = moto.client("ec2")
    sqs = moto.client("sqs")
    box = managed_box(ec2, "stopped")
    proxy: FaultProxy = pipeline["proxy"]
    service: LambdaService = pipeline["service"]
    load = Load(service.function_url("sqs-producer"), [], [], [])
    body = json.dumps({"action": "wake", "instanceIds": [box], "until": "2099-01-01T00:00:00Z"}).encode()

    proxy.add("SendMessage", "throttle", times=3)  # every attempt of one call
    status, answer = load._post("refused-1", body)
    assert (status, answer) == (500, {"message": "The request could not be queued (RequestThrottled); "
                                                 "nothing was sent, please try again"})
    depth = lambda: int(sqs.get_queue_attributes(QueueUrl=pipeline["queue"], AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])  # noqa: E731
    assert depth() == 0

    proxy.add("SendMessage", "drop_after", times=3)
    status, answer = load._post("wake-1", body)
    assert status == 502, answer
    assert answer["requestId"] == "wake-1"
    assert "it may have been queued" in answer["message"] and "Idempotency-Key: wake-1" in answer["message"]
    assert depth() == 3, "each attempt reached the queue"
    status, answer = load._post("wake-1", body)
    assert (status, answer["requestId"]) == (200, "wake-1")
    assert depth() == 4

    esm = EventSourceMapping(moto.url, pipeline["queue"], service.invoker("sqs-consumer"), pollers=POLLERS).start()
    assert esm.wait_drained(timeout=60)
    esm.stop()
    # Four copies, each delivered and deleted. A copy received while another holds the request's
    # claim fails its delivery and is received again after the visibility timeout (then it finds
    # the outcome), so deliveries may exceed four: count the copies, not the deliveries.
    assert len(esm.message_ids["wake-1"]) == 4, dict(esm.message_ids)
    assert esm.acknowledged["wake-1"] == 4, (esm.deliveries, esm.acknowledged)
    assert "refused-1" not in esm.deliveries
    assert states(ec2, [box]) == {box: "running"}
    assert len(pipeline["recorder"].acted()[box]) == 1, "one StartInstances call (with its SDK retries) for four copies"
    assert set(outcomes(moto.url, pipeline["bucket"])) == {"wake-1"}
    assert dead_letters(moto.url, pipeline["dlq"]) == collections.Counter()


def test_two_deliveries_at_the_same_time_act_once(moto, pipeline):
    """SQS may deliver a message again while its first delivery is still being carried out (a
    visibility timeout shorter than the work, or SQS's own at-least-once delivery). The second
    delivery must not act: it finds the first one's claim and fails, to come back later; by then
    the outcome is recorded and it is acknowledged."""
    ec2 = moto.client("ec2")
    sqs = moto.client("sqs")
    box = managed_box(ec2, "stopped")
    proxy: FaultProxy = pipeline["proxy"]
    service: LambdaService = pipeline["service"]
    status, _ = Load(service.function_url("sqs-producer"), [], [], [])._post(
        "wake-2", json.dumps({"action": "wake", "instanceIds": [box], "until": "2099-01-01T00:00:00Z"}).encode())
    assert status == 200
    [message] = sqs.receive_message(QueueUrl=pipeline["queue"], AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
    arn = sqs.get_queue_attributes(QueueUrl=pipeline["queue"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    event = {"Records": sqs_records([message], arn)}
    invoke = service.invoker("sqs-consumer")

    proxy.add("StartInstances", "hold")  # the first delivery stops just before it acts
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(invoke(event)), daemon=True)
    worker.start()
    proxy.wait_held("StartInstances", timeout=60)
    # Meanwhile, the same message again, to another consumer instance.
    second: dict = {}
    other = threading.Thread(target=lambda: second.update(invoke(event)), daemon=True)
    other.start()
    other.join(timeout=30)
    assert proxy.counts["StartInstances"] == 1, "the second delivery tried to act too"
    assert second == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    proxy.release("StartInstances")
    worker.join(timeout=60)
    assert first == {"batchItemFailures": []}
    # The second delivery's retry finds the outcome.
    assert invoke(event) == {"batchItemFailures": []}
    assert states(ec2, [box]) == {box: "running"}
    assert len(pipeline["recorder"].acted()[box]) == 1
    assert outcomes(moto.url, pipeline["bucket"])["wake-2"]["instances"][0]["result"] == "started"
