"""The core scenarios against a second, independent AWS stand-in: ministack (tests/standins.py),
through the real function binaries (`cargo lambda watch`), from the same test code as the moto tests.

How the scenario code is shared: in this module the fixture named `moto` is the **ministack**
stand-in (it overrides conftest's moto server, which then is not started for these tests), and so
are `ec2`, `watch`, `watch_with` and the autouse `empty_moto` (a ministack reset). The moto modules'
scenario functions take the stand-in as a parameter (`watch`, `ec2`, `moto`, `queues`, `infra`), so
the stand-in-agnostic ones are called here unchanged (`run_scenario`), and their fixtures `queues`
(test_requests) and `infra` (test_alb_workflow) are reused as they are.

Where ministack differs from AWS (standins.DIFFERENCES) a scenario is not run here, or it is run in
a variant written here that tests around the difference and says so; each difference a test works
around has a canary (`test_difference_*`) that fails when ministack changes, so the table and the
tests are revisited. Every outcome is read back from ministack with boto3, not taken from the
function's answer alone.
"""

from __future__ import annotations

import inspect
import json

import pytest

import test_alb_workflow as alb_flow
import test_ec2_autostop as autostop
import test_requests as pipeline
import test_state_machine_local as local_sfn
from conftest import LOG_DIR, REQUEST_SETTINGS
from harness import REGION, ROOT, FunctionError, Watch, auto_scaling_group, launch, states, tags_of
from standins import DIFFERENCES, Ministack

DIFFERENCE_KEYS = {d.key for d in DIFFERENCES}
SEOUL_EVENING = autostop.at(autostop.SEOUL, 2026, 11, 25, 20, 0)

# The moto modules' fixtures, reused unchanged (they ask for `moto`: here, ministack).
queues = pipeline.queues
infra = alb_flow.infra


# --- the stand-in and the functions pointed at it -------------------------------------------------


@pytest.fixture(scope="module")
def ministack():
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    server = Ministack(LOG_DIR)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def moto(ministack):
    """The stand-in under the name the shared fixtures and scenarios use: ministack here."""
    return ministack


@pytest.fixture(scope="module")
def watch(ministack):
    """As conftest's: default settings, a small page size, the request pipeline's queue/bucket."""
    w = Watch(ministack, LOG_DIR, env={"PAGE_SIZE": "5", **REQUEST_SETTINGS(ministack)})
    yield w
    w.stop()


@pytest.fixture
def watch_with(ministack):
    started: list[Watch] = []

    def start(env: dict[str, str]) -> Watch:
        w = Watch(ministack, LOG_DIR, env=env)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


@pytest.fixture(autouse=True)
def empty_moto(ministack):
    """Overrides conftest's: each test sees only what it made on ministack."""
    ministack.reset()


@pytest.fixture
def ec2(ministack):
    return ministack.client("ec2")


def run_scenario(scenario, request) -> None:
    """Calls a moto module's test function with this module's fixtures of the same names."""
    scenario(**{name: request.getfixturevalue(name) for name in inspect.signature(scenario).parameters})


def by_name(functions):
    return pytest.mark.parametrize("scenario", functions, ids=[f.__name__ for f in functions])


# --- (a) ec2-autostop: a working week of schedules ------------------------------------------------

# Every test_ec2_autostop scenario that does not depend on a stand-in difference. Not here:
# test_dry_run_changes_nothing (ec2.dry_run: variant below), test_more_instances_than_one_page
# (ec2.paging: variant below), test_auto_scaling_members_untouched (autoscaling.instances: canary
# below); test_bad_event_and_bad_settings_fail_with_stable_types and
# test_sample_events_work_with_cargo_lambda_invoke test the function's input, not the stand-in.
EC2_SCENARIOS = [
    autostop.test_working_week_in_two_zones_hourly,
    autostop.test_overnight_window_belongs_to_start_day,
    autostop.test_minute_windows_and_several_windows,
    autostop.test_hold_until_keeps_running_then_schedule_rules,
    autostop.test_skip_dates_on_the_tag,
    autostop.test_stack_wide_holidays_from_settings,
    autostop.test_stop_only_and_start_only,
    autostop.test_untagged_and_disabled_untouched,
    autostop.test_second_run_at_same_time_changes_nothing,
    autostop.test_bad_tags_reported_not_fatal,
    autostop.test_hibernate_tag_stops_with_hibernation,  # ec2.hibernate: a plain stop on both
    autostop.test_regions_setting_covers_every_region,
    autostop.test_scheduled_event_time_is_the_decision_time,
]


