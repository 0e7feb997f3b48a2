"""The template's roles and resource policies as one deployment of it would have them, and IAM
requests evaluated against them by a maintained evaluator, npm `@cloud-copilot/iam-simulate`
(tests/iam/simulate.mjs): condition operators, the ARN checked against the action's resource types,
the context keys checked against the action's.

`Deployment` resolves what the SAM translator leaves to CloudFormation (Ref, Fn::Sub, Fn::GetAtt,
Fn::Join, Fn::Split, Fn::Select, Fn::If, Fn::FindInMap, conditions) for one stack name, one set of
parameters and the physical names its resources would get, so that a policy reads as IAM would
read it in that account. This is the small part CloudFormation itself would do; the evaluation of
a request against the policies is iam-simulate's.

Used by tests/test_calls_allowed.py (every call the functions made in the integration suite) and
tests/test_service_rules.py (what one AWS service may do to another).
"""

from __future__ import annotations

import copy
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam import ROOT, source, translate

ACCOUNT = "123456789012"
REGION = "ap-northeast-2"
PARTITION = "aws"
SIMULATOR = ROOT / "tests" / "iam" / "simulate.mjs"

NO_VALUE = object()

# The AWS-managed policies SAM attaches, as AWS publishes them (test_permissions.py checks that
# nothing else is attached).
from test_permissions import AWS_MANAGED_ARN, AWS_MANAGED_POLICIES  # noqa: E402


def _physical(logical_id: str, kind: str, stack: str) -> dict[str, str]:
    """What CloudFormation would name a resource without an explicit name (stack-logical-suffix),
    and the attributes the template reads of it."""
    name = f"{stack}-{logical_id}-1A2B3C4D5E6F"[:63]
    region, account = REGION, ACCOUNT
    if kind == "AWS::Lambda::Function":
        return {"Ref": name, "Arn": f"arn:{PARTITION}:lambda:{region}:{account}:function:{name}"}
    if kind == "AWS::S3::Bucket":
        bucket = name.lower()
        return {"Ref": bucket, "Arn": f"arn:{PARTITION}:s3:::{bucket}"}
    if kind == "AWS::SQS::Queue":
        return {"Ref": f"https://sqs.{region}.amazonaws.com/{account}/{name}", "QueueName": name,
                "Arn": f"arn:{PARTITION}:sqs:{region}:{account}:{name}"}
    if kind == "AWS::SNS::Topic":
        arn = f"arn:{PARTITION}:sns:{region}:{account}:{name}"
        return {"Ref": arn, "TopicArn": arn, "TopicName": name}
    if kind == "AWS::StepFunctions::StateMachine":
        arn = f"arn:{PARTITION}:states:{region}:{account}:stateMachine:{name}"
        return {"Ref": arn, "Arn": arn, "Name": name}
    if kind == "AWS::IAM::Role":
        return {"Ref": name, "Arn": f"arn:{PARTITION}:iam::{account}:role/{name}", "RoleId": "AROA" + name[:12]}
    if kind == "AWS::Logs::LogGroup":
        return {"Ref": name, "Arn": f"arn:{PARTITION}:logs:{region}:{account}:log-group:{name}:*"}
    if kind == "AWS::KMS::Key":
        key = "0123abcd-4567-89ef-0123-" + format(abs(hash(logical_id)) % 16**12, "012x")
        return {"Ref": key, "KeyId": key, "Arn": f"arn:{PARTITION}:kms:{region}:{account}:key/{key}"}
    if kind == "AWS::CloudWatch::Alarm":
        return {"Ref": name, "Arn": f"arn:{PARTITION}:cloudwatch:{region}:{account}:alarm:{name}"}
    if kind == "AWS::Scheduler::Schedule":
        return {"Ref": name, "Arn": f"arn:{PARTITION}:scheduler:{region}:{account}:schedule/default/{name}"}
    if kind == "AWS::Lambda::Url":
        return {"Ref": name, "FunctionUrl": f"https://{name}.lambda-url.{region}.on.aws/", "FunctionArn": ""}
    return {"Ref": name, "Arn": f"arn:{PARTITION}:unknown:{region}:{account}:{name}"}


