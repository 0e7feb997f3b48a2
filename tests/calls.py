"""Every AWS call the functions make in the integration suite, recorded as IAM would see it.

Two places see the calls:
- `Recorder`, the observer of every `faults.FaultProxy` that stands between the functions and the
  stand-in (conftest puts one in front of every `cargo lambda watch`). The function that made a call
  is named by its User-Agent (`app/<AWS_LAMBDA_FUNCTION_NAME>`, set by lightsout-sdk).
- `harness.Watch`, whose front door registers each invocation while it runs (`INVOCATIONS`), so a
  call is attributed to the event and settings it was made under: the ALB functions' calls are
  judged under the stack parameters that event stands for (AlbName, AlbHostedZoneId, AlbDomainName,
  the snapshot bucket), the request functions' under their queue and bucket.

Each record is one IAM request: the function, the IAM action, the resource ARN and the context
keys IAM would fill in (the resource's tags as they were before the call, the request's tags and
tag keys, the normalized record names of a Route 53 change, ...). AWS also authorizes some calls
that the code does not make itself, against the caller: they come from `IMPLIED`, each with the
AWS documentation it comes from. tests/test_calls_allowed.py evaluates every record against the
function's role as SAM generates it (tests/iam_eval.py).
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import boto3

ACCOUNT = "123456789012"

_APP = re.compile(r"(?:^|\s)app/([A-Za-z0-9!#$%&'*+\-.^_`|~]+)")
_REGION = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/[^/]+/aws4_request")


# --- which invocation a call belongs to ----------------------------------------------------------

@dataclass
class Invocation:
    """One running invocation: the function (binary name), its event and its settings."""

    function: str
    payload: Any
    env: dict[str, str]


class Invocations:
    """The invocations running now, by function (harness.Watch registers them)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._active: dict[str, list[Invocation]] = {}
        self.started: list[Invocation] = []

    def begin(self, invocation: Invocation) -> None:
        with self._lock:
            self._active.setdefault(invocation.function, []).append(invocation)
            self.started.append(invocation)

    def end(self, invocation: Invocation) -> None:
        with self._lock:
            running = self._active.get(invocation.function, [])
            if invocation in running:
                running.remove(invocation)

    def of(self, function: str) -> list[Invocation]:
        with self._lock:
            return list(self._active.get(function, []))


INVOCATIONS = Invocations()


# --- what AWS authorizes besides the call itself ------------------------------------------------

ELB_PERMISSIONS = "https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-permissions.html"
ELB_TAG_ON_CREATE = "https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/tagging-resources-during-creation.html"
EBS_KMS = "https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html"
S3_GET_OBJECT = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html"
LAMBDA_SQS = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"

# (the call as recorded → what AWS also authorizes against the caller's role, and where AWS says so)
IMPLIED: list[dict[str, str]] = [
    {"call": "elasticloadbalancing:CreateLoadBalancer", "also": "ec2:DescribeAccountAttributes, ec2:DescribeAddresses, "
     "ec2:DescribeInternetGateways, ec2:DescribeSecurityGroups, ec2:DescribeSubnets, ec2:DescribeVpcs", "doc": ELB_PERMISSIONS},
    {"call": "elasticloadbalancing:CreateLoadBalancer", "also": "iam:CreateServiceLinkedRole (iam:AWSServiceName = "
     "elasticloadbalancing.amazonaws.com), the first time in an account", "doc": ELB_PERMISSIONS},
    {"call": "elasticloadbalancing:Create* with Tags", "also": "elasticloadbalancing:AddTags on the new resource "
     "(elasticloadbalancing:CreateAction = the creating action)", "doc": ELB_TAG_ON_CREATE},
    {"call": "ec2:StartInstances", "also": "kms:CreateGrant (kms:GrantIsForAWSResource = true) on the key of an "
     "encrypted EBS volume, when that key is customer-managed", "doc": EBS_KMS},
    {"call": "s3:GetObject of a missing key", "also": "s3:ListBucket on the bucket, for 404 NoSuchKey instead of 403",
     "doc": S3_GET_OBJECT},
    {"call": "an SQS event source mapping", "also": "sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes on "
     "the queue, as the function's execution role", "doc": LAMBDA_SQS},
]

CREATE_LB_READS = ["ec2:DescribeAccountAttributes", "ec2:DescribeAddresses", "ec2:DescribeInternetGateways",
                   "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"]