@by_name(EC2_SCENARIOS)
def test_ec2_autostop_scenario(scenario, request):
    run_scenario(scenario, request)


def test_dry_run_is_reported_but_ministack_acts_on_it(watch, ec2):
    """test_dry_run_changes_nothing's first half. The function asks EC2 with DryRun=true and takes
    both AWS's DryRunOperation and a plain success as "would have succeeded": its report is right
    here too. That nothing changed is asserted on moto only (ec2.dry_run): ministack acts."""
    to_stop = launch(ec2, autostop.managed(TIME="9~18"))[0]
    to_start = launch(ec2, autostop.managed(TIME="19~23"), state="stopped")[0]
    report = autostop.run(watch, SEOUL_EVENING, dryRun=True)
    assert report["dryRun"] is True and report["failed"] == []
    assert [a["instanceId"] for a in report["stopped"]] == [to_stop]
    assert [a["instanceId"] for a in report["started"]] == [to_start]
    assert states(ec2) == {to_stop: "stopped", to_start: "running"}, (
        "ministack now honours DryRun: assert that nothing changed (as test_ec2_autostop does) and "
        "drop ec2.dry_run from standins.DIFFERENCES"
    )


def test_all_instances_handled_when_the_server_does_not_page(watch, ec2):
    """test_more_instances_than_one_page's scenario: ministack answers PAGE_SIZE=5 with one page
    (ec2.paging), so this covers the function's single-page path; its NextToken loop runs on moto."""
    ids = [i for _ in range(12) for i in launch(ec2, autostop.managed(TIME="9~18"), count=3)]
    first_page = ec2.describe_instances(MaxResults=5)
    assert "NextToken" not in first_page and sum(len(r["Instances"]) for r in first_page["Reservations"]) == 36, (
        "ministack pages now: drop ec2.paging from standins.DIFFERENCES and run "
        "test_more_instances_than_one_page here"
    )
    report = autostop.run(watch, SEOUL_EVENING)
    assert len(report["stopped"]) == 36 and report["failed"] == []
    assert set(states(ec2, ids).values()) == {"stopped"}


# --- (b) the request pipeline: producer → SQS → consumer → EC2, outcomes in S3 ---------------------

# Not here: test_sleep_stops_and_clears_the_hold (it names one instance while another managed one
# exists, so on ministack it would pass only because the consumer acts on both: ec2.instance_id_filter;
# variant below); test_bad_requests_get_exact_messages_and_nothing_is_queued and
# test_sample_events_work_with_cargo_lambda_invoke test the producer's input, not the stand-in.
PIPELINE_SCENARIOS = [
    pipeline.test_accepted_request_is_queued_with_attributes,
    pipeline.test_queue_failures_answer_500_and_send_nothing,
    pipeline.test_wake_starts_and_holds_then_the_schedule_honours_the_hold,
    pipeline.test_wake_without_until_holds_to_the_end_of_todays_window,
    pipeline.test_unmanaged_instances_are_refused_and_recorded,
    pipeline.test_a_spaced_enable_value_is_unmanaged_as_iam_sees_it,
    pipeline.test_the_same_message_delivered_twice_acts_once,
    pipeline.test_one_poison_message_fails_alone,
    pipeline.test_poison_message_lands_in_the_dlq_after_three_receives,
    pipeline.test_fifo_queue_groups_and_deduplicates,
]


