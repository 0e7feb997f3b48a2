"""The rules by which one AWS service may use another, checked on the template as deployed.

No emulator enforces these, and cfn-lint, checkov and the policy lints read words, not whether the
call one service makes of another is allowed. Each check here fails on the template as it was
before the fix it guards (issue [1/5]):

- every topic an alarm notifies can be used by CloudWatch: unencrypted, or under a customer key of
  this stack whose key policy admits `cloudwatch.amazonaws.com` (the AWS-managed `alias/aws/sns`
  does not, and cannot be changed);
- every function URL with `AuthType: NONE` has both permissions Lambda requires since October 2025
  (`lambda:InvokeFunctionUrl` with `FunctionUrlAuthType`, `lambda:InvokeFunction` with
  `InvokedViaFunctionUrl`), evaluated as an unsigned request against the function's policy;
- every EventBridge Scheduler target role allows its target, and nothing else of the stack;
- no physical name is the same in two stacks of one account and region;
- the Route 53 grants hold for a hosted zone id given with its `/hostedzone/` prefix and for a
  wildcard domain, as Route 53 normalizes record names;
- each Task of the state machine has its own timeout, longer than its function's, and retries the
  Lambda service errors AWS recommends.

Requests are evaluated by `@cloud-copilot/iam-simulate` (tests/iam_eval.py).
"""

from __future__ import annotations

import json
import re

import pytest

from iam_eval import Deployment, Request, allowed, as_list, role_table, simulate
from sam import ALB, EVERYTHING, PARAMETER_SETS, ROOT, source

ASL = ROOT / "statemachine" / "alb-scheduler.asl.json"


def deployments() -> list[Deployment]:
    return [Deployment(p) for p in PARAMETER_SETS + [EVERYTHING]]


def of_type(d: Deployment, kind: str) -> list[str]:
    return [k for k, v in d.resources.items() if v["Type"] == kind and d.exists(k)]


def logical_of(d: Deployment, value: object) -> str | None:
    """The logical id a (translated, unresolved) Ref/GetAtt names."""
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return target[0] if isinstance(target, list) else target.split(".")[0]
    return None


# --- alarms → topics ----------------------------------------------------------------------------

def topic_problem(d: Deployment, topic: str) -> str | None:
    """Why CloudWatch could not publish to this topic, or None."""
    key = d.resources[topic].get("Properties", {}).get("KmsMasterKeyId")
    if key is None:
        return None
    key_id = logical_of(d, key)
    if key_id is None or d.resources.get(key_id, {}).get("Type") != "AWS::KMS::Key":
        return f"encrypted with {json.dumps(key)}, not a key of this stack whose policy can admit CloudWatch"
    policy = d.properties(key_id)["KeyPolicy"]
    arn = d.attribute(key_id, "Arn")
    requests = [Request(a, arn, {}, "cloudwatch.amazonaws.com") for a in ("kms:Decrypt", "kms:GenerateDataKey")]
    answers = simulate([r.simulation([], policy) for r in requests])
    refused = [r.action for r, a in zip(requests, answers) if a["result"] != "Allowed"]
    return f"its key {key_id} does not admit cloudwatch.amazonaws.com for {refused}" if refused else None


