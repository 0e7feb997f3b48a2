"""The SAM template through the real SAM translator, as CloudFormation transforms it on deploy.

Used by tests/test_permissions.py, and by `make template`, which writes the translated template
for checkov to scan the resources SAM generates (roles, stages, event source mappings):

    python tests/sam.py OUT.json

(tests/test_template.py has its own copy of `translate`, the same approach.)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

ALB = {"AlbName": "dev-alb", "AlbHostedZoneId": "Z0123456789EXAMPLE", "AlbDomainName": "dev.example.com"}
# The zones and names the tagged ALBs' records may be in (AlbFleet, on by default).
FLEET_RECORDS = {"AlbRecordZones": "Z0123456789EXAMPLE,Z0FLEETZONE2", "AlbRecordNames": "*.dev.example.com,dev.example.com"}
# The ways the template can be deployed, as tests/test_template.py transforms it; together they
# create every conditional resource (the ALB workflow for the fleet, the single ALB or both, the
# open demo URL, the e-mail subscriptions). (Architecture=x86_64 is how `make sam-build` builds
# one of its two sets of artifacts.)
PARAMETER_SETS = [{}, {"AlbFleet": "Disabled"}, FLEET_RECORDS, {**ALB, "AlbFleet": "Disabled"},
                  {"ApiAuthorization": "NONE"}, ALB, {**ALB, "OperatorEmail": "ops@example.com"},
                  {**ALB, "Architecture": "x86_64"}]
EVERYTHING = {**ALB, **FLEET_RECORDS, "OperatorEmail": "ops@example.com", "ApiAuthorization": "NONE"}


class NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs by name only for names in `Policies`; the
    template names none, so nothing is looked up (and nothing here talks to AWS)."""

    def load(self, *args, **kwargs):
        return {}


def source() -> dict:
    return yaml_parse(TEMPLATE.read_text())


def translate(parameters: dict[str, str]) -> dict:
    """The whole transformed template (Resources, Conditions, Outputs...) for these parameters."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-2")
    text = TEMPLATE.read_text()
    # `sam build` / `sam package` replace local paths with S3 locations before the transform.
    text = text.replace("CodeUri: .", "CodeUri: s3://artifacts/code.zip")
    text = text.replace("DefinitionUri: statemachine/alb-scheduler.asl.json", "DefinitionUri: s3://artifacts/alb.json")
    text = text.replace("DefinitionUri: statemachine/alb-fleet.asl.json", "DefinitionUri: s3://artifacts/alb-fleet.json")
    return transform(yaml_parse(text), parameters, NoManagedPolicies())


def main(out: str) -> None:
    """Writes the resources of the deployment that has every conditional resource. Only
    `Resources`: without `Parameters` and `Conditions` a scanner cannot evaluate a resource's
    Condition to false (with default parameters) and skip it."""
    resources = translate(EVERYTHING)["Resources"]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}, indent=1))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/sam.py OUT.json")
    main(sys.argv[1])
