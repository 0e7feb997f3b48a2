"""A fault-injecting HTTP proxy between the functions and moto.

Point a function's `AWS_ENDPOINT_URL` at `FaultProxy.url`; every AWS call then passes through the
proxy, which counts it by operation and, where a rule says so, answers it with a fault instead of
(or besides) forwarding it to moto:

| fault        | what the function sees                                                                 |
|--------------|----------------------------------------------------------------------------------------|
| `throttle`   | the service's own throttling error in its own protocol (see `throttle_answer`)         |
| `500`, `503` | an internal error / service unavailable answer in the service's protocol               |
| `slow`       | the real answer, `delay` seconds late (long enough and the SDK's attempt timeout hits) |
| `drop`       | the connection is closed after the request is read, before it reaches moto             |
| `drop_after` | the request reaches moto (it takes effect), then the connection is closed unanswered   |
| `hold`       | the request is held (not forwarded) until `release()`; for killing a function mid-call |

Operation names: query protocol (EC2, ELBv2, SNS) → `Action=` of the form body or query string;
JSON protocol (SQS, Step Functions) → the `X-Amz-Target` suffix; REST (Route 53, S3) → from method
and path (`POST /2013-04-01/hostedzone/{id}/rrset` → `ChangeResourceRecordSets`, S3 `PUT` of an
object → `PutObject`, …). The service comes from the SigV4 credential scope of the request.

Requests are forwarded with their headers as the client sent them (the Host header included, so
the SigV4 signature still matches what was signed) and with the body read whole (chunked transfer
encoding is de-chunked and forwarded with a Content-Length).
"""

from __future__ import annotations

import collections
import http.client
import http.server
import json
import random
import re
import socket
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field

FAULTS = ("throttle", "500", "503", "slow", "drop", "drop_after", "hold")

# Request headers not forwarded as they are: hop-by-hop ones, and the length (recomputed).
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "content-length", "expect",
}
# Response headers the proxy sets itself.
_ANSWER_SKIP = _HOP_BY_HOP | {"server", "date"}

_CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")
_SCOPE_REGION = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/[^/]+/aws4_request")

# Route 53 REST paths → operation names (method, path pattern with the API version stripped).
_ROUTE53 = [
    ("POST", r"/hostedzone/[^/]+/rrset/?", "ChangeResourceRecordSets"),
    ("GET", r"/hostedzone/[^/]+/rrset/?", "ListResourceRecordSets"),
    ("GET", r"/hostedzone/[^/]+", "GetHostedZone"),
    ("DELETE", r"/hostedzone/[^/]+", "DeleteHostedZone"),
    ("POST", r"/hostedzone/[^/]+", "UpdateHostedZoneComment"),
    ("GET", r"/hostedzone/?", "ListHostedZones"),
    ("POST", r"/hostedzone/?", "CreateHostedZone"),
    ("GET", r"/hostedzonesbyname/?", "ListHostedZonesByName"),
    ("GET", r"/hostedzonecount/?", "GetHostedZoneCount"),
    ("GET", r"/change/[^/]+", "GetChange"),
    ("GET", r"/tags/[^/]+/[^/]+", "ListTagsForResource"),
    ("POST", r"/tags/[^/]+/[^/]+", "ChangeTagsForResource"),
    ("GET", r"/healthcheck/?", "ListHealthChecks"),
    ("POST", r"/healthcheck/?", "CreateHealthCheck"),
]

# S3 bucket sub-resources (query keys) → the operation's noun, for GetBucketX/PutBucketX/DeleteBucketX.
_S3_BUCKET_SUBRESOURCES = {
    "versioning": "Versioning", "encryption": "Encryption", "policy": "Policy", "tagging": "Tagging",
    "lifecycle": "LifecycleConfiguration", "cors": "Cors", "acl": "Acl", "location": "Location",
    "publicAccessBlock": "PublicAccessBlock", "notification": "NotificationConfiguration",
    "ownershipControls": "OwnershipControls", "logging": "Logging", "website": "Website",
    "replication": "Replication", "object-lock": "ObjectLockConfiguration",
}


def service_of(headers) -> str | None:
    """The signing name of the request's service (`ec2`, `elasticloadbalancing`, `route53`, `sqs`,
    `s3`, …), from the SigV4 credential scope of its Authorization header or presigned query."""
    auth = headers.get("Authorization") or ""
    m = _CREDENTIAL.search(auth)
    if m:
        return m.group(1)
    return None