def test_every_topic_an_alarm_notifies_can_be_used_by_cloudwatch():
    problems = {}
    for d in deployments():
        for alarm in of_type(d, "AWS::CloudWatch::Alarm"):
            props = d.resources[alarm]["Properties"]
            for action in as_list(props.get("AlarmActions")) + as_list(props.get("OKActions")):
                topic = logical_of(d, action)
                assert topic and d.resources[topic]["Type"] == "AWS::SNS::Topic", f"{alarm}: {action} is not a topic of this stack"
                why = topic_problem(d, topic)
                if why:
                    problems[f"{alarm} → {topic}"] = why
    assert not problems, "alarms whose notifications CloudWatch could not publish:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_the_topic_check_fails_the_aws_managed_key():
    d = Deployment(dict(ALB))
    d.resources["OperatorsTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
    assert "alias/aws/sns" in topic_problem(d, "OperatorsTopic")


# --- function URLs ------------------------------------------------------------------------------

def function_policy(d: Deployment, function: str) -> dict:
    """The function's resource policy as Lambda writes it from its AWS::Lambda::Permission
    resources (Lambda developer guide, "Control access to Lambda function URLs")."""
    arn = d.attribute(function, "Arn")
    statements = []
    for permission in of_type(d, "AWS::Lambda::Permission"):
        props = d.properties(permission)
        if props["FunctionName"] not in (arn, d.attribute(function, "Ref")):
            continue
        principal = props["Principal"]
        statement = {"Sid": permission, "Effect": "Allow", "Action": props["Action"], "Resource": arn,
                     "Principal": "*" if principal == "*" else ({"Service": principal} if "." in principal else {"AWS": principal})}
        condition: dict = {}
        if "FunctionUrlAuthType" in props:
            condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = props["FunctionUrlAuthType"]
        if props.get("InvokedViaFunctionUrl") in (True, "true"):
            condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
        if "SourceArn" in props:
            condition.setdefault("ArnLike", {})["AWS:SourceArn"] = props["SourceArn"]
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def url_problems(d: Deployment) -> list[str]:
    problems = []
    for url in of_type(d, "AWS::Lambda::Url"):
        props = d.resources[url]["Properties"]
        if props.get("AuthType") != "NONE":
            continue
        function = logical_of(d, props["TargetFunctionArn"])
        arn = d.attribute(function, "Arn")
        policy = function_policy(d, function)
        # What Lambda authorizes for an unsigned call of the URL: both must be allowed.
        requests = [
            Request("lambda:InvokeFunctionUrl", arn, {"lambda:FunctionUrlAuthType": "NONE"}, "ANONYMOUS"),
            Request("lambda:InvokeFunction", arn, {"lambda:InvokedViaFunctionUrl": "true"}, "ANONYMOUS"),
        ]
        answers = simulate([r.simulation([], policy) for r in requests])
        for r, a in zip(requests, answers):
            if a["result"] != "Allowed":
                problems.append(f"{url} ({function}): an unsigned call is refused {r.action} ({a['result']} {a['errors'] or ''})")
        # ...and the open grant must not open the function to calls that do not come through the URL.
        direct = Request("lambda:InvokeFunction", arn, {}, "ANONYMOUS")
        if simulate([direct.simulation([], policy)])[0]["result"] == "Allowed":
            problems.append(f"{url} ({function}): anyone may invoke the function directly, not only through its URL")
    return problems


def test_every_open_function_url_has_the_permissions_lambda_requires():
    d = Deployment({"ApiAuthorization": "NONE"})
    assert of_type(d, "AWS::Lambda::Url"), "the open demo URL is not in this deployment"
    assert url_problems(d) == []


def test_the_url_check_fails_with_only_the_url_permission():
    d = Deployment({"ApiAuthorization": "NONE"})
    del d.resources["OpenDemoUrlInvokePermission"]
    problems = url_problems(d)
    assert any("refused lambda:InvokeFunction (" in p for p in problems), problems


# --- schedules ----------------------------------------------------------------------------------

TARGET_ACTIONS = {"AWS::Lambda::Function": "lambda:InvokeFunction", "AWS::StepFunctions::StateMachine": "states:StartExecution"}


def test_every_schedule_role_allows_exactly_its_target():
    d = Deployment(EVERYTHING)
    schedules = of_type(d, "AWS::Scheduler::Schedule")
    assert len(schedules) == 2, schedules
    targets = {k: d.attribute(k, "Arn") for k, v in d.resources.items() if v["Type"] in TARGET_ACTIONS and d.exists(k)}
    problems = []
    for schedule in schedules:
        target = d.resources[schedule]["Properties"]["Target"]
        mine = logical_of(d, target["Arn"])
        role = d.role_of(schedule)
        requests, expected = [], []
        for logical, arn in targets.items():
            action = TARGET_ACTIONS[d.resources[logical]["Type"]]
            requests.append(Request(action, arn))
            expected.append(logical == mine)
        for r, want, got in zip(requests, expected, allowed(d, role, requests)):
            if (got["result"] == "Allowed") != want:
                problems.append(f"{schedule} ({role}): {r.action} on {r.resource}: {got['result']}, expected {'Allowed' if want else 'denied'}")
        others = d.granted_actions(role) - {TARGET_ACTIONS[d.resources[mine]["Type"]].lower()}
        if others:
            problems.append(f"{schedule} ({role}) also grants {sorted(others)}")
    assert not problems, "\n".join(problems)


# --- two stacks in one account and region ---------------------------------------------------------

NAME_PROPERTIES = {
    "Name", "FunctionName", "QueueName", "TopicName", "BucketName", "RoleName", "LogGroupName", "StateMachineName",
    "AlarmName", "DashboardName", "GroupName", "ManagedPolicyName", "ApiName", "TableName", "KeyName",
}


def physical_names(d: Deployment) -> dict[str, str]:
    """(logical id.property) → the physical name it gives, for every resource that names itself."""
    names = {}
    for logical, resource in d.resources.items():
        if not d.exists(logical) or resource["Type"].startswith("AWS::Serverless::"):
            continue
        if resource["Type"] in ("AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping", "AWS::ApiGatewayV2::Stage"):
            continue  # not account-wide names: they live inside their function or API
        for prop in NAME_PROPERTIES & set(resource.get("Properties", {})):
            names[f"{logical}.{prop}"] = str(d.properties(logical)[prop])
    return names


def test_no_physical_name_is_the_same_in_two_stacks():
    collide = {}
    for parameters in PARAMETER_SETS + [EVERYTHING]:
        a, b = physical_names(Deployment(parameters, stack="dev")), physical_names(Deployment(parameters, stack="staging"))
        assert a.keys() == b.keys()
        collide.update({k: v for k, v in a.items() if b[k] == v})
    assert not collide, f"names two stacks in one account and region would both claim: {collide}"


def test_the_name_check_sees_a_fixed_schedule_name():
    d = Deployment(EVERYTHING, stack="dev")
    d.resources["Ec2AutostopFunctionHourly"]["Properties"]["Name"] = "Ec2AutostopFunctionHourly"
    e = Deployment(EVERYTHING, stack="staging")
    e.resources["Ec2AutostopFunctionHourly"]["Properties"]["Name"] = "Ec2AutostopFunctionHourly"
    a, b = physical_names(d), physical_names(e)
    assert a["Ec2AutostopFunctionHourly.Name"] == b["Ec2AutostopFunctionHourly.Name"]


# --- Route 53: what the parameters may look like ----------------------------------------------------

@pytest.mark.parametrize(("zone", "domain", "record"), [
    ("Z0123456789EXAMPLE", "dev.example.com", "dev.example.com."),
    ("/hostedzone/Z0123456789EXAMPLE", "dev.example.com", "Dev.Example.COM"),
    ("Z0123456789EXAMPLE", "*.dev.example.com", "*.dev.example.com"),
])
def test_route53_grants_hold_whatever_form_the_zone_and_record_take(zone, domain, record):
    from calls import normalized_record_name

    d = Deployment({**ALB, "AlbHostedZoneId": zone, "AlbDomainName": domain})
    arn = "arn:aws:route53:::hostedzone/Z0123456789EXAMPLE"
    change = Request("route53:ChangeResourceRecordSets", arn, {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [normalized_record_name(record)],
        "route53:ChangeResourceRecordSetsRecordTypes": ["A"], "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
    })
    other = Request("route53:ChangeResourceRecordSets", arn, {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": ["prod.example.com"],
        "route53:ChangeResourceRecordSetsRecordTypes": ["A"], "route53:ChangeResourceRecordSetsActions": ["UPSERT"],
    })
    listing = Request("route53:ListResourceRecordSets", arn)
    for function in ("CreateRoute53RecordFunction", "DeleteRoute53RecordFunction"):
        got = [a["result"] for a in allowed(d, d.role_of(function), [change, other, listing])]
        assert got == ["Allowed", "ImplicitlyDenied", "Allowed"], (function, got)
    [check] = allowed(d, d.role_of("CheckExistingALBFunction"), [listing])
    assert check["result"] == "Allowed"


@pytest.mark.parametrize(("parameter", "value", "accepted"), [
    ("AlbDomainName", "dev.example.com", True), ("AlbDomainName", "*.dev.example.com", True), ("AlbDomainName", "", True),
    ("AlbDomainName", "Dev.example.com", False), ("AlbDomainName", "dev.example.com.", False),
    ("AlbDomainName", "dev.*.example.com", False), ("AlbDomainName", "dev example.com", False),
    ("AlbHostedZoneId", "Z0123456789EXAMPLE", True), ("AlbHostedZoneId", "/hostedzone/Z0123456789EXAMPLE", True),
    ("AlbHostedZoneId", "", True), ("AlbHostedZoneId", "hostedzone/Z01", False), ("AlbHostedZoneId", "z0123", False),
])
def test_route53_parameters_take_only_forms_the_grants_can_match(parameter, value, accepted):
    """CloudFormation cannot lower-case a parameter: a domain IAM would see differently from how
    it was typed is refused at deploy time, with the parameter's ConstraintDescription."""
    spec = source()["Parameters"][parameter]
    assert bool(re.fullmatch(spec["AllowedPattern"], value)) is accepted
    assert spec["ConstraintDescription"]


# --- the state machine relies on no engine's defaults --------------------------------------------

LAMBDA_RETRY = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                "Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException"}


