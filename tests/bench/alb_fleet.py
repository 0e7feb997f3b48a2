"""The ALB fleet benchmark: N load balancers tagged AUTOSTOP_ENABLE=true through one night and one
morning of statemachine/alb-fleet.asl.json, run by the second ASL interpreter
(aws-local-stepfunctions, tests/asl/run.mjs, which runs the per-ALB children too), with the six
release functions warm behind the Lambda Invoke API (alb_cycle.FunctionPool, five processes each,
as Lambda runs the Map's five concurrent children in environments of their own) and every AWS
call counted at the HTTP layer (counting_proxy.py in front of moto).

The baseline, measured in the same run on the same ALBs: the same definition with the Map's
MaxConcurrency set to 1, i.e. what the per-ALB workflow costs run once per ALB in series (as one
stack per ALB on one schedule would). Each run is checked against moto: after the night no ALB of
the N and no record is left; after the morning every one is back with both listeners and its
record points at it. A run that does not get there fails the benchmark.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Callable

from alb_cycle import ACCOUNT, FunctionPool
from alb_cycle import FUNCTIONS as ALB_STEPS
from harness import REGION, ROOT, Moto

FUNCTIONS = ["discover-albs", *ALB_STEPS.values()]
DAY = "2026-11-25T17:30:00+09:00"  # in hours: the warm-up run, which makes the records
NIGHT = "2026-11-25T20:00:00+09:00"
MORNING = "2026-11-26T10:00:00+09:00"
CHILD = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:alb"
TAGS = {"AUTOSTOP_ENABLE": "true", "DAY": "mon-fri", "TIME": "9-18", "TZ": "Asia/Seoul"}
# Step Functions' limit on a state's input or output.
PAYLOAD_LIMIT = 256 * 1024


def account(moto: Moto, n: int) -> dict:
    """A VPC, a target group, a certificate, a hosted zone, the bucket, the topic, and `n` ALBs as a
    user makes them (HTTP 80 and HTTPS 443 to the target group, a /ws* rule), each tagged with the
    schedule and its record (alb-<i>.dev.example.com)."""
    ec2, elb = moto.client("ec2"), moto.client("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "c"))]
    sg = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=vpc)["GroupId"]
    web = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    cert = moto.client("acm").request_certificate(DomainName="*.dev.example.com")["CertificateArn"]
    zone = moto.client("route53").create_hosted_zone(Name="example.com", CallerReference=str(time.time()))["HostedZone"]["Id"].split("/")[-1]
    moto.client("s3").create_bucket(Bucket="alb-snapshots", CreateBucketConfiguration={"LocationConstraint": REGION})
    topic = moto.client("sns").create_topic(Name="alb-failures")["TopicArn"]
    names = [f"alb-{i:03d}" for i in range(n)]
    for name in names:
        tags = {**TAGS, "lightsout:domain": f"{name}.dev.example.com", "lightsout:hosted-zone": zone}
        arn = elb.create_load_balancer(Name=name, Subnets=subnets, SecurityGroups=[sg], Type="application",
                                       Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["LoadBalancers"][0]["LoadBalancerArn"]
        forward = [{"Type": "forward", "TargetGroupArn": web}]
        elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=forward)
        https = elb.create_listener(LoadBalancerArn=arn, Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": cert}],
                                    DefaultActions=forward)["Listeners"][0]["ListenerArn"]
        elb.create_rule(ListenerArn=https, Priority=10, Actions=forward,
                        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/ws*"]}}])
    return {"names": names, "zone": zone, "topic": topic}


def state(moto: Moto, fx: dict) -> tuple[int, int]:
    """(ALBs of the N that exist with both listeners, records that point at their ALB)."""
    elb = moto.client("elbv2")
    live = {lb["LoadBalancerName"]: lb for lb in elb.describe_load_balancers()["LoadBalancers"]}
    complete = sum(1 for n in fx["names"] if n in live
                   and len(elb.describe_listeners(LoadBalancerArn=live[n]["LoadBalancerArn"])["Listeners"]) == 2)
    sets = moto.client("route53").list_resource_record_sets(HostedZoneId=fx["zone"], MaxItems="1000")["ResourceRecordSets"]
    pointing = sum(1 for r in sets if r["Type"] == "A" and r["Name"].split(".")[0] in live
                   and r["AliasTarget"]["DNSName"].rstrip(".").lower() == live[r["Name"].split(".")[0]]["DNSName"].lower())
    return complete, pointing


def fleet_definition(topic: str, concurrency: int) -> tuple[dict, dict]:
    """The fleet definition and the per-ALB one, substitutions replaced; the Map's MaxConcurrency
    set to `concurrency`."""
    text = (ROOT / "statemachine" / "alb-fleet.asl.json").read_text()
    text = text.replace("${DiscoverALBsFunctionArn}", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:discover-albs")
    text = text.replace("${AlbWorkflowArn}", CHILD).replace("${FailureTopicArn}", topic)
    fleet = json.loads(text)
    fleet["States"]["Each ALB"]["MaxConcurrency"] = concurrency
    child = (ROOT / "statemachine" / "alb-scheduler.asl.json").read_text()
    for key, name in ALB_STEPS.items():
        child = child.replace("${%sFunctionArn}" % key, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}")
    child = child.replace("${FailureTopicArn}", topic)
    assert "${" not in text + child
    return fleet, json.loads(child)


def run_fleet(node: str, pool: FunctionPool, moto: Moto, fx: dict, now: str, concurrency: int) -> tuple[float, dict]:
    """One execution; returns (wall seconds of the run.mjs process, its result)."""
    fleet, child = fleet_definition(fx["topic"], concurrency)
    request = {"definition": fleet, "children": {CHILD: child}, "input": {"now": now, "discover": True},
               "lambdaEndpoint": pool.url, "snsEndpoint": moto.url, "region": REGION, "retryIntervalMs": 0,
               "httpTimeoutMs": 600000, "deadlineMs": 1800000}
    started = time.perf_counter()
    proc = subprocess.run([node, str(ROOT / "tests" / "asl" / "run.mjs")], input=json.dumps(request), capture_output=True,
                          text=True, cwd=ROOT, timeout=1900)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"run.mjs exited with {proc.returncode}: {proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout)


def fleet(n: int, commands: dict[str, list[str]], env_for: Callable[[int], dict[str, str]], proxy_factory: Callable[[str], object],
          log_dir: Path, node: str) -> dict:
    """The night and the morning of `n` tagged ALBs, fleet (MaxConcurrency 5) then serial (1)."""
    moto = Moto(log_dir)
    proxy = proxy_factory(moto.url)
    pool = FunctionPool(commands, lambda port: env_for(port) | {"AWS_ENDPOINT_URL": proxy.url}, None,
                        log_dir / "bench-function.log", copies=5)
    out: dict = {"albs": n}
    try:
        fx = account(moto, n)
        wall, result = run_fleet(node, pool, moto, fx, DAY, 5)  # warm-up: starts the processes, makes the records
        if result["status"] != "SUCCEEDED" or state(moto, fx) != (n, n):
            raise RuntimeError(f"warm-up: {result['status']}, state {state(moto, fx)}; see {log_dir / 'bench-function.log'}")
        # What the Map state holds besides the results: the discovery's answer (every per-ALB event).
        out["discovery_bytes"] = len(json.dumps(pool.invoke("discover-albs", {"now": NIGHT, "discover": True})))
        for label, concurrency in (("fleet", 5), ("serial", 1)):
            row: dict = {"concurrency": concurrency}
            for phase, now, want in (("night", NIGHT, (0, 0)), ("morning", MORNING, (n, n))):
                proxy.reset()
                wall, result = run_fleet(node, pool, moto, fx, now, concurrency)
                failed = [r["albName"] for r in (result.get("output") or {}).get("results", []) if r["status"] != "SUCCEEDED"]
                if result["status"] != "SUCCEEDED" or failed or state(moto, fx) != want:
                    raise RuntimeError(f"{label} {phase}: {result['status']}, failed {failed[:5]}, state {state(moto, fx)}")
                calls = dict(proxy.counts)
                row[phase] = {"wall_s": wall, "calls": sum(calls.values()), "by_operation": calls,
                              "output_bytes": len(json.dumps(result["output"]))}
            out[label] = row
        for phase in ("night", "morning"):
            out[f"{phase}_ratio"] = out["fleet"][phase]["wall_s"] / out["serial"][phase]["wall_s"]
            out[f"{phase}_calls_per_alb"] = out["fleet"][phase]["calls"] / n
        # The largest state is the Map's output: its input (the discovery's answer) with the results.
        results = max(out["fleet"][p]["output_bytes"] for p in ("night", "morning"))
        per_alb = (results + out["discovery_bytes"]) / n
        out["output_bytes_per_alb"] = results / n
        out["map_bytes_per_alb"] = per_alb
        out["albs_per_run_within_limit"] = int(PAYLOAD_LIMIT // per_alb)
        print(f"  {n} ALBs: night {out['fleet']['night']['wall_s']:.1f} s vs {out['serial']['night']['wall_s']:.1f} s serial "
              f"(×{out['night_ratio']:.3f}); morning {out['fleet']['morning']['wall_s']:.1f} s vs "
              f"{out['serial']['morning']['wall_s']:.1f} s (×{out['morning_ratio']:.3f}); calls per ALB "
              f"{out['night_calls_per_alb']:.1f} / {out['morning_calls_per_alb']:.1f}", flush=True)
    finally:
        pool.stop()
        proxy.stop()
        moto.stop()
    return out


def markdown(r: dict) -> list[str]:
    lines = [f"### ALB fleet: {r['albs']} tagged ALBs through a night and a morning (aws-local-stepfunctions; warm release functions)", "",
             "fleet = the Map at MaxConcurrency 5 (five warm processes per function); serial = the same definition at 1, "
             "the per-ALB workflow once per ALB in series: the baseline. Wall = the run.mjs process; calls = every AWS call "
             "of the six functions.", "",
             "| phase | fleet s | serial s | ratio | calls | calls per ALB | output KB |", "|---|---|---|---|---|---|---|"]
    for phase in ("night", "morning"):
        f, s = r["fleet"][phase], r["serial"][phase]
        lines.append(f"| {phase} | {f['wall_s']:.1f} | {s['wall_s']:.1f} | {r[f'{phase}_ratio']:.3f} | {f['calls']} | "
                     f"{r[f'{phase}_calls_per_alb']:.1f} | {f['output_bytes'] / 1024:.1f} |")
    for phase in ("night", "morning"):
        ops = r["fleet"][phase]["by_operation"]
        lines += ["", f"{phase.capitalize()}, calls by operation: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items()))]
    lines += ["", f"Payload: the run's output is {r['output_bytes_per_alb']:.0f} bytes per ALB; the largest state, the Map's output "
              f"(the discovery's answer, {r['discovery_bytes'] / 1024:.1f} KB, with the results), {r['map_bytes_per_alb']:.0f} bytes per ALB: "
              f"one run stays within Step Functions' 256 KB for about {r['albs_per_run_within_limit']} ALBs."]
    return lines