def region_of(headers) -> str | None:
    """The region the request is signed for, from the SigV4 credential scope."""
    m = _SCOPE_REGION.search(headers.get("Authorization") or "")
    return m.group(1) if m else None


def operation_of(method: str, raw_path: str, headers, body: bytes, service: str | None = None) -> str:
    """The AWS operation a request calls."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    parsed = urllib.parse.urlsplit(raw_path)
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    if "Action" in query:
        return query["Action"][0]
    content_type = (headers.get("Content-Type") or "").lower()
    if body and "x-www-form-urlencoded" in content_type:
        action = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    path = parsed.path
    if service == "route53" or (service is None and path.startswith("/2013-04-01/")):
        rest = path[len("/2013-04-01"):] if path.startswith("/2013-04-01") else path
        for verb, pattern, name in _ROUTE53:
            if method == verb and re.fullmatch(pattern, rest):
                return name
        return f"{method} {rest}"
    return _s3_operation(method, path, query, headers)


def _s3_operation(method: str, path: str, query: dict, headers) -> str:
    parts = path.lstrip("/").split("/", 1)
    bucket = parts[0]
    key = parts[1] if len(parts) > 1 else ""
    if not bucket:
        return "ListBuckets" if method == "GET" else f"{method} /"
    if key:
        if "uploads" in query:
            return "CreateMultipartUpload" if method == "POST" else "ListMultipartUploads"
        if "uploadId" in query:
            return {
                "PUT": "UploadPart", "POST": "CompleteMultipartUpload",
                "DELETE": "AbortMultipartUpload", "GET": "ListParts",
            }.get(method, f"{method} object")
        if "tagging" in query:
            return {"GET": "GetObjectTagging", "PUT": "PutObjectTagging", "DELETE": "DeleteObjectTagging"}.get(
                method, f"{method} object tagging"
            )
        if method == "PUT":
            return "CopyObject" if headers.get("x-amz-copy-source") else "PutObject"
        return {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, f"{method} object")
    for sub, noun in _S3_BUCKET_SUBRESOURCES.items():
        if sub in query:
            prefix = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, method)
            return f"{prefix}Bucket{noun}"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    if method == "GET" and "versions" in query:
        return "ListObjectVersions"
    if method == "GET" and "uploads" in query:
        return "ListMultipartUploads"
    return {
        "PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket",
        "GET": "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects",
    }.get(method, f"{method} bucket")


def _query_xml_error(status: int, code: str, message: str, sender: bool) -> tuple[int, dict, bytes]:
    """awsQuery protocol (ELBv2, SNS, …) and Route 53's REST-XML: an ErrorResponse document."""
    request_id = str(uuid.uuid4())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<ErrorResponse><Error>"
        f"<Type>{'Sender' if sender else 'Receiver'}</Type><Code>{code}</Code><Message>{message}</Message>"
        f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body.encode()


def fault_answer(service: str | None, fault: str, target: str | None = None) -> tuple[int, dict, bytes]:
    """(status, headers, body) of a throttling (`throttle`) or server (`500`, `503`) error as
    `service` sends it in its own protocol."""
    request_id = str(uuid.uuid4())
    if fault == "throttle":
        codes = {
            "ec2": (503, "RequestLimitExceeded", "Request limit exceeded."),
            "s3": (503, "SlowDown", "Please reduce your request rate."),
            "sqs": (400, "ThrottlingException", "Rate exceeded"),
        }
        status, code, message = codes.get(service or "", (400, "Throttling", "Rate exceeded"))
        sender = True
    elif fault == "500":
        codes = {"ec2": "InternalError", "s3": "InternalError", "sqs": "InternalFailure"}
        status, code, message, sender = 500, codes.get(service or "", "InternalFailure"), "We encountered an internal error.", False
    elif fault == "503":
        codes = {"ec2": "Unavailable", "s3": "ServiceUnavailable", "sqs": "ServiceUnavailable"}
        status, code, message, sender = 503, codes.get(service or "", "ServiceUnavailable"), "Service is unavailable.", False
    else:
        raise ValueError(f"not an error fault: {fault}")

    if service == "ec2":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
        return status, {"Content-Type": "text/xml;charset=UTF-8"}, body.encode()
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        return status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body.encode()
    if service == "sqs" or target:
        # JSON protocol. SQS is @awsQueryCompatible: the SDK takes the error code from the
        # X-Amzn-Query-Error header (`RequestThrottled` for throttling, as the query API named it).
        prefix = "com.amazonaws.sqs#" if service == "sqs" else ""
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}
        if service == "sqs":
            query_code = {"ThrottlingException": "RequestThrottled"}.get(code, code)
            headers["x-amzn-query-error"] = f"{query_code};{'Sender' if sender else 'Receiver'}"
        return status, headers, json.dumps({"__type": prefix + code, "message": message}).encode()
    return _query_xml_error(status, code, message, sender)