ELB_SERVICE_LINKED_ROLE = (
    "arn:aws:iam::{account}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing"
)
# A customer-managed key standing for whatever key an instance's volumes use.
EBS_KEY = "arn:aws:kms:{region}:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# KMS allows nothing that the key's own policy does not: IAM policies count only when the key policy
# delegates to the account. The default key policy does ("Enable IAM User Permissions"), and is
# what docs/deploying.md asks of a customer key used for EBS volumes.
KMS_DEFAULT_KEY_POLICY_DOC = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"


def default_key_policy(account: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "Enable IAM User Permissions", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*",
    }]}


STEP_FUNCTIONS_SYNC = "https://docs.aws.amazon.com/step-functions/latest/dg/stepfunctions-iam.html"

# The ALB fleet machine, as the local ASL interpreter runs it (test_state_machine_local's
# `run_fleet`): its role, and the per-ALB machine its Map starts.
FLEET_MACHINE = "AlbFleetStateMachine"
CHILD_MACHINE = "arn:aws:states:ap-northeast-2:123456789012:stateMachine:alb"
PER_ALB_MACHINE = "AlbSchedulerStateMachine"
# What only the fleet machine publishes (its Notify Discovery Failure).
FLEET_FAILURE_SUBJECT = "lightsout: ALB discovery failed"
SYNC_RULE = "arn:aws:events:{region}:{account}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"


# --- the records ---------------------------------------------------------------------------------

@dataclass
class Call:
    """One IAM request a function's role must allow."""

    function: str
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    # The operation on the wire, and why this request is made (`call`, or the IMPLIED entry).
    operation: str = ""
    because: str = "call"
    invocations: list[Invocation] = field(default_factory=list)
    status: int = 0
    # The resource's own policy, where IAM needs one to allow anything (a KMS key policy).
    resource_policy: dict | None = None

    def key(self) -> str:
        return json.dumps([self.function, self.action, self.resource, self.context], sort_keys=True)


def normalized_record_name(name: str) -> str:
    """A record name as Route 53 normalizes it for `route53:ChangeResourceRecordSetsNormalizedRecordNames`:
    lower case, no trailing dot, `*` written as `\\052` (Route 53 developer guide, "Using IAM policy
    conditions for fine-grained access control")."""
    return name.lower().rstrip(".").replace("*", "\\052")


def _tags(pairs: list[tuple[str, str | None]]) -> dict[str, Any]:
    context: dict[str, Any] = {}
    keys = [k for k, _ in pairs]
    if keys:
        context["aws:TagKeys"] = keys
    for k, v in pairs:
        if v is not None:
            context[f"aws:RequestTag/{k}"] = v
    return context


def _resource_tags(tags: dict[str, str]) -> dict[str, str]:
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


def _members(params: dict[str, list[str]], prefix: str) -> list[str]:
    """Query-protocol list members `Prefix.1`, `Prefix.member.1`, ... in order."""
    found = []
    for key, values in params.items():
        m = re.fullmatch(re.escape(prefix) + r"(?:\.member)?\.(\d+)", key)
        if m:
            found.append((int(m.group(1)), values[0]))
    return [v for _, v in sorted(found)]


def _tag_pairs(params: dict[str, list[str]], prefix: str) -> list[tuple[str, str | None]]:
    pairs = {}
    for key, values in params.items():
        m = re.fullmatch(re.escape(prefix) + r"(?:\.member)?\.(\d+)\.(Key|Value)", key)
        if m:
            pairs.setdefault(int(m.group(1)), {})[m.group(2)] = values[0]
    return [(p["Key"], p.get("Value")) for _, p in sorted(pairs.items()) if "Key" in p]


