"""The ALB workflow benchmark: full off→on and on→off cycles of statemachine/alb-scheduler.asl.json,
run by moto's Step Functions interpreter, with the five functions as warm release processes (Rust)
or awslambdaric processes (the Python baselines) behind the same Lambda Invoke API.

Pieces: moto's engine sends each Task's invocation to its MOTO_PORT, where tests/harness.py's
LambdaRouter listens; the router passes it to a `FunctionPool` here, which hands the event to that
function's long-lived process through its own Runtime API server (runtime_api.py), as Lambda does
with a warm execution environment. The functions' AWS calls go through the counting proxy.
"""

from __future__ import annotations

import http.server
import json
import queue
import statistics
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

from harness import REGION, LambdaRouter, Moto, free_port
from runtime_api import RuntimeApi

ACCOUNT = "123456789012"
# The ASL's placeholders → the function each stands for.
FUNCTIONS = {
    "CheckExistingALB": "check-existing-alb",
    "CreateALB": "create-alb",
    "DeleteALB": "delete-alb",
    "CreateRoute53Record": "create-route53-record",
    "DeleteRoute53Record": "delete-route53-record",
}
ON = "2026-11-25T10:00:00+09:00"  # inside 9–18: the ALB should exist
OFF = "2026-11-25T20:00:00+09:00"  # outside: it should not


class FunctionPool:
    """One warm process per function, reachable through the Lambda Invoke API
    (`POST /2015-03-31/functions/<name>/invocations`): 200 with the answer, or 500 with the
    function's `{errorType, errorMessage}`, as `cargo lambda watch` answers (the router turns that
    into Lambda's `X-Amz-Function-Error`)."""

    def __init__(self, commands: dict[str, list[str]], env_for: Callable[[int], dict[str, str]], cwd: Path | None, log: Path,
                 copies: int = 1):
        """`copies`: warm processes per function, each taking one invocation at a time, as Lambda
        runs concurrent invocations in execution environments of their own."""
        self.apis: dict[str, queue.Queue[RuntimeApi]] = {}
        self.all_apis: list[RuntimeApi] = []
        self.procs: list[subprocess.Popen] = []
        self.log = open(log, "ab")
        for name, cmd in commands.items():
            self.apis[name] = queue.Queue()
            for _ in range(copies):
                port = free_port()
                api = RuntimeApi(port, [])
                self.apis[name].put(api)
                self.all_apis.append(api)
                self.procs.append(subprocess.Popen(cmd, env=env_for(port), cwd=cwd, stdout=self.log, stderr=self.log))
        pool = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without TCP_NODELAY, Nagle and the
            # peer's delayed ACK add ~40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                name = self.path.split("/functions/", 1)[-1].split("/", 1)[0]
                free = pool.apis.get(name)
                if free is None:
                    return self._send(404, json.dumps({"errorType": "ResourceNotFound", "errorMessage": name}).encode())
                api = free.get()  # the first free environment; waits while all are busy
                try:
                    answer = api.invoke(json.loads(body or b"null"))
                finally:
                    free.put(api)
                self._send(200 if answer["ok"] else 500, answer["body"])

            def _send(self, status: int, body: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def invoke(self, name: str, event: object) -> object:
        """One invocation through the pool's Invoke API, as a Task makes it; the answer."""
        import urllib.request

        request = urllib.request.Request(f"{self.url}/2015-03-31/functions/{name}/invocations", data=json.dumps(event).encode(),
                                         method="POST")
        with urllib.request.urlopen(request, timeout=300) as answer:
            return json.loads(answer.read())

    def rss_kib(self) -> list[int]:
        from bench import peak_rss_kib

        return [peak_rss_kib(p.pid) for p in self.procs]

    def stop(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
        for api in self.all_apis:
            api.stop()
        self.server.shutdown()
        self.server.server_close()
        self.log.close()


def infra(moto: Moto) -> dict:
    """What the workflow's input refers to: subnets, a target group, a certificate, a hosted zone,
    the snapshot bucket and the failure topic."""
    ec2, elb = moto.client("ec2"), moto.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "c"))]
    web = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    cert = moto.client("acm").request_certificate(DomainName="dev.example.com")["CertificateArn"]
    zone = moto.client("route53").create_hosted_zone(Name="example.com", CallerReference=str(uuid.uuid4()))["HostedZone"]["Id"].split("/")[-1]
    moto.client("s3").create_bucket(Bucket="alb-snapshots", CreateBucketConfiguration={"LocationConstraint": REGION})
    topic = moto.client("sns").create_topic(Name="alb-failures")["TopicArn"]
    return {"subnets": subnets, "web": web, "cert": cert, "zone": zone, "topic": topic}