@dataclass
class _Rule:
    operation: str
    fault: str
    times: int | None
    fraction: float | None
    delay: float
    service: str | None
    skip: int = 0
    path: str | None = None
    region: str | None = None
    fired: int = 0
    seen: int = 0

    def matches(self, service: str | None, operation: str, path: str, region: str | None = None) -> bool:
        if self.operation not in ("*", operation):
            return False
        if self.path is not None and self.path not in path:
            return False
        if self.region is not None and self.region != region:
            return False
        return self.service is None or self.service == service


@dataclass
class _Hold:
    """A held call: `arrived` is set when it is being held, `release` lets it go."""

    operation: str
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    forward: bool = True


class FaultProxy:
    """See the module docstring. `counts` are the calls seen per operation (faulted ones included);
    `injected` the faults injected per `operation:fault`; `calls` every call in order, as
    (service, operation)."""

    def __init__(self, port: int, upstream: str, seed: int = 20261125, observer=None):
        """`observer`: told of every call that is forwarded (`before(service, operation, method,
        path, headers, body)` returns what `after(that, status, answer)` is given), e.g. the
        permission test's `calls.Recorder`."""
        self.port = port
        self.observer = observer
        self.url = f"http://127.0.0.1:{port}"
        parsed = urllib.parse.urlsplit(upstream)
        self._upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.counts: collections.Counter[str] = collections.Counter()
        self.injected: collections.Counter[str] = collections.Counter()
        self.calls: list[tuple[str | None, str]] = []
        self._rules: list[_Rule] = []
        self._holds: dict[str, _Hold] = {}
        self._rng = random.Random(seed)
        self._seed = seed
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are separate writes: without TCP_NODELAY, Nagle's algorithm and the
            # client's delayed ACK would add ~40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    chunks = []
                    while True:
                        size_line = self.rfile.readline()
                        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            # Trailers, up to the empty line.
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self):
                body = self._body()
                service = service_of(self.headers)
                op = operation_of(self.command, self.path, self.headers, body, service)
                rule = proxy._decide(service, op, self.path, region_of(self.headers))
                fault = rule.fault if rule else None
                # Seen as it arrives: a call held until its function was killed still belongs to
                # the invocation that made it.
                observed = proxy.observer.before(service, op, self.command, self.path, self.headers, body) if proxy.observer else None
                try:
                    if fault in ("throttle", "500", "503"):
                        status, headers, answer = fault_answer(service, fault, self.headers.get("X-Amz-Target"))
                        if self.command == "HEAD":
                            answer = b""
                        return self._reply(status, headers, answer)
                    if fault == "drop":
                        return self._drop()
                    if fault == "slow":
                        time.sleep(rule.delay)
                    if fault == "hold":
                        hold = proxy._holds.get(op) or proxy._holds.setdefault(op, _Hold(op))
                        hold.arrived.set()
                        while not hold.release.wait(0.1):
                            pass
                        if not hold.forward:
                            return self._drop()
                    status, headers, answer = self._forward(body)
                    if proxy.observer:
                        proxy.observer.after(observed, status, answer)
                    if fault == "drop_after":
                        return self._drop()
                    self._reply(status, headers, answer)
                except (BrokenPipeError, ConnectionResetError, socket.timeout):
                    # The client gave up (its timeout) while the answer was on its way.
                    self.close_connection = True

            def _forward(self, body: bytes) -> tuple[int, list, bytes]:
                conn = http.client.HTTPConnection(*proxy._upstream, timeout=600)
                try:
                    conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for k, v in self.headers.items():
                        if k.lower() not in _HOP_BY_HOP:
                            conn.putheader(k, v)
                    if body or self.command in ("POST", "PUT", "PATCH"):
                        conn.putheader("Content-Length", str(len(body)))
                    conn.endheaders(body or None)
                    resp = conn.getresponse()
                    answer = resp.read()
                    headers = [(k, v) for k, v in resp.getheaders()]
                    if self.command == "HEAD":
                        # A HEAD answer's Content-Length is the object's size: keep it.
                        headers = [(k, v) for k, v in headers if k.lower() not in _ANSWER_SKIP - {"content-length"}]
                    else:
                        headers = [(k, v) for k, v in headers if k.lower() not in _ANSWER_SKIP]
                    return resp.status, headers, answer
                finally:
                    conn.close()

            def _reply(self, status: int, headers, answer: bytes):
                self.send_response(status)
                items = headers.items() if isinstance(headers, dict) else headers
                has_length = False
                for k, v in items:
                    if k.lower() == "content-length":
                        has_length = True
                    self.send_header(k, v)
                if not has_length:
                    self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                if self.command != "HEAD" and answer:
                    self.wfile.write(answer)
                self.wfile.flush()

            def _drop(self):
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # --- rules ---------------------------------------------------------------------------------

    def add(
        self,
        operation: str,
        fault: str,
        times: int | None = None,
        fraction: float | None = None,
        delay: float = 2.0,
        service: str | None = None,
        skip: int = 0,
        path: str | None = None,
        region: str | None = None,
    ) -> None:
        """Injects `fault` on calls of `operation` (`*`: every operation), optionally only of
        `service` (signing name: `ec2`, `elasticloadbalancing`, `route53`, `sqs`, `s3`, …).

        `times`: on the next N matching calls. `fraction`: on that share of matching calls (seeded,
        so repeatable). Both: that share, at most N times. Neither: on every matching call.
        `region`: only calls signed for that region. The first
        rule (in the order added) that fires on a call wins."""
        if fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}, not {fault!r}")
        if fraction is not None and not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within 0..1")
        with self._lock:
            self._rules.append(_Rule(operation, fault, times, fraction, delay, service, skip, path, region))
            if fault == "hold":
                self._holds.setdefault(operation, _Hold(operation))

    def clear(self) -> None:
        """Removes every rule and lets every held call go on (forwarded). Counts are kept."""
        with self._lock:
            self._rules.clear()
            holds = list(self._holds.values())
            self._holds.clear()
        for hold in holds:
            hold.release.set()

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.injected.clear()
            self.calls.clear()
            self._rng = random.Random(self._seed)

    def _decide(self, service: str | None, op: str, path: str = "", region: str | None = None) -> _Rule | None:
        with self._changed:
            self.counts[op] += 1
            self.calls.append((service, op))
            chosen = None
            for rule in self._rules:
                if not rule.matches(service, op, path, region):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.fraction is not None and self._rng.random() >= rule.fraction:
                    continue
                rule.fired += 1
                chosen = rule
                break
            if chosen is not None:
                self.injected[f"{op}:{chosen.fault}"] += 1
            self._changed.notify_all()
            return chosen

    # --- waiting and holding -------------------------------------------------------------------

    def wait_for(self, operation: str, count: int = 1, timeout: float = 60.0) -> None:
        """Blocks until `operation` has been called at least `count` times."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.counts[operation] < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{operation} called {self.counts[operation]} times, expected {count}")
                self._changed.wait(left)

    def wait_held(self, operation: str, timeout: float = 60.0) -> None:
        """Blocks until a call of `operation` is being held by a `hold` rule."""
        with self._lock:
            hold = self._holds.setdefault(operation, _Hold(operation))
        if not hold.arrived.wait(timeout):
            raise TimeoutError(f"no {operation} call arrived within {timeout}s")

    def release(self, operation: str, forward: bool = True) -> None:
        """Lets held calls of `operation` go: forwarded to moto, or (`forward=False`) dropped."""
        with self._lock:
            self._rules = [r for r in self._rules if not (r.fault == "hold" and r.operation == operation)]
            hold = self._holds.pop(operation, None)
        if hold is not None:
            hold.forward = forward
            hold.release.set()

    def stop(self) -> None:
        self.clear()
        self.server.shutdown()
        self.server.server_close()
