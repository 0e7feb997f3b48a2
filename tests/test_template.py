"""The SAM template through the real SAM translator (the transform CloudFormation runs on deploy),
for each way it can be deployed. `sam validate --lint` does not catch every transform error
(an intrinsic function where SAM needs a literal passed it, and failed here)."""

from __future__ import annotations

import json
import os

import pytest
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from harness import ROOT
from sam import ALB, PARAMETER_SETS


class NoManagedPolicies:
    def load(self, *args, **kwargs):
        return {}


def translate(parameters: dict[str, str]) -> dict:
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-2")
    text = (ROOT / "template.yaml").read_text()
    # `sam build` / `sam package` replace local paths with S3 locations before the transform.
    text = text.replace("CodeUri: .", "CodeUri: s3://artifacts/code.zip")
    text = text.replace("DefinitionUri: statemachine/alb-scheduler.asl.json", "DefinitionUri: s3://artifacts/alb.json")
    text = text.replace("DefinitionUri: statemachine/alb-fleet.asl.json", "DefinitionUri: s3://artifacts/alb-fleet.json")
    return transform(yaml_parse(text), parameters, NoManagedPolicies())["Resources"]


@pytest.mark.parametrize("parameters", PARAMETER_SETS)
def test_template_transforms(parameters):
    resources = translate(parameters)
    functions = {k for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    assert {"Ec2AutostopFunction", "SqsProducerFunction", "SqsConsumerFunction"} <= functions
    # Every function runs on the Architecture parameter, which `make sam-build` builds both values of
    # (`sam build --parameter-overrides Architecture=...`); CloudFormation resolves the Ref.
    assert {k: resources[k]["Properties"]["Architectures"] for k in functions} == {k: [{"Ref": "Architecture"}] for k in functions}


def test_requests_pipeline_wiring():
    resources = translate({})
    body = resources["RequestsApi"]["Properties"]["Body"]
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            assert operation["security"] == [{"AWS_IAM": []}], f"{method} {path} must require SigV4"
    queue = resources["RequestsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3 and queue["SqsManagedSseEnabled"] is True
    mapping = next(v for v in resources.values() if v["Type"] == "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    alarm = resources["DeadLetteredRequestsAlarm"]["Properties"]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_visibility_timeout_is_six_times_the_consumer_timeout():
    template = yaml_parse((ROOT / "template.yaml").read_text())
    allowed = template["Parameters"]["ConsumerTimeoutSeconds"]["AllowedValues"]
    table = template["Mappings"]["SixTimes"]
    assert sorted(table, key=int) == sorted(allowed, key=int)
    assert all(table[t]["Seconds"] == 6 * int(t) for t in allowed)


@pytest.mark.parametrize("machine, asl", [("AlbSchedulerStateMachine", "alb-scheduler.asl.json"),
                                          ("AlbFleetStateMachine", "alb-fleet.asl.json")])
def test_state_machine_substitutions_cover_the_asl(machine, asl):
    resources = translate(ALB)
    props = resources[machine]["Properties"]
    placeholders = set(__import__("re").findall(r"\$\{(\w+)\}", (ROOT / "statemachine" / asl).read_text()))
    assert placeholders == set(props["DefinitionSubstitutions"])
    assert json.loads(json.dumps(props["DefinitionS3Location"]))["Bucket"] == "artifacts"


def test_alb_workflow_is_deployed_for_the_fleet_the_single_alb_or_both():
    """The fleet (AlbFleet, on by default) needs no Alb* parameter; with both off nothing of the
    ALB workflow is deployed; only the fleet machine has a schedule (it runs the single ALB too)."""
    from iam_eval import Deployment

    alb_parts = ["AlbSchedulerStateMachine", "AlbFleetStateMachine", "DiscoverALBsFunction", "AlbSnapshotBucket"]
    for parameters, deployed in (({}, True), ({"AlbFleet": "Disabled"}, False), ({**ALB, "AlbFleet": "Disabled"}, True)):
        d = Deployment(parameters)
        assert [d.exists(k) for k in alb_parts] == [deployed] * len(alb_parts), parameters
    schedules = {k for k, v in translate(ALB).items() if v["Type"] == "AWS::Scheduler::Schedule"}
    assert any(k.startswith("AlbFleetStateMachine") for k in schedules), schedules
    assert not any(k.startswith("AlbSchedulerStateMachine") for k in schedules), schedules


def test_the_default_schedule_is_the_one_lightsout_check_assumes():
    """`lightsout check` compares windows with the runs of the stack's default ScheduleExpression
    (lightsout_schedule::cadence::DEFAULT_EXPRESSION): the two must be the same expression."""
    import re

    template = yaml_parse((ROOT / "template.yaml").read_text())
    source = (ROOT / "crates" / "core" / "schedule" / "src" / "cadence.rs").read_text()
    [constant] = re.findall(r'pub const DEFAULT_EXPRESSION: &str = "([^"]+)";', source)
    assert template["Parameters"]["ScheduleExpression"]["Default"] == constant
