"""Every ALB that opts in by its tags, through statemachine/alb-fleet.asl.json: Discover ALBs (the
REAL discover-albs binary) lists them, and the Map runs the per-ALB workflow
(statemachine/alb-scheduler.asl.json, the seed's states) as a child execution for each, every Task
served by the real binaries acting on moto. The interpreter is aws-local-stepfunctions (run by
tests/asl/run.mjs, which runs the `startExecution.sync:2` children too): moto 5.2.5's engine fails
every nested execution (tests/asl/NOTES.md).

The ALBs are made here as a user makes them (boto3 on moto: listeners, a rule, an SNI certificate,
an attribute, tags), and every assertion reads moto back: which load balancers exist with which
listeners, rules, certificates, attributes and tags, where each alias record points, and what the
failure topic delivered.

The day, in UTC (Seoul is UTC+9, Berlin UTC+1 in November), every ALB working 9-18 Monday to
Friday in its own zone:

    T1 Wed 08:30  Seoul 17:30 in, Berlin 09:30 in    the records are made where missing
    T2 Wed 12:00  Seoul 21:00 out, Berlin 13:00 in   Seoul ALBs sleep; the held one stays up
    T3 Wed 20:00  Seoul 05:00 out, Berlin 21:00 out  Berlin sleeps; the hold is over: it sleeps
    T4 Thu 01:00  Seoul 10:00 in, Berlin 02:00 out   the Seoul ALBs are restored
    T5 Thu 08:30  both in                            Berlin is restored
"""

from __future__ import annotations

import json

import pytest

from test_alb_workflow import REGION, infra  # noqa: F401 - infra is a fixture
from test_state_machine_local import HANG, FAILED_SUBJECT, local_machine, messages, succeeded

T1 = "2026-11-25T08:30:00Z"
T2 = "2026-11-25T12:00:00Z"
T3 = "2026-11-25T20:00:00Z"
T4 = "2026-11-26T01:00:00Z"
T5 = "2026-11-26T08:30:00Z"
HOLD = "2026-11-25T23:00:00+09:00"  # 14:00 UTC: between T2 and T3

WORKDAYS = {"AUTOSTOP_ENABLE": "true", "TIME": "9-18", "DAY": "mon-fri"}


@pytest.fixture
def local(moto, watch, infra):  # noqa: F811
    return local_machine(moto, watch, infra)


# --- the account ---------------------------------------------------------------------------------

def make_alb(moto, infra, name: str, tags: dict[str, str], sni: bool = False, target_group: str | None = None,
             https: bool = True) -> str:
    """An ALB as a user makes it: HTTP 80 and HTTPS 443 to the web target group (or
    `target_group`), a /ws* rule on 443, optionally a second (SNI) certificate, an idle timeout of
    120 s and its `tags` (plus team=<name>). `https=False`: HTTP 80 only, with the rule on it."""
    elb = moto.client("elbv2")
    web = target_group or infra["web"]
    arn = elb.create_load_balancer(
        Name=name, Subnets=infra["subnets"], SecurityGroups=[infra["sg"]], Scheme="internet-facing", Type="application",
        Tags=[{"Key": k, "Value": v} for k, v in {**tags, "team": name}.items()],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    http = elb.create_listener(LoadBalancerArn=arn, Protocol="HTTP", Port=80,
                               DefaultActions=[{"Type": "forward", "TargetGroupArn": web}])["Listeners"][0]["ListenerArn"]
    rule_on = http
    if https:
        rule_on = elb.create_listener(
            LoadBalancerArn=arn, Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": infra["cert"]}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": web}],
        )["Listeners"][0]["ListenerArn"]
    elb.create_rule(
        ListenerArn=rule_on, Priority=10, Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/ws*"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": infra["ws"]}],
    )
    if sni:
        extra = moto.client("acm").request_certificate(DomainName=f"{name}.dev.example.com")["CertificateArn"]
        elb.add_listener_certificates(ListenerArn=rule_on, Certificates=[{"CertificateArn": extra}])
    elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "120"}])
    return arn


def with_record(infra, name: str) -> dict[str, str]:
    return {"lightsout:domain": f"{name}.dev.example.com", "lightsout:hosted-zone": infra["zone"]}


def lb(moto, name: str) -> dict | None:
    found = moto.client("elbv2").describe_load_balancers()["LoadBalancers"]
    return next((b for b in found if b["LoadBalancerName"] == name), None)