class Recorder:
    """The `observer` of a FaultProxy: `before` is called with each request before it is forwarded
    (and reads the resource's tags from the stand-in, as they are before the call), `after` with
    its answer."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.calls: list[Call] = []
        self.unattributed: list[str] = []
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}

    def client(self, service: str, region: str):
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service, endpoint_url=self.upstream, region_name=region,
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )
        return self._clients[key]

    # --- the proxy's side --------------------------------------------------------------------

    def before(self, service: str | None, operation: str, method: str, path: str, headers, body: bytes,
               function: str | None = None) -> dict | None:
        """`function`: who makes the call, when it is not a function naming itself in its
        User-Agent (the state machine's role, for moto's Step Functions engine)."""
        named_by_caller = function is not None
        if function is None:
            agent = headers.get("User-Agent") or headers.get("x-amz-user-agent") or ""
            m = _APP.search(agent)
            if not m:
                return None  # not a function's call (the tests' own boto3 calls do not come this way)
            function = m.group(1)
        if service is None:
            return None
        region_match = _REGION.search(headers.get("Authorization") or "")
        region = region_match.group(1) if region_match else "us-east-1"
        pending = {"function": function, "service": service, "operation": operation, "region": region,
                   "method": method, "path": path, "body": body, "headers": dict(headers),
                   "invocations": INVOCATIONS.of(function), "service_role": named_by_caller}
        try:
            pending["pre"] = self._before_state(service, operation, region, body)
        except Exception as err:  # noqa: BLE001 - a lookup that fails must not break the call itself
            pending["pre"] = {"error": repr(err)}
        return pending

    def after(self, pending: dict | None, status: int, answer: bytes) -> None:
        if pending is None:
            return
        try:
            calls = self._calls(pending, status, answer)
        except Exception as err:  # noqa: BLE001 - reported by the permission test, not here
            calls = []
            with self._lock:
                self.unattributed.append(f"{pending['function']} {pending['operation']}: could not be read: {err!r}")
        for call in calls:
            call.invocations = pending["invocations"]
            call.status = status
            call.operation = pending["operation"]
        with self._lock:
            self.calls.extend(calls)
            if not pending["invocations"] and not pending.get("service_role"):
                self.unattributed.append(f"{pending['function']} {pending['operation']}: made outside any registered invocation")

    # --- reading requests ----------------------------------------------------------------------

    @staticmethod
    def _form(body: bytes, path: str = "") -> dict[str, list[str]]:
        params = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update(urllib.parse.parse_qs(urllib.parse.urlsplit(path).query, keep_blank_values=True))
        return params

    def _before_state(self, service: str, operation: str, region: str, body: bytes) -> dict:
        """Tags of the resources a call acts on, as they are before it (aws:ResourceTag)."""
        if service == "ec2" and operation in ("StartInstances", "StopInstances", "CreateTags", "DeleteTags"):
            params = self._form(body)
            ids = _members(params, "InstanceId") or _members(params, "ResourceId")
            tags: dict[str, dict[str, str]] = {i: {} for i in ids}
            if ids:
                found = self.client("ec2", region).describe_tags(Filters=[{"Name": "resource-id", "Values": ids}])
                for t in found["Tags"]:
                    tags.setdefault(t["ResourceId"], {})[t["Key"]] = t["Value"]
            return {"tags": tags}
        if service == "elasticloadbalancing" and operation in ("DeleteLoadBalancer", "AddTags", "ModifyLoadBalancerAttributes",
                                                               "CreateListener", "RemoveTags", "CreateRule",
                                                               "AddListenerCertificates"):
            params = self._form(body)
            arns = _members(params, "ResourceArns") or params.get("LoadBalancerArn", [])
            tags = {}
            arns = [a for a in arns if ":loadbalancer/" in a]
            if operation in ("CreateRule", "AddListenerCertificates"):
                # Authorized on the listener, by the listener's own tags (it does not inherit
                # its load balancer's).
                arns = params.get("ListenerArn", [])
            if arns:
                for d in self.client("elbv2", region).describe_tags(ResourceArns=arns)["TagDescriptions"]:
                    tags[d["ResourceArn"]] = {t["Key"]: t["Value"] for t in d.get("Tags", [])}
            return {"tags": tags}
        return {}

    def _calls(self, p: dict, status: int, answer: bytes) -> list[Call]:
        service, op, region, fn = p["service"], p["operation"], p["region"], p["function"]
        account = ACCOUNT
        out: list[Call] = []

        def add(action: str, resource: str, context: dict | None = None, because: str = "call") -> None:
            policy = default_key_policy(account) if action.startswith("kms:") else None
            out.append(Call(fn, action, resource, context or {}, because=because, resource_policy=policy))

        if service == "ec2":
            params = self._form(p["body"], p["path"])
            pre = p.get("pre", {}).get("tags", {})
            if op in ("StartInstances", "StopInstances"):
                for i in _members(params, "InstanceId"):
                    add(f"ec2:{op}", f"arn:aws:ec2:{region}:{account}:instance/{i}", _resource_tags(pre.get(i, {})))
                if op == "StartInstances" and _members(params, "InstanceId"):
                    add("kms:CreateGrant", EBS_KEY.format(region=region, account=account),
                        {"kms:GrantIsForAWSResource": "true", "kms:ViaService": f"ec2.{region}.amazonaws.com"}, because=EBS_KMS)
            elif op in ("CreateTags", "DeleteTags"):
                pairs = _tag_pairs(params, "Tag")
                for i in _members(params, "ResourceId"):
                    kind = "instance" if i.startswith("i-") else "resource"
                    add(f"ec2:{op}", f"arn:aws:ec2:{region}:{account}:{kind}/{i}", {**_resource_tags(pre.get(i, {})), **_tags(pairs)})
            else:
                add(f"ec2:{op}", "*")
        elif service == "elasticloadbalancing":
            params = self._form(p["body"], p["path"])
            pre = p.get("pre", {}).get("tags", {})
            text = answer.decode("utf-8", "replace")
            pairs = _tag_pairs(params, "Tags")

            def created(tag: str) -> str:
                m = re.search(rf"<{tag}>([^<]+)</{tag}>", text)
                return m.group(1) if m else ""

            if op.startswith("Describe"):
                add(f"elasticloadbalancing:{op}", "*")
            elif op == "CreateLoadBalancer":
                name = params.get("Name", [""])[0]
                arn = created("LoadBalancerArn") or f"arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/app/{name}/0000000000000000"
                add("elasticloadbalancing:CreateLoadBalancer", arn, _tags(pairs))
                for action in CREATE_LB_READS:
                    add(action, "*", because=ELB_PERMISSIONS)
                add("iam:CreateServiceLinkedRole", ELB_SERVICE_LINKED_ROLE.format(account=account),
                    {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}, because=ELB_PERMISSIONS)
                if pairs:
                    add("elasticloadbalancing:AddTags", arn, {**_tags(pairs), "elasticloadbalancing:CreateAction": "CreateLoadBalancer"},
                        because=ELB_TAG_ON_CREATE)
            elif op == "CreateListener":
                lb = params.get("LoadBalancerArn", [""])[0]
                add("elasticloadbalancing:CreateListener", lb, {**_resource_tags(pre.get(lb, {})), **_tags(pairs)})
                if pairs and created("ListenerArn"):
                    add("elasticloadbalancing:AddTags", created("ListenerArn"),
                        {**_tags(pairs), "elasticloadbalancing:CreateAction": "CreateListener"}, because=ELB_TAG_ON_CREATE)
            elif op == "CreateRule":
                listener = params.get("ListenerArn", [""])[0]
                add("elasticloadbalancing:CreateRule", listener, {**_resource_tags(pre.get(listener, {})), **_tags(pairs)})
                if pairs and created("RuleArn"):
                    add("elasticloadbalancing:AddTags", created("RuleArn"),
                        {**_tags(pairs), "elasticloadbalancing:CreateAction": "CreateRule"}, because=ELB_TAG_ON_CREATE)
            elif op in ("AddListenerCertificates", "RemoveListenerCertificates", "ModifyListener", "DeleteListener"):
                listener = params.get("ListenerArn", [""])[0]
                add(f"elasticloadbalancing:{op}", listener, _resource_tags(pre.get(listener, {})))
            elif op in ("ModifyLoadBalancerAttributes", "DeleteLoadBalancer", "SetSecurityGroups", "SetSubnets", "SetIpAddressType"):
                lb = params.get("LoadBalancerArn", [""])[0]
                add(f"elasticloadbalancing:{op}", lb, _resource_tags(pre.get(lb, {})))
            elif op in ("AddTags", "RemoveTags"):
                keys = _members(params, "TagKeys")
                for arn in _members(params, "ResourceArns"):
                    context = _tags(pairs) if op == "AddTags" else ({"aws:TagKeys": keys} if keys else {})
                    add(f"elasticloadbalancing:{op}", arn, {**_resource_tags(pre.get(arn, {})), **context})
            else:
                add(f"elasticloadbalancing:{op}", "*")
        elif service == "route53":
            path = urllib.parse.urlsplit(p["path"]).path
            zone = re.search(r"/hostedzone/([^/]+)", path)
            if op in ("ListResourceRecordSets", "GetHostedZone") and zone:
                add(f"route53:{op}", f"arn:aws:route53:::hostedzone/{zone.group(1)}")
            elif op == "ChangeResourceRecordSets" and zone:
                root = ET.fromstring(p["body"])
                names, types, actions = [], [], []
                for change in root.iter():
                    if change.tag.endswith("}Change") or change.tag == "Change":
                        for child in change:
                            local = child.tag.rsplit("}", 1)[-1]
                            if local == "Action":
                                actions.append(child.text or "")
                            elif local == "ResourceRecordSet":
                                for item in child:
                                    item_name = item.tag.rsplit("}", 1)[-1]
                                    if item_name == "Name":
                                        names.append(normalized_record_name(item.text or ""))
                                    elif item_name == "Type":
                                        types.append(item.text or "")
                add("route53:ChangeResourceRecordSets", f"arn:aws:route53:::hostedzone/{zone.group(1)}", {
                    "route53:ChangeResourceRecordSetsNormalizedRecordNames": names,
                    "route53:ChangeResourceRecordSetsRecordTypes": types,
                    "route53:ChangeResourceRecordSetsActions": actions,
                })
            elif op == "GetChange":
                change = path.rstrip("/").rsplit("/", 1)[-1]
                add("route53:GetChange", f"arn:aws:route53:::change/{change}")
            else:
                add(f"route53:{op}", "*")
        elif service == "s3":
            path = urllib.parse.urlsplit(p["path"]).path.lstrip("/")
            bucket, _, key = path.partition("/")
            key = urllib.parse.unquote(key)
            if op in ("GetObject", "HeadObject"):
                add("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
                if status == 404:
                    add("s3:ListBucket", f"arn:aws:s3:::{bucket}", because=S3_GET_OBJECT)
            elif op in ("PutObject", "DeleteObject"):
                add(f"s3:{op}", f"arn:aws:s3:::{bucket}/{key}")
            elif op in ("ListObjectsV2", "ListObjects"):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(p["path"]).query, keep_blank_values=True)
                prefix = query.get("prefix", [None])[0]
                add("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix} if prefix is not None else {})
            else:
                add(f"s3:{op}", f"arn:aws:s3:::{bucket}")
        elif service == "sqs":
            doc = json.loads(p["body"] or b"{}")
            url = doc.get("QueueUrl", "")
            name = url.rstrip("/").rsplit("/", 1)[-1] if url else doc.get("QueueName", "")
            action = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
                      "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}.get(op, op)
            add(f"sqs:{action}", f"arn:aws:sqs:{region}:{account}:{name}")
        elif service == "sns":
            params = self._form(p["body"], p["path"])
            add(f"sns:{op}", params.get("TopicArn", ["*"])[0])
        else:
            add(f"{service}:{op}", "*")
        return out

    # --- what the event source mapping does as the function ------------------------------------

    def event_source_calls(self, invocation: Invocation) -> None:
        """The consumer's SQS event source mapping polls and deletes as the consumer's role."""
        payload = invocation.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("Records"), list):
            return
        arns = {r.get("eventSourceARN") for r in payload["Records"] if isinstance(r, dict) and r.get("eventSource") == "aws:sqs"}
        with self._lock:
            for arn in sorted(a for a in arns if isinstance(a, str) and a.startswith("arn:aws:sqs:")):
                for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
                    self.calls.append(Call(invocation.function, action, arn, {}, operation="EventSourceMapping",
                                           because=LAMBDA_SQS, invocations=[invocation]))


RECORDER: Recorder | None = None


def recorder(upstream: str) -> Recorder:
    """The session's one recorder (in front of `upstream`, the stand-in)."""
    global RECORDER
    if RECORDER is None:
        RECORDER = Recorder(upstream)
    return RECORDER