@dataclass
class Deployment:
    """One deployment of the template: a stack name, its parameters, and (optionally) the physical
    names some resources have (logical id → attribute → value), e.g. the bucket a test created."""

    parameters: dict[str, str] = field(default_factory=dict)
    stack: str = "lightsout"
    physical: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self):
        self.template = translate(self.parameters)
        declared = source().get("Parameters", {})
        self.values: dict[str, Any] = {}
        for name, spec in declared.items():
            value = self.parameters.get(name, spec.get("Default", ""))
            if spec.get("Type") == "CommaDelimitedList":
                value = [v for v in str(value).split(",")] if value != "" else [""]
            self.values[name] = str(value) if not isinstance(value, list) else value
        self.values.update({
            "AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack, "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack}/1",
        })
        self.resources: dict[str, dict] = self.template["Resources"]
        self._conditions: dict[str, bool] = {}

    # --- CloudFormation's part -----------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self._evaluate_condition(self.template.get("Conditions", {})[name]))
        return self._conditions[name]

    def _evaluate_condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (fn, args), = node.items()
            if fn == "Fn::Equals":
                a, b = (self.resolve(x) for x in args)
                return str(a) == str(b)
            if fn == "Fn::Not":
                return not self._evaluate_condition(args[0])
            if fn == "Fn::And":
                return all(self._evaluate_condition(x) for x in args)
            if fn == "Fn::Or":
                return any(self._evaluate_condition(x) for x in args)
            if fn == "Condition":
                return self.condition(args)
        return self.resolve(node)

    def exists(self, logical_id: str) -> bool:
        resource = self.resources.get(logical_id)
        return resource is not None and ("Condition" not in resource or self.condition(resource["Condition"]))

    def attribute(self, logical_id: str, attribute: str) -> str:
        if logical_id in self.values and attribute == "Ref":
            return self.values[logical_id]
        if not self.exists(logical_id):
            raise KeyError(f"{logical_id} does not exist in this deployment")
        given = self.physical.get(logical_id, {})
        if attribute in given:
            return given[attribute]
        kind = self.resources[logical_id]["Type"]
        derived = _physical(logical_id, kind, self.stack)
        # A physical name given (Ref) also names the ARN of what has one.
        if "Ref" in given and kind in ("AWS::S3::Bucket", "AWS::Lambda::Function", "AWS::IAM::Role"):
            derived = {k: v.replace(derived["Ref"], given["Ref"]) for k, v in derived.items()}
        if kind == "AWS::SQS::Queue" and "QueueName" in given:
            derived = {k: v.replace(derived["QueueName"], given["QueueName"]) for k, v in derived.items()}
        if kind == "AWS::SNS::Topic" and "TopicName" in given:
            derived = {k: v.replace(derived["TopicName"], given["TopicName"]) for k, v in derived.items()}
        if attribute not in derived:
            raise KeyError(f"{logical_id}.{attribute}: no value known for a {kind}")
        return derived[attribute]

    def resolve(self, node: Any) -> Any:
        """`node` with every intrinsic function replaced by its value in this deployment."""
        if isinstance(node, list):
            out = [self.resolve(x) for x in node]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, args), = node.items()
            if fn == "Ref":
                return NO_VALUE if args == "AWS::NoValue" else self.attribute(args, "Ref")
            if fn == "Fn::GetAtt":
                logical, attr = args if isinstance(args, list) else args.split(".", 1)
                return self.attribute(logical, attr)
            if fn == "Fn::Sub":
                text, variables = (args, {}) if isinstance(args, str) else (args[0], args[1])
                variables = {k: self.resolve(v) for k, v in variables.items()}
                return self._sub(text, variables)
            if fn == "Fn::Join":
                return args[0].join(str(x) for x in self.resolve(args[1]))
            if fn == "Fn::Split":
                return str(self.resolve(args[1])).split(args[0])
            if fn == "Fn::Select":
                return self.resolve(args[1])[int(self.resolve(args[0]))]
            if fn == "Fn::If":
                return self.resolve(args[1] if self.condition(args[0]) else args[2])
            if fn == "Fn::FindInMap":
                m, k1, k2 = (self.resolve(x) for x in args)
                return self.template["Mappings"][m][str(k1)][str(k2)]
            if fn in ("Fn::Equals", "Fn::Not", "Fn::And", "Fn::Or", "Condition"):
                return self._evaluate_condition(node)
        out = {k: self.resolve(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        out, i = [], 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            out.append(text[i:start])
            end = text.index("}", start)
            name = text[start + 2:end]
            if name.startswith("!"):
                out.append("${" + name[1:] + "}")
            elif name in variables:
                out.append(str(variables[name]))
            elif "." in name and name.split(".", 1)[0] in self.resources:
                logical, attr = name.split(".", 1)
                out.append(self.attribute(logical, attr))
            else:
                out.append(str(self.attribute(name, "Ref")))
            i = end + 1
        return "".join(out)

    # --- what the deployment's roles may do ----------------------------------------------------

    def properties(self, logical_id: str) -> dict:
        return self.resolve(self.resources[logical_id].get("Properties", {}))

    def role_of(self, logical_id: str) -> str:
        """The logical id of the role a function, state machine or schedule target runs as."""
        props = self.resources[logical_id].get("Properties", {})
        role = props.get("Role") or props.get("RoleArn") or (props.get("Target") or {}).get("RoleArn")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            target = role["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else target.split(".")[0]
        raise KeyError(f"{logical_id}: its role is not a role of this template: {role!r}")

    def role_arn(self, role_id: str) -> str:
        return self.attribute(role_id, "Arn")

    def session_arn(self, role_id: str, session: str) -> str:
        """The principal a role's session signs as (what IAM evaluates)."""
        return f"arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/{self.attribute(role_id, 'Ref')}/{session}"

    def identity_policies(self, role_id: str) -> list[dict]:
        """The role's policies as iam-simulate takes them: inline ones, in-template managed ones
        and the AWS-managed ones (their published documents)."""
        props = self.properties(role_id)
        policies = [{"name": p["PolicyName"], "policy": p["PolicyDocument"]} for p in props.get("Policies", [])]
        for arn in props.get("ManagedPolicyArns", []):
            match = AWS_MANAGED_ARN.match(arn)
            if not match or match.group(1) not in AWS_MANAGED_POLICIES:
                raise KeyError(f"{role_id}: managed policy {arn} is not one this test knows")
            policies.append({"name": match.group(1), "policy": AWS_MANAGED_POLICIES[match.group(1)]})
        for logical, resource in self.resources.items():
            if resource["Type"] == "AWS::IAM::ManagedPolicy" and self.exists(logical):
                roles = resource["Properties"].get("Roles", [])
                if {"Ref": role_id} in roles:
                    policies.append({"name": logical, "policy": self.properties(logical)["PolicyDocument"]})
        return policies

    def granted_actions(self, role_id: str) -> set[str]:
        """Every action an Allow statement of the role names (lower case)."""
        actions = set()
        for policy in self.identity_policies(role_id):
            for statement in as_list(policy["policy"].get("Statement")):
                if statement.get("Effect") == "Allow":
                    actions.update(a.lower() for a in as_list(statement.get("Action")))
        return actions

    def functions(self) -> dict[str, str]:
        """Binary name (what `cargo lambda watch` serves) → the function's logical id."""
        found = {}
        for logical, resource in source()["Resources"].items():
            binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            if resource["Type"] == "AWS::Serverless::Function" and binary:
                found[binary] = logical
        return found


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass
class Request:
    """One request as IAM evaluates it."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    principal: str = ""

    def simulation(self, identity: list[dict], resource_policy: dict | None = None) -> dict:
        simulation = {
            "identityPolicies": identity,
            "serviceControlPolicies": [],
            "resourceControlPolicies": [],
            "request": {
                "action": self.action,
                "principal": self.principal,
                "resource": {"resource": self.resource, "accountId": ACCOUNT},
                "contextVariables": copy.deepcopy(self.context),
            },
        }
        if resource_policy is not None:
            simulation["resourcePolicy"] = resource_policy
        return simulation


def simulate(simulations: list[dict]) -> list[dict]:
    """Evaluates each simulation (iam-simulate's input) in one Node process; returns, in order,
    {result, errors} with result 'Allowed', 'ExplicitlyDenied', 'ImplicitlyDenied' or 'Error'."""
    if not simulations:
        return []
    payload = json.dumps([{"id": i, "simulation": s} for i, s in enumerate(simulations)])
    done = subprocess.run(
        ["node", str(SIMULATOR)], input=payload.encode(), capture_output=True, cwd=ROOT, timeout=600
    )
    if done.returncode != 0:
        raise RuntimeError(f"iam-simulate failed: {done.stderr.decode()[-2000:]}")
    answers = sorted(json.loads(done.stdout), key=lambda a: a["id"])
    return [{"result": a["result"], "errors": a["errors"]} for a in answers]


def allowed(deployment: Deployment, role_id: str, requests: list[Request]) -> list[dict]:
    """Each request evaluated against the role's identity policies."""
    identity = deployment.identity_policies(role_id)
    principal = deployment.session_arn(role_id, "session")
    sims = []
    for r in requests:
        r.principal = r.principal or principal
        sims.append(r.simulation(identity))
    return simulate(sims)


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=1, sort_keys=True, default=str))


# --- the table of what each role may do (docs/permissions.md) -------------------------------------

# The deployment the table describes: every optional part on, placeholder names for the parameters.
TABLE_PARAMETERS = {"AlbName": "ALB_NAME", "AlbHostedZoneId": "ZONE_ID", "AlbDomainName": "DOMAIN",
                    "AlbRecordZones": "RECORD_ZONE_1,RECORD_ZONE_2", "AlbRecordNames": "RECORD_NAMES",
                    "OperatorEmail": "ops@example.com", "ApiAuthorization": "NONE"}


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text.replace("arn:aws:", "").replace("-1A2B3C4D5E6F", "-…").replace(ACCOUNT, "ACCOUNT").replace(REGION, "REGION").replace("|", "\\|")


def role_table() -> str:
    """Markdown: for every role the template creates, each Allow statement's actions, resources and
    conditions, resolved for a stack named `lightsout` (ACCOUNT, REGION, ALB_NAME, ZONE_ID, DOMAIN
    stand for the account, region and stack parameters)."""
    d = Deployment(TABLE_PARAMETERS, physical={"AlbSnapshotBucket": {"Ref": "SNAPSHOT_BUCKET"},
                                              "OutcomesBucket": {"Ref": "OUTCOMES_BUCKET"}})
    holders = {}
    for logical, resource in d.resources.items():
        if resource["Type"] in ("AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::Scheduler::Schedule"):
            holders[d.role_of(logical)] = logical
    lines = [
        "# What each role may do",
        "",
        "Generated from template.yaml by `python tests/iam_eval.py docs/permissions.md` (the SAM",
        "translation, resolved for a stack named `lightsout` with every optional part deployed);",
        "tests/test_service_rules.py fails when this file and the template differ. ACCOUNT, REGION,",
        "ALB_NAME, ZONE_ID, DOMAIN, RECORD_ZONE_1, RECORD_ZONE_2 (AlbRecordZones), RECORD_NAMES",
        "(AlbRecordNames), SNAPSHOT_BUCKET and OUTCOMES_BUCKET stand for the account, the region,",
        "the stack parameters and the buckets the stack creates; `lightsout-<Resource>-…` for the",
        "names CloudFormation generates. A statement about ALB_NAME exists only with `AlbName`, one",
        "conditioned on AUTOSTOP_ENABLE only with `AlbFleet=Enabled`, the RECORD_ZONE ones only with",
        "both record parameters set. Every function role also has AWS's AWSLambdaBasicExecutionRole",
        "(write its own logs).",
        "",
        "| role of | statement | actions | resources | condition |",
        "|---|---|---|---|---|",
    ]
    for role in sorted(holders, key=lambda r: holders[r]):
        for policy in d.identity_policies(role):
            if policy["name"] == "AWSLambdaBasicExecutionRole":
                continue
            for statement in as_list(policy["policy"].get("Statement")):
                if statement.get("Effect") != "Allow":
                    continue
                actions = ", ".join(f"`{a}`" for a in as_list(statement.get("Action")))
                resources = "<br>".join(f"`{_short(r)}`" for r in as_list(statement.get("Resource")))
                condition = f"`{_short(statement['Condition'])}`" if statement.get("Condition") else ""
                lines.append(f"| {holders[role]} | {statement.get('Sid', policy['name'])} | {actions} | {resources} | {condition} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: python tests/iam_eval.py docs/permissions.md")
    Path(sys.argv[1]).parent.mkdir(parents=True, exist_ok=True)
    Path(sys.argv[1]).write_text(role_table())
