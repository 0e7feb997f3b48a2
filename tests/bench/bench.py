"""`make bench`: lightsout's Rust functions against the Python + boto3 way of doing the same jobs,
measured in one run on one machine, reported as ratios.

What it measures (see BENCHMARKS.md for a run and how to read it):
1. cold start (spawn → first event answered) and warm invocations, through this benchmark's own
   Lambda Runtime API server (runtime_api.py), against moto behind a counting proxy;
2. peak memory (VmHWM) of each function process;
3. the size of every release `bootstrap` and of the zip SAM would upload;
4. the EC2 job at N tagged instances: AWS calls (counted at the HTTP layer), wall time, peak memory;
5. the ALB workflow (one ALB) and the ALB fleet (N tagged ALBs through a night and a morning).

Usage: python tests/bench/bench.py [--parts cold,scale,alb,fleet,pipeline,sizes,profiles] [--fleet-albs 50] [--sizes 100,1000,10000] [--repeat 5] [--warm 20] [--out bench-results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import alb_cycle  # noqa: E402
import alb_fleet  # noqa: E402
from counting_proxy import CountingProxy  # noqa: E402
from harness import ROOT, Moto, _wait_for_port, free_port, image_id  # noqa: E402
from runtime_api import RuntimeApi  # noqa: E402

REGION = "ap-northeast-2"
NOW = "2026-11-25T10:00:00+09:00"  # a Wednesday morning in Seoul
# The release binaries (`make bench` builds them); LIGHTSOUT_BENCH_BIN_DIR points elsewhere.
RELEASE = Path(os.environ.get("LIGHTSOUT_BENCH_BIN_DIR") or Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release")


def peak_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/PID/stat fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def function_env(endpoint: str, api_port: int, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "RUST_LOG": "warn",
    }
    env.update(extra)
    return env


def run_function(cmd: list[str], events: list[object], endpoint: str, extra_env: dict[str, str], cwd: Path | None = None) -> dict:
    """Spawns one function process, feeds it `events`, returns cold/warm times and peak RSS."""
    port = free_port()
    api = RuntimeApi(port, events)
    log = open(ROOT / ".local" / "bench-function.log", "ab")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=function_env(endpoint, port, extra_env), cwd=cwd, stdout=log, stderr=log)
    finished = api.done.wait(timeout=900)
    rss = peak_rss_kib(proc.pid)
    cpu = cpu_seconds(proc.pid)
    proc.kill()
    proc.wait()
    api.stop()
    log.close()
    if not finished or not api.answers:
        raise RuntimeError(f"{cmd[0]} did not answer; see .local/bench-function.log")
    first = api.answers[0]
    if not first["ok"]:
        raise RuntimeError(f"{' '.join(cmd)} failed: {first['body'][:500]!r}")
    return {
        "init_ms": ((api.first_poll or first["at"]) - started) * 1000,
        "cold_ms": (first["at"] - started) * 1000,
        "warm_ms": [(a["at"] - a["handedOut"]) * 1000 for a in api.answers[1:] if a["handedOut"]],
        "rss_kib": rss,
        "cpu_s": cpu,
        "answer": first["body"],
    }


def rust(name: str) -> list[str]:
    return [str(RELEASE / name)]


def python(module: str) -> list[str]:
    return [sys.executable, "-m", "awslambdaric", f"{module}.handler"]


class FastMoto(Moto):
    """moto_server with its EC2 tag lookup indexed (fast_moto.py): stock moto's DescribeInstances
    is quadratic in the number of tagged instances. Used for the EC2 job at scale."""

    def __init__(self, log_dir: Path):  # noqa: super().__init__ would start stock moto
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_dir / f"moto-{self.port}.log", "wb")
        env = dict(os.environ, MOTO_PORT=str(self.port))
        self.proc = subprocess.Popen([sys.executable, str(HERE / "fast_moto.py"), "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        _wait_for_port(self.port, self.proc, "fast_moto.py", 30)


# --- fixtures in moto -------------------------------------------------------------------------


def launch_fleet(moto: Moto, n: int, per_call: int = 10) -> dict[str, str]:
    """N managed instances, in calls of `per_call` (moto pages by reservation), with a realistic
    mix: half inside their window, half outside; half running, half stopped. Returns id → state."""
    ec2 = moto.client("ec2")
    image = image_id(ec2)
    states: dict[str, str] = {}
    for start in range(0, n, per_call):
        count = min(per_call, n - start)
        window = "9~18" if (start // per_call) % 2 == 0 else "19~23"
        tags = [{"Key": "AUTOSTOP_ENABLE", "Value": "true"}, {"Key": "DAY", "Value": "mon-fri"}, {"Key": "TIME", "Value": window}]
        reply = ec2.run_instances(ImageId=image, MinCount=count, MaxCount=count, InstanceType="t3.micro",
                                  TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])
        ids = [i["InstanceId"] for i in reply["Instances"]]
        if (start // (2 * per_call)) % 2 == 1:
            ec2.stop_instances(InstanceIds=ids)
            states.update({i: "stopped" for i in ids})
        else:
            states.update({i: "running" for i in ids})
    return states


def restore(moto: Moto, states: dict[str, str]) -> None:
    ec2 = moto.client("ec2")
    for want, call in (("running", ec2.start_instances), ("stopped", ec2.stop_instances)):
        ids = [i for i, s in states.items() if s == want]
        for k in range(0, len(ids), 1000):
            call(InstanceIds=ids[k:k + 1000])


def alb_event(moto: Moto) -> dict:
    ec2, elb = moto.client("ec2"), moto.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "c"))]
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    zone = moto.client("route53").create_hosted_zone(Name="example.com", CallerReference="bench")["HostedZone"]["Id"].split("/")[-1]
    return {"albName": "dev-alb", "startTime": 9, "endTime": 18, "subnets": subnets, "securityGroups": [],
            "hostedZoneId": zone, "domainName": "dev.example.com",
            "targetGroups": [{"targetGroupArn": tg, "listenerProtocol": "HTTP", "listenerPort": 80}],
            "certificateArn": "", "albArn": "", "albDNSName": "", "albHostedZoneId": "", "now": NOW}


def producer_event(body: dict) -> dict:
    return {"version": "2.0", "routeKey": "POST /requests", "rawPath": "/requests", "rawQueryString": "",
            "headers": {"content-type": "application/json"},
            "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "bench", "domainPrefix": "bench",
                               "http": {"method": "POST", "path": "/requests", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
                               "requestId": "bench", "routeKey": "POST /requests", "stage": "$default", "time": "25/Nov/2026:01:00:00 +0000", "timeEpoch": 0},
            "body": json.dumps(body), "isBase64Encoded": False}


# --- the measurements -------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def alb_fixture(moto: Moto) -> dict:
    """An ALB with two listeners, its alias record and a snapshot bucket: what each ALB function
    works on. Returns the event every ALB function accepts, plus `setup` callables below."""
    event = alb_event(moto)
    moto.client("s3").create_bucket(Bucket="alb-snapshots", CreateBucketConfiguration={"LocationConstraint": REGION})
    event["snapshotBucket"] = "alb-snapshots"
    cert = moto.client("acm").request_certificate(DomainName="dev.example.com")["CertificateArn"]
    event["certificateArn"] = cert
    event["targetGroups"].append({"targetGroupArn": event["targetGroups"][0]["targetGroupArn"], "listenerProtocol": "HTTPS", "listenerPort": 443})
    return event


def alb_state(moto: Moto, event: dict, alb: bool, record: bool) -> dict:
    """Puts moto in the state a function expects before it runs (the ALB and its listeners present
    or not, the alias record present or not) and returns the event with the ALB's current names."""
    elb, r53 = moto.client("elbv2"), moto.client("route53")
    found = [lb for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["LoadBalancerName"] == event["albName"]]
    if alb and not found:
        lb = elb.create_load_balancer(Name=event["albName"], Subnets=event["subnets"])["LoadBalancers"][0]
        for tg in event["targetGroups"]:
            extra = {"Certificates": [{"CertificateArn": event["certificateArn"]}]} if tg["listenerProtocol"] == "HTTPS" else {}
            elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol=tg["listenerProtocol"], Port=tg["listenerPort"],
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["targetGroupArn"]}], **extra)
        found = [lb]
    if not alb and found:
        elb.delete_load_balancer(LoadBalancerArn=found[0]["LoadBalancerArn"])
        found = []
    lb = found[0] if found else None
    names = {"albArn": lb["LoadBalancerArn"] if lb else "", "albDNSName": lb["DNSName"] if lb else "",
             "albHostedZoneId": lb["CanonicalHostedZoneId"] if lb else ""}
    sets = r53.list_resource_record_sets(HostedZoneId=event["hostedZoneId"])["ResourceRecordSets"]
    existing = [s for s in sets if s["Name"] == event["domainName"] + "." and s["Type"] == "A"]
    if existing and not record:
        r53.change_resource_record_sets(HostedZoneId=event["hostedZoneId"], ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": existing[0]}]})
    if record and not existing and lb:
        r53.change_resource_record_sets(HostedZoneId=event["hostedZoneId"], ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": event["domainName"], "Type": "A",
            "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": lb["DNSName"], "EvaluateTargetHealth": False}}}]})
    return event | names | {"albExists": bool(lb), "recordExists": record, "shouldExist": alb}