# --- recordings across processes (pytest-xdist) ---------------------------------------------------

# When set, every test process saves its recording there when its session ends, and
# tests/test_calls_allowed.py, run afterwards in a pytest of its own, evaluates all of them: the
# Makefile's `integration` runs the other tests in several processes (`-n`), each with its own
# stand-in, proxy and recorder.
RECORDING_DIR = "LIGHTSOUT_CALLS_DIR"


@dataclass
class Recording:
    """What one or more test sessions recorded: the calls, what could not be attributed or read,
    and how many invocations were registered."""

    calls: list[Call]
    unattributed: list[str]
    invocations: int


def save(directory: Path) -> Path | None:
    """Writes this process's recording to `directory` (one file per process); nothing when this
    process recorded nothing. Each invocation is written once and the calls refer to it by index,
    as one invocation's event (up to the 6 MB payload test_bad_input sends) backs many calls."""
    if RECORDER is None:
        return None
    with RECORDER._lock:
        recorded, unattributed = list(RECORDER.calls), list(RECORDER.unattributed)
    invocations: list[Invocation] = []
    index: dict[int, int] = {}
    rows = []
    for call in recorded:
        for i in call.invocations:
            if id(i) not in index:
                index[id(i)] = len(invocations)
                invocations.append(i)
        # Not asdict(call): it would deep-copy every invocation's event into every call's row.
        row = {f.name: getattr(call, f.name) for f in fields(call)}
        row["invocations"] = [index[id(i)] for i in call.invocations]
        rows.append(row)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"calls-{os.getpid()}.json"
    path.write_text(json.dumps({
        "invocations": [asdict(i) for i in invocations], "registered": len(INVOCATIONS.started),
        "calls": rows, "unattributed": unattributed,
    }))
    return path