@by_name(PIPELINE_SCENARIOS)
def test_request_pipeline_scenario(scenario, request):
    run_scenario(scenario, request)


def test_sleep_by_id_then_by_tag(watch, ministack, queues, ec2):
    """test_sleep_stops_and_clears_the_hold, with each by-id request made while the instance it
    names is the only one (ec2.instance_id_filter); the by-tag one meets an instance it must spare."""
    box = launch(ec2, pipeline.managed(AUTOSTOP_HOLD_UNTIL="2099-01-01T00:00:00Z"))[0]
    _, answer, _ = pipeline.post(watch, {"action": "sleep", "instanceIds": [box]})
    assert pipeline.deliver(watch, ministack, queues["main"])[1] == []
    assert states(ec2) == {box: "stopped"}
    assert "AUTOSTOP_HOLD_UNTIL" not in tags_of(ec2, box)
    assert pipeline.outcome(watch, answer["requestId"])[1]["status"] == "done"

    api = launch(ec2, pipeline.managed(Team="api"))[0]
    web = launch(ec2, pipeline.managed(Team="web"))[0]
    pipeline.post(watch, {"action": "sleep", "tag": {"key": "Team", "value": "api"}})
    pipeline.deliver(watch, ministack, queues["main"])
    assert states(ec2) == {box: "stopped", api: "stopped", web: "running"}


# ministack ignores DescribeInstances' instance-id filter (AWS honours it): sqs-consumer keeps
# only the ids it was asked for (requests::Target::selects), so a request never widens.
def test_a_request_naming_one_instance_leaves_the_others_alone(watch, ministack, queues, ec2):
    named = launch(ec2, pipeline.managed(), state="stopped")[0]
    other = launch(ec2, pipeline.managed(), state="stopped")[0]
    _, answer, _ = pipeline.post(watch, {"action": "wake", "instanceIds": [named], "until": "2099-01-01T00:00:00Z"})
    pipeline.deliver(watch, ministack, queues["main"])
    assert states(ec2)[named] == "running"
    recorded = pipeline.outcome(watch, answer["requestId"])[1]
    assert [i["instanceId"] for i in recorded["instances"]] == [named]
    assert states(ec2)[other] == "stopped" and "AUTOSTOP_HOLD_UNTIL" not in tags_of(ec2, other)


# --- (c) the ALB functions, one at a time ---------------------------------------------------------

SNAPSHOTS = "lightsout-alb-snapshots-example"  # the sample events' snapshotBucket


def sample(infra, file: str, https: bool = True, **fields) -> dict:
    """events/<file> with the samples' placeholder ids swapped for this stand-in's (as in
    test_alb_workflow.test_each_function_alone_with_the_sample_events), optionally without the HTTPS
    listener, plus `fields`."""
    text = (ROOT / "events" / file).read_text()
    template = json.loads((ROOT / "events" / "alb-input.json").read_text())
    swaps = {
        template["subnets"][0]: infra["subnets"][0],
        template["subnets"][1]: infra["subnets"][1],
        template["securityGroups"][0]: infra["sg"],
        template["hostedZoneId"]: infra["zone"],
        template["targetGroups"][0]["targetGroupArn"]: infra["web"],
        template["certificateArn"]: infra["cert"],
    }
    for old, new in swaps.items():
        text = text.replace(old, new)
    doc = json.loads(text)
    if not https:
        doc["targetGroups"] = [t for t in doc["targetGroups"] if t["listenerProtocol"] != "HTTPS"]
    doc.update(fields)
    return doc


def live(answer: dict) -> dict:
    return {k: answer[k] for k in ("albArn", "albDNSName", "albHostedZoneId")}


@pytest.fixture
def snapshots(ministack):
    ministack.client("s3").create_bucket(Bucket=SNAPSHOTS, CreateBucketConfiguration={"LocationConstraint": REGION})
    return SNAPSHOTS