def test_every_task_times_out_after_its_function_and_retries_what_aws_recommends():
    definition = json.loads(ASL.read_text())
    substitutions = source()["Resources"]["AlbSchedulerStateMachine"]["Properties"]["DefinitionSubstitutions"]
    functions = source()["Resources"]
    tasks = {name: s for name, s in definition["States"].items() if s["Type"] == "Task"}
    assert tasks
    for name, state in tasks.items():
        assert isinstance(state.get("TimeoutSeconds"), int), f"{name}: no TimeoutSeconds (AWS applies none; other engines 60 s)"
        resource = state["Resource"]
        if resource.startswith("${"):
            logical = substitutions[resource[2:-1]]["Fn::GetAtt"][0]
            timeout = functions[logical]["Properties"]["Timeout"]
            assert state["TimeoutSeconds"] > timeout, f"{name}: TimeoutSeconds {state['TimeoutSeconds']} <= {logical}'s Timeout {timeout}"
            retried = {e for r in state.get("Retry", []) for e in r["ErrorEquals"]}
            assert LAMBDA_RETRY <= retried, f"{name}: does not retry {sorted(LAMBDA_RETRY - retried)}"
            assert "States.Timeout" in retried, f"{name}: a timed-out (idempotent) task is not retried"


# --- the documented table of what each role may do ----------------------------------------------

def test_the_permissions_table_in_the_docs_is_the_templates():
    written = (ROOT / "docs" / "permissions.md").read_text()
    assert written == role_table(), "docs/permissions.md is out of date: run `python tests/iam_eval.py docs/permissions.md`"