def load(directory: Path) -> Recording:
    """Every recording saved in `directory`, as one."""
    files = sorted(directory.glob("calls-*.json"))
    if not files:
        raise FileNotFoundError(f"{RECORDING_DIR}={directory}: no recordings (calls-*.json) there; "
                                "run the other integration tests with it first")
    merged = Recording([], [], 0)
    for path in files:
        doc = json.loads(path.read_text())
        invocations = [Invocation(**i) for i in doc["invocations"]]
        for row in doc["calls"]:
            merged.calls.append(Call(**(row | {"invocations": [invocations[n] for n in row["invocations"]]})))
        merged.unattributed.extend(doc["unattributed"])
        merged.invocations += doc["registered"]
    return merged


def recording() -> Recording | None:
    """What to evaluate: this session's own recording when it ran the other tests, else the
    recordings saved under `LIGHTSOUT_CALLS_DIR` when that is set, else None."""
    if RECORDER is not None and INVOCATIONS.started:
        return Recording(list(RECORDER.calls), list(RECORDER.unattributed), len(INVOCATIONS.started))
    directory = os.environ.get(RECORDING_DIR)
    return load(Path(directory)) if directory else None


def record_fleet(result: dict, discover_function: str, region: str) -> None:
    """The calls the fleet machine's role makes in an execution the local interpreter ran
    (tests/asl/run.mjs's result): each Lambda invocation, each child execution started (with what
    AWS does for a `.sync:2` Task under that role: follow the execution, through its managed
    EventBridge rule, and stop it when the parent stops), each SNS message published."""
    if RECORDER is None:
        return
    account = ACCOUNT
    out: list[Call] = []
    if result["invocations"].get(discover_function):
        out.append(Call(FLEET_MACHINE, "lambda:InvokeFunction", f"arn:aws:lambda:{region}:{account}:function:{discover_function}",
                        operation="Invoke"))
    for child in result["children"]:
        out.append(Call(FLEET_MACHINE, "states:StartExecution", child["stateMachineArn"], operation="StartExecution"))
        out.append(Call(FLEET_MACHINE, "states:DescribeExecution", child["executionArn"], operation="StartExecution",
                        because=STEP_FUNCTIONS_SYNC))
        out.append(Call(FLEET_MACHINE, "states:StopExecution", child["executionArn"], operation="StartExecution",
                        because=STEP_FUNCTIONS_SYNC))
        for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
            out.append(Call(FLEET_MACHINE, action, SYNC_RULE.format(region=region, account=account),
                            operation="StartExecution", because=STEP_FUNCTIONS_SYNC))
    # The children's own calls are the per-ALB machine's role's: its Lambda invocations and the
    # failures it notified itself.
    for function, n in result["invocations"].items():
        if function != discover_function and n:
            out.append(Call(PER_ALB_MACHINE, "lambda:InvokeFunction", f"arn:aws:lambda:{region}:{account}:function:{function}",
                            operation="Invoke"))
    for message in result["published"]:
        role = FLEET_MACHINE if message.get("subject") == FLEET_FAILURE_SUBJECT else PER_ALB_MACHINE
        out.append(Call(role, "sns:Publish", message["topicArn"], operation="Publish"))
    with RECORDER._lock:
        RECORDER.calls.extend(out)