def test_each_alb_function_alone_http_only(watch, ministack, infra, snapshots):
    """test_each_function_alone_with_the_sample_events' sequence, with the HTTP listener only
    (elbv2.listener_certificates: HTTPS below), and each step read back from ministack."""
    s3, elb = ministack.client("s3"), ministack.client("elbv2")
    checked = watch.invoke("check-existing-alb", sample(infra, "alb-check-existing.json", https=False))
    assert (checked["albExists"], checked["shouldExist"], checked["recordExists"]) == (False, True, False)

    created = watch.invoke("create-alb", sample(infra, "alb-create.json", https=False))
    assert created["albCreated"] is True and created["restoredFromSnapshot"] is False
    lb = alb_flow.alb(ministack)
    assert lb["LoadBalancerArn"] == created["albArn"] and lb["DNSName"] == created["albDNSName"]
    assert created["albHostedZoneId"] == lb["CanonicalHostedZoneId"]
    assert lb["Scheme"] == "internet-facing"
    assert sorted(z["SubnetId"] for z in lb["AvailabilityZones"]) == sorted(infra["subnets"])
    assert lb["SecurityGroups"] == [infra["sg"]]
    by_port = alb_flow.listeners(ministack, lb["LoadBalancerArn"])
    assert sorted(by_port) == [80] and by_port[80]["Protocol"] == "HTTP"
    assert by_port[80]["DefaultActions"][0]["TargetGroupArn"] == infra["web"]

    again = watch.invoke("create-alb", sample(infra, "alb-create.json", https=False))  # idempotent
    assert (again["albCreated"], again["listenersCreated"], again["rulesCreated"]) == (False, 0, 0)
    assert [l["LoadBalancerArn"] for l in elb.describe_load_balancers()["LoadBalancers"]] == [created["albArn"]]
    assert len(elb.describe_listeners(LoadBalancerArn=created["albArn"])["Listeners"]) == 1

    record_doc = sample(infra, "alb-create-record.json", https=False, **live(created))
    assert watch.invoke("create-route53-record", record_doc)["recordChanged"] is True
    a = alb_flow.record(ministack, infra["zone"])
    assert a["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]
    assert a["AliasTarget"]["HostedZoneId"] == lb["CanonicalHostedZoneId"]
    assert watch.invoke("create-route53-record", record_doc)["recordChanged"] is False
    checked = watch.invoke("check-existing-alb", sample(infra, "alb-check-existing.json", https=False))
    assert (checked["albExists"], checked["recordExists"], checked["nextStep"]) == (True, True, "Nothing")

    gone = sample(infra, "alb-delete-record.json", https=False, **live(created))
    assert watch.invoke("delete-route53-record", gone)["recordStatus"] == "deleted"
    assert alb_flow.record(ministack, infra["zone"]) is None
    deleted = watch.invoke("delete-alb", sample(infra, "alb-delete.json", https=False, **live(created)))
    assert deleted["albDeleted"] is True and deleted["snapshotKey"] == "lightsout/alb-snapshots/dev-alb.json"
    assert alb_flow.alb(ministack) is None
    saved = json.loads(s3.get_object(Bucket=snapshots, Key=deleted["snapshotKey"])["Body"].read())
    assert [(l["port"], l["protocol"]) for l in saved["listeners"]] == [(80, "HTTP")]

    already = watch.invoke("delete-alb", sample(infra, "alb-delete.json", https=False, **live(created)))
    assert (already["albDeleted"], already["albAlreadyGone"]) == (False, True)
    assert watch.invoke("delete-route53-record", gone)["recordStatus"] == "missing"


def test_night_and_morning_restore_http_only(watch, ministack, infra, snapshots):
    """test_night_and_morning_restore_everything's scenario, function by function, HTTP only: what
    was configured by hand (a rule, an attribute, a tag) comes back from the snapshot."""
    elb = ministack.client("elbv2")
    first = watch.invoke("create-alb", sample(infra, "alb-create.json", https=False))
    http = alb_flow.listeners(ministack, first["albArn"])[80]
    alb_flow.add_ws_rule(ministack, infra, http["ListenerArn"])
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=first["albArn"], Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "300"}]
    )
    elb.add_tags(ResourceArns=[first["albArn"]], Tags=[{"Key": "team", "Value": "web"}])

    night = watch.invoke("delete-alb", sample(infra, "alb-delete.json", https=False, **live(first)))
    assert night["albDeleted"] is True and alb_flow.alb(ministack) is None

    morning = watch.invoke("create-alb", sample(infra, "alb-create.json", https=False, now=alb_flow.NEXT_MORNING))
    assert morning["albCreated"] is True and morning["restoredFromSnapshot"] is True
    assert morning["rulesCreated"] == 1
    again = alb_flow.alb(ministack)
    assert again["LoadBalancerArn"] == morning["albArn"] != first["albArn"]
    http = alb_flow.listeners(ministack, again["LoadBalancerArn"])[80]
    rules = [r for r in elb.describe_rules(ListenerArn=http["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert len(rules) == 1 and rules[0]["Priority"] == "10"
    condition = rules[0]["Conditions"][0]
    assert condition["Field"] == "path-pattern"
    assert (condition.get("PathPatternConfig", {}).get("Values") or condition.get("Values")) == ["/ws*"]
    assert rules[0]["Actions"][0]["TargetGroupArn"] == infra["ws"]
    attrs = {a["Key"]: a["Value"] for a in elb.describe_load_balancer_attributes(LoadBalancerArn=again["LoadBalancerArn"])["Attributes"]}
    assert attrs["idle_timeout.timeout_seconds"] == "300"
    tags = {t["Key"]: t["Value"] for t in elb.describe_tags(ResourceArns=[again["LoadBalancerArn"]])["TagDescriptions"][0]["Tags"]}
    assert tags["team"] == "web"


def test_https_alb_is_made_but_not_deleted_without_a_snapshot_of_its_certificates(watch, ministack, infra, snapshots):
    """With the sample's HTTPS listener: create-alb makes it; delete-alb's snapshot needs
    DescribeListenerCertificates, which ministack lacks (elbv2.listener_certificates), and so it
    fails without deleting anything. Without a snapshot bucket the same ALB is deleted."""
    created = watch.invoke("create-alb", sample(infra, "alb-create.json"))
    by_port = alb_flow.listeners(ministack, created["albArn"])
    assert sorted(by_port) == [80, 443]
    assert by_port[443]["Protocol"] == "HTTPS"
    assert by_port[443]["Certificates"][0]["CertificateArn"] == infra["cert"]
    assert by_port[443]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"

    with pytest.raises(FunctionError) as err:
        watch.invoke("delete-alb", sample(infra, "alb-delete.json", **live(created)))
    assert err.value.error_type == "AwsError"
    assert "nothing was deleted" in err.value.message and "DescribeListenerCertificates" in err.value.message
    assert alb_flow.alb(ministack)["LoadBalancerArn"] == created["albArn"]
    assert "Contents" not in ministack.client("s3").list_objects_v2(Bucket=snapshots)

    without = sample(infra, "alb-delete.json", **live(created))
    del without["snapshotBucket"]
    deleted = watch.invoke("delete-alb", without)
    assert deleted["albDeleted"] is True and deleted["snapshotKey"] is None
    assert alb_flow.alb(ministack) is None


def test_record_pointing_at_another_alb_is_left_alone(watch, ministack, infra, snapshots):
    """test_record_pointing_at_another_alb_is_not_deleted, function by function. ministack's Route 53
    refuses a DELETE whose values differ (route53.strict_changes), as AWS does."""
    created = watch.invoke("create-alb", sample(infra, "alb-create.json", https=False))
    other = ministack.client("elbv2").create_load_balancer(Name="team-b", Subnets=infra["subnets"])["LoadBalancers"][0]
    ministack.client("route53").change_resource_record_sets(
        HostedZoneId=infra["zone"],
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
            "Name": "dev.example.com.", "Type": "A",
            "AliasTarget": {"HostedZoneId": other["CanonicalHostedZoneId"], "DNSName": other["DNSName"], "EvaluateTargetHealth": False},
        }}]},
    )
    with pytest.raises(FunctionError) as err:
        watch.invoke("create-route53-record", sample(infra, "alb-create-record.json", https=False, **live(created)))
    assert err.value.error_type == "RecordConflict"
    out = watch.invoke("delete-route53-record", sample(infra, "alb-delete-record.json", https=False, **live(created)))
    assert out["recordStatus"].startswith("left alone: A is an alias to team-b")
    assert alb_flow.record(ministack, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == other["DNSName"]


def test_dualstack_gets_a_and_aaaa_aliases(watch, ministack, infra, snapshots):
    doc = {"ipAddressType": "dualstack"}
    created = watch.invoke("create-alb", sample(infra, "alb-create.json", https=False, **doc))
    lb = alb_flow.alb(ministack)
    assert lb["IpAddressType"] == "dualstack"
    watch.invoke("create-route53-record", sample(infra, "alb-create-record.json", https=False, **doc, **live(created)))
    for kind in ("A", "AAAA"):
        assert alb_flow.record(ministack, infra["zone"], kind)["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"], kind
    out = watch.invoke("delete-route53-record", sample(infra, "alb-delete-record.json", https=False, **doc, **live(created)))
    assert out["recordStatus"] == "deleted"
    assert alb_flow.record(ministack, infra["zone"], "A") is None and alb_flow.record(ministack, infra["zone"], "AAAA") is None


# --- (d) the whole workflow: the second ASL interpreter with its Tasks on ministack ---------------
#
# The workflow runs in aws-local-stepfunctions (tests/test_state_machine_local.py's LocalMachine,
# the repo's definition file) with every Lambda Task served by the real binaries pointed at
# ministack, and its SNS Tasks publishing to ministack. (ministack's own Step Functions would need
# each function deployed to its Lambda as a zip, which it runs behind a minimal Runtime API: not
# done here.) HTTP only, as above: the
# snapshot of an HTTPS listener needs DescribeListenerCertificates (elbv2.listener_certificates).


def http_only(infra, **extra) -> dict:
    doc = alb_flow.legacy_input(infra, **extra)
    doc["targetGroups"] = [t for t in doc["targetGroups"] if t["listenerProtocol"] == "HTTP"]
    return doc


@pytest.fixture
def machine(watch, ministack, infra):
    return local_sfn.local_machine(ministack, watch, infra)


def test_night_and_morning_through_the_state_machine(machine, ministack, infra, snapshots):
    elb = ministack.client("elbv2")
    first = machine.run(http_only(infra, now=alb_flow.MORNING, snapshotBucket=snapshots))
    assert first["status"] == "SUCCEEDED", first
    assert first["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "Create ALB", "Create Route 53 Record"]
    lb = alb_flow.alb(ministack)
    http = alb_flow.listeners(ministack, lb["LoadBalancerArn"])[80]
    alb_flow.add_ws_rule(ministack, infra, http["ListenerArn"])
    assert alb_flow.record(ministack, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == lb["DNSName"]

    night = machine.run(http_only(infra, now=alb_flow.EVENING, snapshotBucket=snapshots))
    assert night["status"] == "SUCCEEDED", night
    assert night["states"] == ["Check Input", "Check Existing ALB", "Determine Action", "Delete Route 53 Record", "Delete ALB"]
    assert alb_flow.alb(ministack) is None and alb_flow.record(ministack, infra["zone"]) is None
    saved = json.loads(ministack.client("s3").get_object(Bucket=snapshots, Key=night["output"]["snapshotKey"])["Body"].read())
    assert saved["listeners"][0]["rules"][0]["conditions"][0]["values"] == ["/ws*"]

    morning = machine.run(http_only(infra, now=alb_flow.NEXT_MORNING, snapshotBucket=snapshots))
    assert morning["status"] == "SUCCEEDED", morning
    assert morning["output"]["restoredFromSnapshot"] is True
    again = alb_flow.alb(ministack)
    assert again["LoadBalancerArn"] != lb["LoadBalancerArn"]
    http = alb_flow.listeners(ministack, again["LoadBalancerArn"])[80]
    rules = [r for r in elb.describe_rules(ListenerArn=http["ListenerArn"])["Rules"] if not r["IsDefault"]]
    assert len(rules) == 1 and rules[0]["Actions"][0]["TargetGroupArn"] == infra["ws"]
    assert alb_flow.record(ministack, infra["zone"])["AliasTarget"]["DNSName"].rstrip(".") == again["DNSName"]
    assert first["published"] == night["published"] == morning["published"] == []


def test_a_failing_function_is_notified_through_ministacks_sns(machine, ministack, infra):
    """A function's refusal (an HTTPS listener without a certificate) goes through Notify Failure:
    the message is published to ministack's topic and reaches its subscribed queue."""
    doc = alb_flow.legacy_input(infra, now=alb_flow.MORNING, certificateArn="")
    result = machine.run(doc)
    assert result["status"] == "FAILED" and result["error"] == "InvalidInput", result
    assert result["states"] == ["Check Input", "Check Existing ALB", "Notify Failure", "Failed"]
    [body] = local_sfn.messages(ministack, infra)
    assert body["Subject"] == local_sfn.FAILED_SUBJECT
    assert alb_flow.alb(ministack) is None


def test_tagged_albs_through_the_fleet_a_night_and_a_morning_http_only(machine, ministack, infra):
    """test_alb_fleet's day, shortened to a night and a morning and HTTP only
    (elbv2.listener_certificates), on ministack: discover-albs lists ministack's load balancers
    and their tags and its snapshots, the fleet definition's Map runs the per-ALB workflow for
    each tagged one, and each is read back from ministack: deleted with its record at night,
    restored exactly in the morning with its record on the new DNS name; the untagged one and
    the one with unreadable tags are never touched."""
    import test_alb_fleet as fleet

    tags = {**fleet.WORKDAYS, "TZ": "Asia/Seoul"}
    for name in ("seoul", "berlin"):
        zone_tags = {**tags, "TZ": "Europe/Berlin"} if name == "berlin" else tags
        fleet.make_alb(ministack, infra, name, {**zone_tags, **fleet.with_record(infra, name)}, https=False)
    untagged = fleet.make_alb(ministack, infra, "untagged", {}, https=False)
    unreadable = fleet.make_alb(ministack, infra, "unreadable", {**tags, "TIME": "9-25"}, https=False)
    before = {n: fleet.shape(ministack, n, certificates=False) for n in ("seoul", "berlin", "untagged", "unreadable")}

    def run(now):
        result = machine.run_fleet({"now": now, "discover": True})
        assert result["status"] == "SUCCEEDED", result
        return result["output"], {r["albName"]: r for r in result["output"]["results"]}

    out, by_name = run(fleet.T1)  # both in hours: the records are made
    assert fleet.steps(by_name) == {"seoul": "RepairRecord", "berlin": "RepairRecord"}, by_name
    assert [s["albName"] for s in out["skipped"]] == ["unreadable"] and out["untagged"] == 1
    out, by_name = run(fleet.T3)  # both out of hours
    assert fleet.steps(by_name) == {"seoul": "Delete", "berlin": "Delete"}, by_name
    assert fleet.lb(ministack, "seoul") is None and fleet.lb(ministack, "berlin") is None
    assert fleet.alias(ministack, infra, "seoul") is None and fleet.alias(ministack, infra, "berlin") is None
    out, by_name = run(fleet.T5)  # both in hours again: restored from their snapshots
    assert fleet.steps(by_name) == {"seoul": "Create", "berlin": "Create"}, by_name
    for name in ("seoul", "berlin"):
        assert fleet.shape(ministack, name, certificates=False) == before[name], name
        assert fleet.alias(ministack, infra, name) == fleet.dns(ministack, name), name
    assert fleet.lb(ministack, "untagged")["LoadBalancerArn"] == untagged
    assert fleet.lb(ministack, "unreadable")["LoadBalancerArn"] == unreadable
    assert {n: fleet.shape(ministack, n, certificates=False) for n in ("untagged", "unreadable")} == {
        n: before[n] for n in ("untagged", "unreadable")}


# --- canaries: the differences the tests above work around still hold -----------------------------


def test_difference_ec2_dry_run_acts(ec2):
    assert "ec2.dry_run" in DIFFERENCE_KEYS
    box = launch(ec2, {})[0]
    ec2.stop_instances(InstanceIds=[box], DryRun=True)  # AWS and moto: DryRunOperation
    assert states(ec2)[box] == "stopped"
    ec2.start_instances(InstanceIds=[box], DryRun=True)
    assert states(ec2)[box] == "running"


def test_difference_ec2_instance_id_filter_ignored(ec2):
    assert "ec2.instance_id_filter" in DIFFERENCE_KEYS
    a, b = launch(ec2, {})[0], launch(ec2, {})[0]
    found = ec2.describe_instances(Filters=[{"Name": "instance-id", "Values": [a]}])["Reservations"]
    assert sorted(i["InstanceId"] for r in found for i in r["Instances"]) == sorted([a, b])


def test_difference_autoscaling_members_not_in_ec2(ministack, ec2):
    """Why test_auto_scaling_members_untouched runs on moto only."""
    assert "autoscaling.instances" in DIFFERENCE_KEYS
    members = auto_scaling_group(ministack, ec2, "web-asg", {"AUTOSTOP_ENABLE": "true", "TIME": "9~18"}, size=2)
    assert len(members) == 2 and states(ec2) == {}


def test_difference_elbv2_listener_certificates_missing(ministack, infra):
    assert "elbv2.listener_certificates" in DIFFERENCE_KEYS
    elb = ministack.client("elbv2")
    lb = elb.create_load_balancer(Name="probe", Subnets=infra["subnets"])["LoadBalancers"][0]
    https = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": infra["cert"]}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": infra["web"]}],
    )["Listeners"][0]
    with pytest.raises(elb.exceptions.ClientError) as err:
        elb.describe_listener_certificates(ListenerArn=https["ListenerArn"])
    assert err.value.response["Error"]["Code"] == "InvalidAction"


