"""The local AWS stand-in: moto in server mode and `cargo lambda watch`, on free loopback ports.

Used by the pytest suite (tests/conftest.py) and by the demo (scripts/demo.py). Everything is
started by this module and stopped by its owner; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
REGION = "ap-northeast-2"
# moto accepts any credentials, but requests must be signed.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


# Under pytest-xdist each worker takes its ports from a block of its own, below Linux's ephemeral
# range (32768-60999, where connections get their local ports): one worker's just-freed port is
# never handed to another worker's stand-in before it binds it.
_PORT_BLOCK = 1000
_next_port: list[int] = []


def free_port() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not worker[2:].isdigit() or int(worker[2:]) >= 12:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    first = 20000 + _PORT_BLOCK * int(worker[2:])
    if not _next_port:
        _next_port.append(first)
    for _ in range(_PORT_BLOCK):
        port = _next_port[0]
        _next_port[0] = first + (port + 1 - first) % _PORT_BLOCK
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}-{first + _PORT_BLOCK - 1} for pytest-xdist worker {worker}")


def _wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not listen on {port} within {timeout}s")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _venv_bin(name: str) -> str:
    """A tool from the project's venv (the one running this), else from PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


class Moto:
    """moto_server on a free loopback port. `reset()` empties every service between tests."""

    def __init__(self, log_dir: Path, lambda_port: int | None = None):
        """`lambda_port`: where moto's Step Functions engine sends Lambda invocations (and its other
        service calls): a LambdaRouter listening there. Without it, moto uses its own port."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_dir / f"moto-{self.port}.log", "wb")
        env = dict(os.environ)
        env["MOTO_PORT"] = str(lambda_port or self.port)
        self.proc = subprocess.Popen(
            [_venv_bin("moto_server"), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        _wait_for_port(self.port, self.proc, "moto_server", 30)

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def execute_state_machines(self) -> None:
        """Switches on moto's Step Functions interpreter (off by default: executions then do nothing)."""
        body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
        req = urllib.request.Request(f"{self.url}/moto-api/config", data=body, method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def client(self, service: str, region: str = REGION):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        _stop(self.proc)
        self.log.close()


class FunctionError(Exception):
    """A function ended in error: `error_type` is what Step Functions and alarms match on."""

    def __init__(self, error_type: str, message: str):
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class Watch:
    """`cargo lambda watch` serving the workspace's functions through the Lambda Invoke API.

    `env` are the function's settings (its Lambda environment variables). `moto` is the stand-in
    (anything with a `url`: moto, or a proxy in front of it) that the functions' AWS calls go to.

    Callers reach watch through a front door on `port` that passes every request on unchanged and
    registers each invocation, with its event and these settings, while it runs
    (`calls.INVOCATIONS`): the permission test judges each AWS call under the invocation it was
    made in."""

    def __init__(self, moto: Moto, log_dir: Path, env: dict[str, str] | None = None):
        self.env = dict(env or {})
        self.inner_port = free_port()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environment = dict(os.environ)
        environment.update(DUMMY_CREDENTIALS)
        environment.update(
            {
                "AWS_ENDPOINT_URL": moto.url,
                "AWS_REGION": REGION,
                "AWS_DEFAULT_REGION": REGION,
                # The SDK would otherwise probe the instance metadata service.
                "AWS_EC2_METADATA_DISABLED": "true",
                "RUST_LOG": environment.get("RUST_LOG", "info"),
            }
        )
        args = [
            _venv_bin("cargo-lambda"), "lambda", "watch", "--ignore-changes",
            "-A", "127.0.0.1", "-P", str(self.inner_port),
        ]
        if env:
            # An env file, not --env-var: that flag splits values on commas (REGIONS=a,b).
            env_file = log_dir / f"watch-{self.port}.env"
            env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
            args += ["--env-file", str(env_file)]
        self.log_path = log_dir / f"watch-{self.port}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        _wait_for_port(self.inner_port, self.proc, "cargo lambda watch", 60)
        self.front = _FrontDoor(self.port, f"http://127.0.0.1:{self.inner_port}", self.env)

    def invoke(self, function: str, payload: object = None, timeout: float = 900) -> dict:
        """Invokes `function` and returns its JSON answer, or raises FunctionError.

        The first call of a function compiles it (`timeout` covers that)."""
        body = json.dumps(payload if payload is not None else {}).encode()
        req = urllib.request.Request(
            f"{self.url}/2015-03-31/functions/{function}/invocations",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                answer = json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                answer = json.loads(raw)
            except ValueError:
                raise RuntimeError(f"{function}: HTTP {err.code}: {raw[:500]!r}") from None
            if isinstance(answer, dict) and "errorType" in answer:
                raise FunctionError(answer["errorType"], answer.get("errorMessage", "")) from None
            raise RuntimeError(f"{function}: HTTP {err.code}: {answer}") from None
        if isinstance(answer, dict) and "errorType" in answer and "errorMessage" in answer:
            raise FunctionError(answer["errorType"], answer["errorMessage"])
        return answer

    def stop(self) -> None:
        self.front.stop()
        _stop(self.proc)
        self.log.close()


class _FrontDoor:
    """Passes every request to `cargo lambda watch` unchanged; registers each invocation
    (`/2015-03-31/functions/<name>/invocations`, `/lambda-url/<name>/...`) while it runs."""

    def __init__(self, port: int, inner: str, env: dict[str, str]):
        import http.client
        import http.server
        import threading

        import calls
        from calls import INVOCATIONS, Invocation

        target = urllib.parse.urlsplit(inner)

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                name, payload = None, None
                if path.startswith("/2015-03-31/functions/") and path.endswith("/invocations"):
                    name = path[len("/2015-03-31/functions/"):-len("/invocations")].split(":function:")[-1].split(":")[0]
                    try:
                        payload = json.loads(body or b"null")
                    except (ValueError, RecursionError):  # the bad-input tests send such bodies
                        payload = None
                elif path.startswith("/lambda-url/"):
                    name = path.split("/")[2]
                    payload = {"method": self.command, "path": path}
                invocation = Invocation(name, payload, env) if name else None
                if invocation:
                    INVOCATIONS.begin(invocation)
                    if calls.RECORDER is not None:
                        calls.RECORDER.event_source_calls(invocation)
                try:
                    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=900)
                    try:
                        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
                        conn.request(self.command, self.path, body=body if body or self.command in ("POST", "PUT") else None, headers=headers)
                        resp = conn.getresponse()
                        answer = resp.read()
                        out = [(k, v) for k, v in resp.getheaders()
                               if k.lower() not in ("content-length", "transfer-encoding", "connection")]
                        status = resp.status
                    finally:
                        conn.close()
                except (ConnectionError, http.client.HTTPException, OSError) as err:
                    status, out = 502, [("Content-Type", "application/json")]
                    answer = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": f"watch did not answer: {err}"}).encode()
                finally:
                    if invocation:
                        INVOCATIONS.end(invocation)
                try:
                    self.send_response(status)
                    for k, v in out:
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class LambdaRouter:
    """Stands between moto's Step Functions engine and the functions.

    moto sends a Task's Lambda invocation to `POST /2015-03-31/functions/<function ARN>/invocations`
    on its MOTO_PORT; this router serves that port. It sends the invocation to `cargo lambda watch`
    under the function's name (the part of the ARN after `:function:`), and turns watch's
    HTTP 500 `{errorType, errorMessage}` into what Lambda answers: 200 with
    `X-Amz-Function-Error: Unhandled`, so Retry/Catch see the function's error type. Every other
    request (SNS publish, …) goes to moto unchanged.

    `fail_next(name, error_type, times)` makes the next invocations of a function fail before they
    reach it, as a transient fault would; `invocations` counts what each function was asked."""

    def __init__(self, port: int, moto_url: str, watch_url: str):
        import collections
        import http.client
        import http.server
        import threading

        self.port = port
        # Where invocations go; a test may point it at another `cargo lambda watch` for a while.
        self.watch_url = watch_url
        self.invocations: collections.Counter[str] = collections.Counter()
        self.faults: dict[str, list[str]] = {}
        router = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without TCP_NODELAY, Nagle and the
            # peer's delayed ACK add ~40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def _relay(self, url: str, body: bytes) -> tuple[int, dict, bytes]:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                req = urllib.request.Request(url, data=body if self.command != "GET" else None, method=self.command, headers=headers)
                try:
                    with urllib.request.urlopen(req, timeout=900) as resp:
                        return resp.status, dict(resp.headers), resp.read()
                except urllib.error.HTTPError as err:
                    return err.code, dict(err.headers), err.read()

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.unquote(self.path)
                if path.startswith("/2015-03-31/functions/") and path.endswith("/invocations"):
                    arn = path[len("/2015-03-31/functions/"):-len("/invocations")]
                    name = arn.split(":function:")[-1].split(":")[0]
                    router.invocations[name] += 1
                    router.record_invoke(arn)
                    pending = router.faults.get(name) or []
                    if pending:
                        error_type = pending.pop(0)
                        payload = json.dumps({"errorType": error_type, "errorMessage": f"injected {error_type}"}).encode()
                        return self._reply(200, {"X-Amz-Function-Error": "Unhandled"}, payload)
                    try:
                        status, _, answer = self._relay(f"{router.watch_url}/2015-03-31/functions/{name}/invocations", body)
                    except (urllib.error.URLError, ConnectionError, http.client.HTTPException) as err:
                        # The function's process died mid-invocation (a test killed it): Lambda
                        # answers such an invocation with Runtime.ExitError.
                        status = 502
                        answer = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": f"the runtime exited: {err}"}).encode()
                    extra = {"X-Amz-Function-Error": "Unhandled"} if status >= 400 else {}
                    return self._reply(200 if status >= 400 else status, extra, answer)
                observed = router.observe_before(self.command, self.path, self.headers, body)
                status, headers, answer = self._relay(f"{moto_url}{self.path}", body)
                router.observe_after(observed, status, answer)
                keep = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date")}
                return self._reply(status, keep, answer)

            def _reply(self, status: int, headers: dict, body: bytes):
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # The calls moto's Step Functions engine makes are the state machine's role's calls.
    STATE_MACHINE = "AlbSchedulerStateMachine"

    def record_invoke(self, arn: str) -> None:
        import calls

        if calls.RECORDER is not None:
            function = arn if arn.startswith("arn:") else f"arn:aws:lambda:{REGION}:{calls.ACCOUNT}:function:{arn}"
            with calls.RECORDER._lock:
                calls.RECORDER.calls.append(calls.Call(self.STATE_MACHINE, "lambda:InvokeFunction", function, {}, operation="Invoke"))

    def observe_before(self, method: str, path: str, headers, body: bytes):
        import calls
        from faults import operation_of, service_of

        if calls.RECORDER is None:
            return None
        service = service_of(headers)
        return calls.RECORDER.before(service, operation_of(method, path, headers, body, service), method, path, headers, body,
                                     function=self.STATE_MACHINE)

    def observe_after(self, observed, status: int, answer: bytes) -> None:
        import calls

        if calls.RECORDER is not None:
            calls.RECORDER.after(observed, status, answer)

    def fail_next(self, function: str, error_type: str, times: int = 1) -> None:
        self.faults.setdefault(function, []).extend([error_type] * times)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- EC2 helpers shared by the tests and the demo -------------------------------------------


def image_id(ec2) -> str:
    return ec2.describe_images()["Images"][0]["ImageId"]


def launch(ec2, tags: dict[str, str], count: int = 1, state: str = "running") -> list[str]:
    """Launches `count` instances in one reservation with `tags`, then brings them to `state`."""
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    reply = ec2.run_instances(
        ImageId=image_id(ec2), MinCount=count, MaxCount=count, InstanceType="t3.micro", TagSpecifications=spec
    )
    ids = [i["InstanceId"] for i in reply["Instances"]]
    if state == "stopped":
        ec2.stop_instances(InstanceIds=ids)
    return ids


def states(ec2, ids: list[str] | None = None) -> dict[str, str]:
    """Instance id → state name, read independently of the function under test."""
    out: dict[str, str] = {}
    paginator = ec2.get_paginator("describe_instances")
    kwargs = {"InstanceIds": ids} if ids else {}
    for page in paginator.paginate(**kwargs):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                out[instance["InstanceId"]] = instance["State"]["Name"]
    return out


def tags_of(ec2, instance_id: str) -> dict[str, str]:
    """The instance's tags, key → value."""
    found = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [instance_id]}])["Tags"]
    return {t["Key"]: t["Value"] for t in found}


def auto_scaling_group(moto: Moto, ec2, name: str, tags: dict[str, str], size: int = 1) -> list[str]:
    """An EC2 Auto Scaling group whose members carry `tags` (moto adds aws:autoscaling:groupName,
    as AWS does). Returns the member instance ids."""
    autoscaling = moto.client("autoscaling")
    autoscaling.create_launch_configuration(LaunchConfigurationName=name, ImageId=image_id(ec2), InstanceType="t3.micro")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchConfigurationName=name,
        MinSize=size,
        MaxSize=size,
        AvailabilityZones=["ap-northeast-2a"],
        Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True} for k, v in tags.items()],
    )
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return [i["InstanceId"] for i in group["Instances"]]