def consumer_event(moto: Moto, ids: list[str]) -> dict:
    """One SQS batch of 10 wake requests for the given (stopped) instances, with fresh request ids
    (the consumer acts once per request id)."""
    moto.client("ec2").stop_instances(InstanceIds=ids)
    records = []
    for k, instance in enumerate(ids[:10]):
        request_id = str(uuid.uuid4())
        body = {"requestId": request_id, "action": "wake", "target": {"instanceIds": [instance]},
                "requestedBy": "bench", "receivedAt": "2026-11-25T01:00:00Z"}
        records.append({"messageId": str(uuid.uuid4()), "receiptHandle": f"bench-{k}", "body": json.dumps(body),
                        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795604400000", "SenderId": "bench",
                                       "ApproximateFirstReceiveTimestamp": "1795604400010"},
                        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:bench", "awsRegion": REGION})
    return {"Records": records}


def cold_and_warm(moto: Moto, proxy: CountingProxy, repeat: int, warm: int) -> list[dict]:
    """Every function, Rust and Python, `repeat` fresh processes each: the first event is the cold
    start; `warm` more of the same event follow (for the ALB functions and the consumer the repeats
    find their work done, as a retried Lambda invocation would)."""
    rows = []
    moto.reset()
    fleet = list(launch_fleet(moto, 20))
    sqs = moto.client("sqs")
    queue = sqs.create_queue(QueueName="bench")["QueueUrl"]
    moto.client("s3").create_bucket(Bucket="bench-outcomes", CreateBucketConfiguration={"LocationConstraint": REGION})
    alb = alb_fixture(moto)
    producer_env = {"QUEUE_URL": queue.replace(moto.url, proxy.url), "OUTCOMES_BUCKET": "bench-outcomes"}
    # name → (event for the next run, after putting moto in the state the function expects; env)
    cases: list[tuple[str, Callable[[], object], dict[str, str]]] = [
        ("ec2-autostop", lambda: {"now": NOW}, {}),
        ("check-existing-alb", lambda: alb_state(moto, alb, alb=True, record=True), {}),
        ("create-alb", lambda: alb_state(moto, alb, alb=False, record=False), {}),
        ("create-route53-record", lambda: alb_state(moto, alb, alb=True, record=False), {}),
        ("delete-route53-record", lambda: alb_state(moto, alb, alb=True, record=True), {}),
        ("delete-alb", lambda: alb_state(moto, alb, alb=True, record=False), {}),
        ("sqs-producer", lambda: producer_event({"action": "wake", "instanceIds": [fleet[0]]}), producer_env),
        ("sqs-consumer", lambda: consumer_event(moto, fleet[:10]), {"OUTCOMES_BUCKET": "bench-outcomes"}),
    ]
    for name, setup, env in cases:
        result = {"function": name}
        module = name.replace("-", "_")
        for label, cmd, cwd in (("rust", rust(name), None), ("python", python(module), HERE / "baseline")):
            runs = []
            for _ in range(repeat):
                payload = setup()
                runs.append(run_function(cmd, [payload] * (1 + warm), proxy.url, env, cwd))
            result[label] = {
                "init_ms": median([r["init_ms"] for r in runs]),
                "cold_ms": median([r["cold_ms"] for r in runs]),
                "warm_ms": median([w for r in runs for w in r["warm_ms"]]),
                "rss_mib": max(r["rss_kib"] for r in runs) / 1024,
            }
        result["init_ratio"] = result["rust"]["init_ms"] / result["python"]["init_ms"]
        result["cold_ratio"] = result["rust"]["cold_ms"] / result["python"]["cold_ms"]
        result["warm_ratio"] = result["rust"]["warm_ms"] / result["python"]["warm_ms"]
        result["rss_ratio"] = result["rust"]["rss_mib"] / result["python"]["rss_mib"]
        # What a cold start adds to an invocation: first answer minus a warm one.
        for label in ("rust", "python"):
            result[label]["penalty_ms"] = result[label]["cold_ms"] - result[label]["warm_ms"]
        result["penalty_ratio"] = result["rust"]["penalty_ms"] / result["python"]["penalty_ms"]
        rows.append(result)
        print(f"  {name}: cold {result['rust']['cold_ms']:.1f} ms vs {result['python']['cold_ms']:.1f} ms "
              f"(×{result['cold_ratio']:.3f}); RSS {result['rust']['rss_mib']:.1f} vs {result['python']['rss_mib']:.1f} MiB", flush=True)
    return rows


def alb_workflow(cycles_count: int) -> dict:
    """Off→on and on→off through the ASL interpreter, Rust functions against the Python ones."""
    names = list(alb_cycle.FUNCTIONS.values())
    commands = {"rust": {n: rust(n) for n in names}, "python": {n: python(n.replace("-", "_")) for n in names}}
    result = alb_cycle.cycles(ROOT / ".local", commands, lambda label, port: function_env("", port, {}),
                              {"rust": None, "python": HERE / "baseline"}, lambda url: CountingProxy(free_port(), url), cycles_count)
    for phase in ("on", "off"):
        result[f"{phase}_ratio"] = result["rust"][f"{phase}_s"] / result["python"][f"{phase}_s"]
    print(f"  off→on {result['rust']['on_s']:.2f} s vs {result['python']['on_s']:.2f} s; "
          f"on→off {result['rust']['off_s']:.2f} s vs {result['python']['off_s']:.2f} s", flush=True)
    return result


def ec2_scale(moto: Moto, proxy: CountingProxy, sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        moto.reset()
        t = time.perf_counter()
        states = launch_fleet(moto, n)
        launch_s = time.perf_counter() - t
        # The floor under any implementation: moto answering DescribeInstances for all N
        # (1,000 instances a page, as the Rust function asks).
        t = time.perf_counter()
        for _ in moto.client("ec2").get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 100}):
            pass
        row = {"instances": n, "launch_s": launch_s, "describe_floor_s": time.perf_counter() - t}
        for label, cmd, cwd, env in (
            # PAGE_SIZE=100 reservations of 10 = 1,000 instances a page, as AWS pages by instance.
            ("rust", rust("ec2-autostop"), None, {"PAGE_SIZE": "100"}),
            ("python", python("ec2_autostop"), HERE / "baseline", {}),
            # The same work as the Rust function (every page), still one call per instance.
            ("python_paged", python("ec2_autostop"), HERE / "baseline", {"BASELINE_PAGED": "1"}),
        ):
            restore(moto, states)
            proxy.reset()
            t = time.perf_counter()
            run = run_function(cmd, [{"now": NOW}], proxy.url, env, cwd)
            wall = time.perf_counter() - t
            answer = json.loads(run["answer"])
            row[label] = {"wall_s": wall, "calls": proxy.total(), "by_operation": dict(proxy.counts),
                          "starts": len(answer["started"]), "stops": len(answer["stopped"]),
                          "changes": len(answer["started"]) + len(answer["stopped"]), "rss_mib": run["rss_kib"] / 1024,
                          "cpu_s": run["cpu_s"]}
        # Equal work: against the paged baseline (the one-page one skips instances past page one).
        row["wall_ratio"] = row["rust"]["wall_s"] / row["python_paged"]["wall_s"]
        row["calls_ratio"] = row["rust"]["calls"] / row["python_paged"]["calls"]
        # What the function itself costs: its wall time less moto answering DescribeInstances.
        for label in ("rust", "python_paged"):
            row[label]["own_s"] = max(row[label]["wall_s"] - row["describe_floor_s"], 0.0)
        row["own_ratio"] = row["rust"]["own_s"] / row["python_paged"]["own_s"] if row["python_paged"]["own_s"] else float("nan")
        row["cpu_ratio"] = row["rust"]["cpu_s"] / row["python_paged"]["cpu_s"]
        # The target: ⌈N/1000⌉ describe pages + ⌈changes/batch⌉ start/stop calls, counted per
        # direction (starts and stops cannot share a call), batch = BATCH_SIZE = 100.
        # Plus the lightsout:last-action tags: one CreateTags per batch of instances given the same
        # value (same action, same zone offset; this fleet has one zone), so once more each term.
        row["call_budget"] = -(-n // 1000) + 2 * (-(-row["rust"]["starts"] // 100) + -(-row["rust"]["stops"] // 100))
        rows.append(row)
        print(f"  N={n}: calls {row['rust']['calls']} vs {row['python_paged']['calls']} (one page: {row['python']['calls']}); "
              f"wall {row['rust']['wall_s']:.2f} s vs {row['python_paged']['wall_s']:.2f} s (×{row['wall_ratio']:.3f})", flush=True)
    return rows


PROFILES = {
    "release": "opt-level s, no LTO, 1 CGU, strip, panic=abort (the project's)",
    "release-thin": "as release, thin LTO",
    "release-z": "as release, opt-level z",
    "release-fat": "as release, fat LTO",
    "release-plain": "opt-level 3, no LTO, 16 CGU, strip, panic=unwind",
}


def profiles(repeat: int, binary: str = "delete-route53-record") -> list[dict]:
    """The same function built with each profile of Cargo.toml that has been built
    (`cargo build -p delete-route53-record --profile NAME`): size, zip size, start-up time."""
    rows = []
    for name, what in PROFILES.items():
        path = RELEASE.parent / name / binary
        if not path.exists():
            continue
        inits = []
        for _ in range(repeat):
            port = free_port()
            api = RuntimeApi(port, [{}])
            started = time.perf_counter()
            proc = subprocess.Popen([str(path)], env=function_env("http://127.0.0.1:9", port, {}),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            api.done.wait(timeout=60)
            inits.append(((api.first_poll or time.perf_counter()) - started) * 1000)
            proc.kill()
            proc.wait()
            api.stop()
        archive = ROOT / ".local" / f"{binary}-{name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(path, "bootstrap")
        rows.append({"profile": name, "settings": what, "bootstrap_mib": path.stat().st_size / 2**20,
                     "zip_mib": archive.stat().st_size / 2**20, "init_ms": median(inits)})
        print(f"  {name}: {rows[-1]['bootstrap_mib']:.2f} MiB, init {rows[-1]['init_ms']:.1f} ms", flush=True)
    return rows


# The Lambda functions (the workspace also builds the `lightsout` command, which is not deployed).
FUNCTIONS = ["check-existing-alb", "create-alb", "create-route53-record", "delete-alb", "delete-route53-record",
             "ec2-autostop", "sqs-consumer", "sqs-producer"]
# `cargo lambda build --release --arm64` leaves each bootstrap in <target>/lambda/<function>/.
LAMBDA_DIR = Path(os.environ.get("LIGHTSOUT_BENCH_LAMBDA_DIR") or RELEASE.parent / "lambda")
ELF_MACHINES = {62: "x86_64", 183: "arm64"}


def elf_arch(path: Path) -> str:
    """The architecture an ELF executable is built for (e_machine, little-endian, at byte 18)."""
    head = path.read_bytes()[:20]
    if head[:4] != b"\x7fELF":
        return "not ELF"
    return ELF_MACHINES.get(int.from_bytes(head[18:20], "little"), "other")


def sizes() -> list[dict]:
    """Every release bootstrap, x86_64 (cargo build --release) and arm64 (cargo lambda build
    --arm64, when `make bench` could build it), with the zip SAM would upload."""
    rows = []
    candidates = [(name, RELEASE / name) for name in FUNCTIONS] + [(name, LAMBDA_DIR / name / "bootstrap") for name in FUNCTIONS]
    seen = set()
    for name, binary in candidates:
        if not binary.is_file():
            continue
        arch = elf_arch(binary)
        if (name, arch) in seen:
            continue
        seen.add((name, arch))
        archive = ROOT / ".local" / f"{name}-{arch}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            z.write(binary, "bootstrap")
        rows.append({"function": name, "arch": arch, "bootstrap_mib": binary.stat().st_size / 2**20,
                     "zip_mib": archive.stat().st_size / 2**20})
    if not any(r["arch"] == "arm64" for r in rows):
        print("  no arm64 bootstraps (the aarch64 target is not installed): arm64 sizes not measured", flush=True)
    return sorted(rows, key=lambda r: (r["arch"], r["function"]))


def markdown(results: dict) -> str:
    lines = [f"# lightsout benchmark run, {results['when']}", "", f"Machine: {results['machine']}", ""]
    if not results["cold_warm"]:
        lines += ["(cold start not measured in this run)", ""]
    lines += ["## Cold start, warm invocation, peak memory (medians; Rust ÷ Python)", "",
              "init = spawn → first poll for an event (Lambda's Init Duration); cold = spawn → first event answered "
              "(includes its AWS calls); penalty = cold − warm, what a cold start adds to an invocation.", "",
              "| function | init Rust ms | init Python ms | ratio | cold Rust ms | cold Python ms | ratio | penalty ratio | warm Rust ms | warm Python ms | ratio | RSS Rust MiB | RSS Python MiB | ratio |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["cold_warm"]:
        lines.append(f"| {r['function']} | {r['rust']['init_ms']:.1f} | {r['python']['init_ms']:.1f} | {r['init_ratio']:.3f} | "
                     f"{r['rust']['cold_ms']:.1f} | {r['python']['cold_ms']:.1f} | {r['cold_ratio']:.3f} | {r['penalty_ratio']:.3f} | "
                     f"{r['rust']['warm_ms']:.2f} | {r['python']['warm_ms']:.2f} | {r['warm_ratio']:.3f} | "
                     f"{r['rust']['rss_mib']:.1f} | {r['python']['rss_mib']:.1f} | {r['rss_ratio']:.3f} |")
    lines += ["", "## EC2 job at scale (AWS calls counted at the HTTP layer)", "",
              f"AWS stand-in: {results.get('ec2_scale_moto', 'stock moto')}.", "",
              "Python = one DescribeInstances page, as commonly written; Python paged = every page (the same work as Rust); "
              "both make one start/stop call per instance. Ratios are against Python paged. "
              "own = wall − moto's describe floor; CPU = the function process's user + system time.", "",
              "| instances | changes Rust | changes Python | changes Python paged | calls Rust | budget | calls Python | calls Python paged "
              "| moto describe floor s | wall Rust s | wall Python s | wall Python paged s | wall ratio | own ratio | CPU Rust s | CPU Python paged s | CPU ratio | RSS Rust MiB | RSS Python paged MiB |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["ec2_scale"]:
        rs, py, pp = r["rust"], r["python"], r["python_paged"]
        lines.append(f"| {r['instances']} | {rs['changes']} | {py['changes']} | {pp['changes']} | {rs['calls']} | {r['call_budget']} | "
                     f"{py['calls']} | {pp['calls']} | {r['describe_floor_s']:.2f} | {rs['wall_s']:.2f} | {py['wall_s']:.2f} | "
                     f"{pp['wall_s']:.2f} | {r['wall_ratio']:.3f} | {r['own_ratio']:.3f} | {rs['cpu_s']:.2f} | {pp['cpu_s']:.2f} | {r['cpu_ratio']:.3f} | "
                     f"{rs['rss_mib']:.1f} | {pp['rss_mib']:.1f} |")
    if results.get("alb_workflow"):
        w = results["alb_workflow"]
        lines += ["", "## ALB workflow cycle (moto's ASL interpreter; warm functions; medians)", "",
                  "Wall time = StartExecution → status no longer RUNNING (polled every 20 ms); AWS calls = the functions' calls.", "",
                  "| phase | Rust s | Python s | ratio | AWS calls Rust | AWS calls Python |", "|---|---|---|---|---|---|"]
        for phase, title in (("on", "off→on (create ALB + record)"), ("off", "on→off (delete record + ALB)")):
            rc, pc = w["rust"][f"{phase}_calls"], w["python"][f"{phase}_calls"]
            detail = ", ".join(f"{k} {v}" for k, v in sorted(rc.items()))
            lines.append(f"| {title} | {w['rust'][f'{phase}_s']:.2f} | {w['python'][f'{phase}_s']:.2f} | {w[f'{phase}_ratio']:.3f} | "
                         f"{sum(rc.values())} ({detail}) | {sum(pc.values())} |")
    if results.get("alb_fleet"):
        lines += [""] + alb_fleet.markdown(results["alb_fleet"])
    if results.get("pipeline"):
        import pipeline

        lines += [""] + pipeline.pipeline_markdown(results["pipeline"])
    lines += ["", "## Sizes", "", "| binary | arch | bootstrap MiB | zip MiB |", "|---|---|---|---|"]
    for r in results["sizes"]:
        lines.append(f"| {r['function']} | {r['arch']} | {r['bootstrap_mib']:.2f} | {r['zip_mib']:.2f} |")
    if results.get("profiles"):
        lines += ["", "## Release profiles (delete-route53-record)", "",
                  "| profile | settings | bootstrap MiB | zip MiB | init ms |", "|---|---|---|---|---|"]
        for r in results["profiles"]:
            lines.append(f"| {r['profile']} | {r['settings']} | {r['bootstrap_mib']:.2f} | {r['zip_mib']:.2f} | {r['init_ms']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--parts", default="cold,scale,alb,fleet,pipeline,sizes,profiles",
                        help="which measurements: cold, scale, alb, fleet, pipeline, sizes, profiles")
    parser.add_argument("--fleet-albs", type=int, default=50, help="ALB fleet: tagged ALBs through a night and a morning")
    parser.add_argument("--pipeline-seconds", type=int, default=20, help="SQS pipeline: seconds of wrk load")
    parser.add_argument("--clients", type=int, default=16, help="SQS pipeline: concurrent connections")
    parser.add_argument("--cycles", type=int, default=5, help="ALB workflow cycles per implementation")
    parser.add_argument("--stock-moto", action="store_true",
                        help="EC2 job at scale on stock moto (quadratic in N: 10,000 takes hours) instead of fast_moto.py")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warm", type=int, default=20)
    parser.add_argument("--out", default=str(ROOT / "bench-results"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (ROOT / ".local").mkdir(exist_ok=True)
    moto = Moto(ROOT / ".local")
    proxy = CountingProxy(free_port(), moto.url)
    try:
        cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?")
        results = {
            "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, {cpu}, Linux {platform.release()}, Python {platform.python_version()}",
        }
        parts = set(args.parts.split(","))
        results["cold_warm"], results["ec2_scale"], results["sizes"], results["profiles"] = [], [], [], []
        results["alb_workflow"] = results["pipeline"] = results["alb_fleet"] = None
        if "cold" in parts:
            print("cold start / warm / memory:", flush=True)
            results["cold_warm"] = cold_and_warm(moto, proxy, args.repeat, args.warm)
        if "scale" in parts:
            print("EC2 job at scale:", flush=True)
            scale_moto = moto if args.stock_moto else FastMoto(ROOT / ".local")
            scale_proxy = proxy if args.stock_moto else CountingProxy(free_port(), scale_moto.url)
            try:
                results["ec2_scale"] = ec2_scale(scale_moto, scale_proxy, [int(s) for s in args.sizes.split(",")])
            finally:
                if scale_moto is not moto:
                    scale_proxy.stop()
                    scale_moto.stop()
            results["ec2_scale_moto"] = "stock moto" if args.stock_moto else "moto with its EC2 tag lookup indexed (fast_moto.py)"
        if "alb" in parts:
            print("ALB workflow through the ASL interpreter:", flush=True)
            results["alb_workflow"] = alb_workflow(args.cycles)
        if "fleet" in parts:
            import shutil

            print("ALB fleet through the second ASL interpreter:", flush=True)
            node = shutil.which("node")
            if node is None:
                raise SystemExit("bench: the ALB fleet needs node (tests/asl/run.mjs)")
            results["alb_fleet"] = alb_fleet.fleet(
                args.fleet_albs, {n: rust(n) for n in alb_fleet.FUNCTIONS},
                lambda port: function_env("", port, {"SNAPSHOT_BUCKET": "alb-snapshots"}),
                lambda url: CountingProxy(free_port(), url), ROOT / ".local", node)
        if "pipeline" in parts:
            import pipeline

            print("SQS pipeline under load:", flush=True)
            results["pipeline"] = pipeline.sqs_pipeline(moto.url, proxy.url, RELEASE, duration_s=args.pipeline_seconds,
                                                        clients=args.clients, log_dir=ROOT / ".local")
        if "sizes" in parts:
            results["sizes"] = sizes()
        if "profiles" in parts:
            print("release profiles:", flush=True)
            results["profiles"] = profiles(max(args.repeat, 10))
    finally:
        proxy.stop()
        moto.stop()
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    table = markdown(results)
    (out / "results.md").write_text(table)
    print()
    print(table)


if __name__ == "__main__":
    main()