def test_difference_route53_strict_like_aws(ministack, infra):
    """The one place ministack is stricter than moto: a DELETE that does not match is refused."""
    assert "route53.strict_changes" in DIFFERENCE_KEYS
    r53 = ministack.client("route53")
    rrset = {"Name": "x.example.com.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    r53.change_resource_record_sets(HostedZoneId=infra["zone"], ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": rrset}]})
    wrong = {**rrset, "ResourceRecords": [{"Value": "192.0.2.2"}]}
    with pytest.raises(r53.exceptions.InvalidChangeBatch):
        r53.change_resource_record_sets(HostedZoneId=infra["zone"], ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": wrong}]})
    with pytest.raises(r53.exceptions.InvalidChangeBatch):
        r53.change_resource_record_sets(HostedZoneId=infra["zone"], ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": rrset}]})


def test_reset_empties_every_service_used(ministack, ec2, queues):
    launch(ec2, {})
    ministack.client("elbv2").create_target_group(Name="tg", Protocol="HTTP", Port=80, VpcId=ec2.describe_vpcs()["Vpcs"][0]["VpcId"])
    ministack.reset()
    assert states(ec2) == {}
    assert ministack.client("sqs").list_queues().get("QueueUrls", []) == []
    assert ministack.client("s3").list_buckets()["Buckets"] == []
    assert ministack.client("elbv2").describe_target_groups()["TargetGroups"] == []
    assert ec2.describe_images()["Images"], "the stand-in's images must survive a reset (harness.launch needs one)"
