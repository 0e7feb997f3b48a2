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


class NoManagedPolicies:
    def load(self, *args, **kwargs):
        return {}


def translate(parameters: dict[str, str]) -> dict:
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-2")
    text = (ROOT / "template.yaml").read_text()
    # `sam build` / `sam package` replace local paths with S3 locations before the transform.
    text = text.replace("CodeUri: .", "CodeUri: s3://artifacts/code.zip")
    text = text.replace("DefinitionUri: statemachine/alb-scheduler.asl.json", "DefinitionUri: s3://artifacts/alb.json")
    return transform(yaml_parse(text), parameters, NoManagedPolicies())["Resources"]


ALB = {"AlbName": "dev-alb", "AlbHostedZoneId": "Z0123456789EXAMPLE", "AlbDomainName": "dev.example.com"}


@pytest.mark.parametrize("parameters", [{}, {"ApiAuthorization": "NONE"}, ALB, {**ALB, "OperatorEmail": "ops@example.com"},
                                        {**ALB, "Architecture": "x86_64"}])
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


def test_state_machine_substitutions_cover_the_asl():
    resources = translate(ALB)
    machine = resources["AlbSchedulerStateMachine"]["Properties"]
    placeholders = set(__import__("re").findall(r"\$\{(\w+)\}", (ROOT / "statemachine" / "alb-scheduler.asl.json").read_text()))
    assert placeholders == set(machine["DefinitionSubstitutions"])
    assert json.loads(json.dumps(machine["DefinitionS3Location"]))["Bucket"] == "artifacts"