def workflow_input(fx: dict, now: str) -> dict:
    return {"albName": "dev-alb", "startTime": 9, "endTime": 18, "subnets": fx["subnets"], "securityGroups": [],
            "hostedZoneId": fx["zone"], "domainName": "dev.example.com",
            "targetGroups": [{"targetGroupArn": fx["web"], "listenerProtocol": "HTTP", "listenerPort": 80},
                             {"targetGroupArn": fx["web"], "listenerProtocol": "HTTPS", "listenerPort": 443}],
            "certificateArn": fx["cert"], "albArn": "", "albDNSName": "", "albHostedZoneId": "",
            "snapshotBucket": "alb-snapshots", "now": now}


def state_machine(moto: Moto, topic: str) -> str:
    definition = (Path(__file__).resolve().parents[2] / "statemachine" / "alb-scheduler.asl.json").read_text()
    for key, name in FUNCTIONS.items():
        definition = definition.replace("${%sFunctionArn}" % key, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
    definition = definition.replace("${FailureTopicArn}", topic)
    return moto.client("stepfunctions").create_state_machine(
        name=f"alb-{uuid.uuid4().hex[:8]}", definition=definition, roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")["stateMachineArn"]


def execute(moto: Moto, machine: str, doc: dict, timeout: float = 300) -> tuple[float, dict]:
    """Runs one execution to its end; returns (wall seconds, describe_execution)."""
    sfn = moto.client("stepfunctions")
    started = time.perf_counter()
    arn = sfn.start_execution(stateMachineArn=machine, name=str(uuid.uuid4()), input=json.dumps(doc))["executionArn"]
    while True:
        result = sfn.describe_execution(executionArn=arn)
        if result["status"] != "RUNNING":
            return time.perf_counter() - started, result
        if time.perf_counter() - started > timeout:
            raise TimeoutError("execution did not finish")
        time.sleep(0.02)


def alb_present(moto: Moto, fx: dict) -> tuple[bool, bool]:
    """(the ALB exists with both listeners, the alias record exists)."""
    elb = moto.client("elbv2")
    lbs = [lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"] == "dev-alb"]
    listeners = len(elb.describe_listeners(LoadBalancerArn=lbs[0]["LoadBalancerArn"])["Listeners"]) if lbs else 0
    sets = moto.client("route53").list_resource_record_sets(HostedZoneId=fx["zone"])["ResourceRecordSets"]
    return bool(lbs) and listeners == 2, any(r["Name"] == "dev.example.com." and r["Type"] == "A" for r in sets)


def cycles(log_dir: Path, commands: dict[str, dict[str, list[str]]], env_for: Callable[[str, int], dict[str, str]],
           cwd: dict[str, Path | None], proxy_factory: Callable[[str], object], count: int) -> dict:
    """`count` off→on / on→off cycles for each implementation in `commands` (label → function name →
    command). Every cycle is checked against moto's state: a cycle that did not build or remove
    both the ALB (with its listeners) and the record fails the benchmark."""
    router_port = free_port()
    moto = Moto(log_dir, lambda_port=router_port)
    out: dict = {}
    try:
        moto.execute_state_machines()
        proxy = proxy_factory(moto.url)
        for label, cmds in commands.items():
            moto.reset()
            moto.execute_state_machines()
            fx = infra(moto)
            machine = state_machine(moto, fx["topic"])
            pool = FunctionPool(cmds, lambda port, label=label: env_for(label, port) | {"AWS_ENDPOINT_URL": proxy.url},
                                cwd[label], log_dir / "bench-function.log")
            router = LambdaRouter(router_port, moto.url, pool.url)
            on_s, off_s, on_calls, off_calls = [], [], [], []
            try:
                for i in range(count + 1):  # the first cycle starts the processes: not counted
                    for now, wall, calls, want in ((ON, on_s, on_calls, (True, True)), (OFF, off_s, off_calls, (False, False))):
                        proxy.reset()
                        seconds, result = execute(moto, machine, workflow_input(fx, now))
                        if result["status"] != "SUCCEEDED" or alb_present(moto, fx) != want:
                            raise RuntimeError(f"{label} cycle {i} at {now}: {result['status']}, ALB/record {alb_present(moto, fx)}; "
                                               f"see {log_dir / 'bench-function.log'}")
                        if i:
                            wall.append(seconds)
                            calls.append(dict(proxy.counts))
                rss = max(pool.rss_kib()) / 1024
            finally:
                router.stop()
                pool.stop()
            out[label] = {"on_s": statistics.median(on_s), "off_s": statistics.median(off_s),
                          "on_calls": on_calls[-1], "off_calls": off_calls[-1], "max_rss_mib": rss}
        proxy.stop()
    finally:
        moto.stop()
    return out