def shape(moto, name: str, certificates: bool = True) -> dict | None:
    """Everything the workflow must restore exactly, without what a new ALB has anew (ARNs, DNS
    name): scheme, IP type, subnets, security groups, listeners with their default actions,
    certificates and rules, the idle timeout, the tags."""
    elb = moto.client("elbv2")
    found = lb(moto, name)
    if found is None:
        return None
    arn = found["LoadBalancerArn"]
    listeners = {}
    for listener in elb.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
        certs = elb.describe_listener_certificates(ListenerArn=listener["ListenerArn"])["Certificates"] if certificates else []
        rules = [r for r in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"] if not r["IsDefault"]]
        listeners[listener["Port"]] = {
            "protocol": listener["Protocol"],
            "default": [a.get("TargetGroupArn") for a in listener["DefaultActions"]],
            "certificates": sorted(c["CertificateArn"] for c in certs),
            "rules": [(r["Priority"], [c["Values"] if "Values" in c else c.get("PathPatternConfig", {}).get("Values")
                                       for c in r["Conditions"]], [a.get("TargetGroupArn") for a in r["Actions"]]) for r in rules],
        }
    attributes = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    tags = {t["Key"]: t["Value"] for t in elb.describe_tags(ResourceArns=[arn])["TagDescriptions"][0]["Tags"]}
    return {
        "scheme": found["Scheme"], "ip": found["IpAddressType"],
        "subnets": sorted(z["SubnetId"] for z in found["AvailabilityZones"]),
        "security_groups": sorted(found.get("SecurityGroups", [])),
        "listeners": listeners, "idle_timeout": attributes.get("idle_timeout.timeout_seconds"), "tags": tags,
    }


def alias(moto, infra, name: str, kind: str = "A") -> str | None:
    """Where `<name>.dev.example.com`'s alias record points (its DNS name), or None."""
    sets = moto.client("route53").list_resource_record_sets(HostedZoneId=infra["zone"])["ResourceRecordSets"]
    found = next((r for r in sets if r["Name"] == f"{name}.dev.example.com." and r["Type"] == kind), None)
    return found["AliasTarget"]["DNSName"].rstrip(".").lower() if found else None


def dns(moto, name: str) -> str:
    return lb(moto, name)["DNSName"].lower()


def snapshots(moto) -> set[str]:
    listed = moto.client("s3").list_objects_v2(Bucket="alb-snapshots").get("Contents", [])
    return {o["Key"].rsplit("/", 1)[-1].removesuffix(".json") for o in listed}


def run(local, now: str, **extra) -> tuple[dict, dict]:
    """A fleet run at `now`; returns (result, per-ALB results by name)."""
    result = local.run_fleet({"now": now, "discover": True, **extra.pop("input", {})}, **extra)
    out = succeeded(result)
    return result, {r["albName"]: r for r in out["results"]}


def steps(by_name: dict) -> dict[str, str]:
    return {name: r["result"]["nextStep"] if r["status"] == "SUCCEEDED" else r["status"] for name, r in by_name.items()}


# --- the day ---------------------------------------------------------------------------------------

def test_a_day_of_four_tagged_albs_in_two_zones(local, moto, infra):
    seoul = {**WORKDAYS, "TZ": "Asia/Seoul", **with_record(infra, "seoul")}
    berlin = {**WORKDAYS, "TZ": "Europe/Berlin", **with_record(infra, "berlin")}
    held = {**WORKDAYS, "TZ": "Asia/Seoul", "AUTOSTOP_HOLD_UNTIL": HOLD, **with_record(infra, "held")}
    plain = dict(WORKDAYS)  # no TZ tag: the stack's zone (Asia/Seoul); no record tags: no record
    arns = {
        "seoul": make_alb(moto, infra, "seoul", seoul, sni=True),
        "berlin": make_alb(moto, infra, "berlin", berlin),
        "held": make_alb(moto, infra, "held", held),
        "plain": make_alb(moto, infra, "plain", plain),
        "untagged": make_alb(moto, infra, "untagged", {}),
        "unreadable": make_alb(moto, infra, "unreadable", {**WORKDAYS, "TIME": "9-25"}),
    }
    before = {name: shape(moto, name) for name in arns}
    https = before["seoul"]["listeners"][443]
    assert sorted(before["seoul"]["listeners"]) == [80, 443] and len(https["certificates"]) == 2, before["seoul"]
    assert https["rules"] == [("10", [["/ws*"]], [infra["ws"]])] and before["seoul"]["idle_timeout"] == "120"
    assert before["seoul"]["tags"] == {**seoul, "team": "seoul"}
    never = {name: before[name] for name in ("untagged", "unreadable")}

    def untouched():
        for name, was in never.items():
            assert lb(moto, name)["LoadBalancerArn"] == arns[name] and shape(moto, name) == was, name

    # T1: all in hours; the three records that are tagged but missing are made.
    result, by_name = run(local, T1)
    out = result["output"]
    assert steps(by_name) == {"seoul": "RepairRecord", "berlin": "RepairRecord", "held": "RepairRecord", "plain": "Nothing"}, by_name
    assert sorted(out["awake"]) == ["berlin", "held", "plain", "seoul"] and out["asleep"] == []
    [skipped] = out["skipped"]
    assert skipped["albName"] == "unreadable" and "TIME" in skipped["reason"], skipped
    assert out["untagged"] == 1
    for name in ("seoul", "berlin", "held"):
        assert alias(moto, infra, name) == dns(moto, name), name
    assert alias(moto, infra, "plain") is None
    assert all(shape(moto, n) == before[n] for n in arns)
    untouched()

    # T2: Seoul's evening. Seoul and plain sleep (snapshot, record first); held is held; Berlin works.
    _, by_name = run(local, T2)
    assert steps(by_name) == {"seoul": "Delete", "berlin": "Nothing", "held": "Nothing", "plain": "Delete"}, by_name
    assert lb(moto, "seoul") is None and lb(moto, "plain") is None
    assert alias(moto, infra, "seoul") is None and alias(moto, infra, "held") == dns(moto, "held")
    assert snapshots(moto) >= {"seoul", "plain"}
    untouched()

    # T3: Berlin's evening, and the hold is over.
    result, by_name = run(local, T3)
    assert steps(by_name) == {"seoul": "Nothing", "berlin": "Delete", "held": "Delete", "plain": "Nothing"}, by_name
    assert sorted(result["output"]["asleep"]) == ["plain", "seoul"]
    assert [lb(moto, n) for n in ("seoul", "berlin", "held", "plain")] == [None] * 4
    assert [alias(moto, infra, n) for n in ("seoul", "berlin", "held")] == [None] * 3
    untouched()

    # T4: Seoul's morning: its three are restored exactly, their records follow their new DNS names.
    result, by_name = run(local, T4)
    assert steps(by_name) == {"seoul": "Create", "berlin": "Nothing", "held": "Create", "plain": "Create"}, by_name
    assert sorted(result["output"]["asleep"]) == ["berlin", "held", "plain", "seoul"]
    for name in ("seoul", "held", "plain"):
        assert shape(moto, name) == before[name], name
        assert by_name[name]["result"]["restoredFromSnapshot"] is True
        assert lb(moto, name)["LoadBalancerArn"] != arns[name]
    for name in ("seoul", "held"):
        assert alias(moto, infra, name) == dns(moto, name), name
        assert by_name[name]["result"]["albDNSName"].lower() == dns(moto, name)
    assert lb(moto, "berlin") is None
    untouched()

    # T5: Berlin's morning.
    _, by_name = run(local, T5)
    assert steps(by_name) == {"seoul": "Nothing", "berlin": "Create", "held": "Nothing", "plain": "Nothing"}, by_name
    assert shape(moto, "berlin") == before["berlin"] and alias(moto, infra, "berlin") == dns(moto, "berlin")

    # The same time again changes nothing: the same ALBs, records and snapshots.
    state = ({n: lb(moto, n)["LoadBalancerArn"] for n in arns}, {n: alias(moto, infra, n) for n in arns}, snapshots(moto))
    result, by_name = run(local, T5)
    assert set(steps(by_name).values()) == {"Nothing"}, by_name
    assert result["invocations"] == {"discover-albs": 1, "check-existing-alb": 4}
    assert state == ({n: lb(moto, n)["LoadBalancerArn"] for n in arns}, {n: alias(moto, infra, n) for n in arns}, snapshots(moto))
    untouched()
    assert messages(moto, infra, wait=0) == []


def test_an_alb_that_cannot_be_restored_is_notified_and_the_others_complete(local, moto, infra):
    elb = moto.client("elbv2")
    solo = elb.create_target_group(Name="solo", Protocol="HTTP", Port=80, VpcId=infra["vpc"])["TargetGroups"][0]["TargetGroupArn"]
    tags = {**WORKDAYS, "TZ": "Asia/Seoul"}
    for name in ("one", "two", "three"):
        make_alb(moto, infra, name, {**tags, **with_record(infra, name)})
    make_alb(moto, infra, "broken", tags, target_group=solo)
    before = {n: shape(moto, n) for n in ("one", "two", "three")}
    _, by_name = run(local, T2)
    assert set(steps(by_name).values()) == {"Delete"}, by_name
    # While it sleeps, the target group its listeners forward to is deleted: it cannot be made again.
    elb.delete_target_group(TargetGroupArn=solo)
    messages(moto, infra, wait=0)

    result, by_name = run(local, T4)
    assert steps(by_name) == {"one": "Create", "two": "Create", "three": "Create", "broken": "FAILED"}, by_name
    failed = by_name["broken"]
    assert failed["error"] == "States.TaskFailed"
    child = json.loads(failed["cause"])
    assert child["Status"] == "FAILED" and child["Input"]["albName"] == "broken", child
    for name in ("one", "two", "three"):
        assert shape(moto, name) == before[name] and alias(moto, infra, name) == dns(moto, name), name
    # Nothing half-made is left of it, and its snapshot is kept for when the target group is back.
    assert lb(moto, "broken") is None and "broken" in snapshots(moto)
    [notice] = [m for m in messages(moto, infra) if m["Subject"] == FAILED_SUBJECT]
    assert "broken" in notice["Message"], notice
    assert len([c for c in result["children"] if c["status"] == "FAILED"]) == 1


def test_a_run_cut_off_half_way_through_the_fan_out_converges_on_the_next(local, moto, infra):
    tags = {**WORKDAYS, "TZ": "Asia/Seoul"}
    for name in ("alpha", "beta", "gamma"):
        make_alb(moto, infra, name, {**tags, **with_record(infra, name)})
    run(local, T1)  # the records
    before = {n: shape(moto, n) for n in ("alpha", "beta", "gamma")}

    # The evening run dies while one ALB's Delete ALB is in flight (after its record was deleted).
    result = local.run_fleet({"now": T2, "discover": True}, faults={"delete-alb": [HANG]}, deadline=25, crash=True)
    assert result["status"] == "ABORTED"
    left = [n for n in ("alpha", "beta", "gamma") if lb(moto, n) is not None]
    assert len(left) == 1, left  # the other two finished before the cut
    assert alias(moto, infra, left[0]) is None  # half-way: its record is already gone

    _, by_name = run(local, T2)
    assert steps(by_name)[left[0]] == "Delete" and {steps(by_name)[n] for n in by_name if n != left[0]} == {"Nothing"}
    assert [lb(moto, n) for n in ("alpha", "beta", "gamma")] == [None] * 3
    assert snapshots(moto) >= {"alpha", "beta", "gamma"}

    _, by_name = run(local, T4)
    assert set(steps(by_name).values()) == {"Create"}, by_name
    for name in ("alpha", "beta", "gamma"):
        assert shape(moto, name) == before[name] and alias(moto, infra, name) == dns(moto, name), name


def test_the_single_alb_input_and_the_tagged_albs_in_one_run(local, moto, infra):
    from test_alb_workflow import alb, legacy_input, record

    make_alb(moto, infra, "tagged", {**WORKDAYS, "TZ": "Asia/Seoul"})
    result, by_name = run(local, T1, input={"single": legacy_input(infra, now=T1)})
    assert list(by_name) == ["dev-alb", "tagged"], "the single input first, as given"
    assert steps(by_name) == {"dev-alb": "Create", "tagged": "Nothing"}
    assert alb(moto) and record(moto, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == alb(moto)["DNSName"]
    # The single ALB carries no opt-in tag: the discovery never lists it as tagged.
    assert "dev-alb" not in result["output"]["awake"]


def test_a_discovery_that_fails_is_notified_and_nothing_is_touched(local, moto, infra):
    make_alb(moto, infra, "kept", {**WORKDAYS, "TZ": "Asia/Seoul"})
    arn = lb(moto, "kept")["LoadBalancerArn"]
    moto.client("s3").delete_bucket(Bucket="alb-snapshots")  # the snapshots cannot be listed
    messages(moto, infra, wait=0)
    result = local.run_fleet({"now": T2, "discover": True})
    assert result["status"] == "FAILED" and result["error"] == "AwsError", result
    assert result["states"] == ["Discover ALBs", "Notify Discovery Failure", "Discovery Failed"], result["states"]
    assert result["children"] == [] and lb(moto, "kept")["LoadBalancerArn"] == arn
    [notice] = messages(moto, infra)
    assert notice["Subject"] == "lightsout: ALB discovery failed" and "NoSuchBucket" in notice["Message"], notice
