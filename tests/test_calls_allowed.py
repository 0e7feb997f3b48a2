"""Every AWS call the functions made in this test session, allowed by the role that would make it.

moto enforces no IAM. So every call that reached the stand-in through the recording proxy
(tests/calls.py) is evaluated, with the context IAM would see, against the role SAM generates for
the function that made it (template.yaml, translated by the real SAM translator, resolved for the
deployment the invocation stands for: tests/iam_eval.py), by a maintained IAM evaluator
(`@cloud-copilot/iam-simulate`). So are the calls AWS authorizes on the caller's behalf
(`calls.IMPLIED`, each with its AWS documentation) and those of the state machine's role (the
Lambda invocations and the SNS publish of moto's Step Functions engine).

A call the role would deny, or that the evaluator cannot read (an ARN that is not a resource of
the action, an unknown context key), fails the test with the function, action, resource and
context. The test also lists every action a role grants that no call exercised, and writes the
whole account (counts, calls, unexercised grants) to .local/logs/iam-calls.json; RELIABILITY.md,
"Real account", has the counts of a full run.

It runs after every other test: in the same pytest (conftest orders it last), or, when the
others run in several processes (pytest-xdist, as `make integration` does), in a pytest of its own
afterwards that reads the recordings they saved under `LIGHTSOUT_CALLS_DIR` (calls.save/load).
Run alone with neither, it is skipped.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter, defaultdict

import pytest

import calls
from conftest import LOG_DIR, OUTCOMES_BUCKET, QUEUE
from harness import LambdaRouter
from iam_eval import Deployment, Request, simulate
from sam import ALB, FLEET_RECORDS

# The topic the ALB tests make for the workflow's failures (test_alb_workflow.infra).
FAILURE_TOPIC = "alb-failures"

_DEPLOYMENTS: dict[str, Deployment] = {}


def deployment(invocation: calls.Invocation | None) -> Deployment:
    """The deployment an invocation stands for: the stack parameters its event comes from (the
    ALB workflow's schedule input is made of them) and the physical names of what its settings name."""
    parameters = dict(ALB)
    physical: dict[str, dict[str, str]] = {"AlbFailureTopic": {"TopicName": FAILURE_TOPIC}}
    env = invocation.env if invocation else {}
    physical["OutcomesBucket"] = {"Ref": env.get("OUTCOMES_BUCKET", OUTCOMES_BUCKET)}
    physical["RequestsQueue"] = {"QueueName": env.get("QUEUE_URL", QUEUE).rstrip("/").rsplit("/", 1)[-1]}
    payload = invocation.payload if invocation else None
    if env.get("SNAPSHOT_BUCKET"):
        physical["AlbSnapshotBucket"] = {"Ref": env["SNAPSHOT_BUCKET"]}
    # The per-ALB machine the fleet's role starts (test_state_machine_local's `run_fleet`).
    physical["AlbSchedulerStateMachine"] = {"Ref": calls.CHILD_MACHINE, "Arn": calls.CHILD_MACHINE, "Name": calls.CHILD_MACHINE.rsplit(":", 1)[-1]}
    if isinstance(payload, dict) and isinstance(payload.get("tags"), dict):
        # An ALB found by its tags: judged under a stack with no Alb* parameter, the fleet on, and
        # its record allowed in its own zone under the names of sam.FLEET_RECORDS only.
        parameters = {"AlbRecordNames": FLEET_RECORDS["AlbRecordNames"],
                      "AlbRecordZones": str(payload["tags"].get("lightsout:hosted-zone", "")).split("/")[-1] or "Z0NONE"}
        if isinstance(payload.get("snapshotBucket"), str):
            physical["AlbSnapshotBucket"] = {"Ref": payload["snapshotBucket"]}
    elif isinstance(payload, dict) and isinstance(payload.get("albName"), str):
        parameters["AlbName"] = payload["albName"]
        for key, parameter in (("hostedZoneId", "AlbHostedZoneId"), ("domainName", "AlbDomainName")):
            if isinstance(payload.get(key), str):
                parameters[parameter] = payload[key]
        if isinstance(payload.get("snapshotBucket"), str):
            physical["AlbSnapshotBucket"] = {"Ref": payload["snapshotBucket"]}
    for binary, logical in FUNCTIONS.items():
        physical[logical] = {"Ref": binary}
    key = json.dumps([parameters, physical], sort_keys=True)
    if key not in _DEPLOYMENTS:
        _DEPLOYMENTS[key] = Deployment(parameters, physical=physical)
    return _DEPLOYMENTS[key]


FUNCTIONS = Deployment(dict(ALB)).functions()
ROLES_OF = {**FUNCTIONS, LambdaRouter.STATE_MACHINE: LambdaRouter.STATE_MACHINE, calls.FLEET_MACHINE: calls.FLEET_MACHINE}


def test_every_call_made_is_allowed_by_its_role():
    recorder = calls.recording()
    if recorder is None:
        pytest.skip("evaluates the calls of the whole integration suite: run it with the other tests, "
                    f"or after them with {calls.RECORDING_DIR} naming where they saved their calls")
    assert recorder.invocations, "the recordings hold no registered invocation: is the front door in front of watch?"
    recorded = list(recorder.calls)
    unknown = sorted({c.function for c in recorded} - set(ROLES_OF))
    assert not unknown, f"calls by functions the template does not have: {unknown}"

    # One evaluation per distinct (deployment, role, request); a call is allowed when the role of
    # one of the invocations it may belong to allows it (concurrent invocations of one function).
    simulations, index = [], {}
    plan: list[tuple[calls.Call, list[int]]] = []
    for call in recorded:
        slots = []
        for invocation in call.invocations or [None]:
            d = deployment(invocation)
            logical = ROLES_OF[call.function]
            role = d.role_of(logical)
            key = json.dumps([id(d), role, call.action, call.resource, call.context, call.resource_policy], sort_keys=True)
            if key not in index:
                principal = d.session_arn(role, call.function)
                request = Request(call.action, call.resource, call.context, principal)
                index[key] = len(simulations)
                simulations.append(request.simulation(d.identity_policies(role), call.resource_policy))
            slots.append(index[key])
        plan.append((call, slots))
    results = simulate(simulations)

    denied: dict[str, None] = {}
    exercised: dict[str, set[str]] = defaultdict(set)
    for call, slots in plan:
        answers = [results[i] for i in slots]
        if any(a["result"] == "Allowed" for a in answers):
            exercised[call.function].add(call.action.lower())
            continue
        why = "; ".join(f"{a['result']}" + (f" {json.dumps(a['errors'])[:400]}" if a["errors"] else "") for a in answers)
        denied.setdefault(
            f"{call.function} ({ROLES_OF[call.function]}'s role): {call.action} on {call.resource}"
            f" [{call.operation}; {'AWS on the caller' + chr(39) + 's behalf: ' + call.because if call.because != 'call' else 'the call itself'}]"
            f"\n    context {json.dumps(call.context, sort_keys=True)}\n    -> {why}"
        )

    # What each role grants that no call exercised: untested, or not needed.
    d = deployment(None)
    unexercised = {}
    for function, logical in sorted(ROLES_OF.items()):
        role = d.role_of(logical)
        granted = {a for a in d.granted_actions(role) if not a.startswith("logs:")}
        unexercised[function] = sorted(granted - exercised[function])
    pairs = {(c.action, c.resource) for c in recorded}
    report = {
        "calls": len(recorded),
        "distinct_requests": len(simulations),
        "distinct_action_resource_pairs": len(pairs),
        "by_function": dict(Counter(c.function for c in recorded)),
        "by_reason": dict(Counter("call" if c.because == "call" else c.because for c in recorded)),
        "unattributed": sorted(set(recorder.unattributed))[:50],
        "denied": list(denied),
        "granted_but_not_exercised": unexercised,
        "implied": calls.IMPLIED,
    }
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / "iam-calls.json").write_text(json.dumps(report, indent=1, sort_keys=True))
    print(f"\niam: {len(recorded)} calls, {len(simulations)} distinct requests, {len(pairs)} distinct action/resource pairs evaluated")
    for function, actions in unexercised.items():
        if actions:
            warnings.warn(f"{function}: granted but exercised by no test: {', '.join(actions)}", stacklevel=1)

    assert not denied, f"{len(denied)} calls the function's role would not allow in a real account:\n" + "\n".join(denied)
    assert not recorder.unattributed, "calls the recorder could not attribute or read:\n" + "\n".join(sorted(set(recorder.unattributed))[:30])
    # Not vacuous: every function and the state machine made calls that were judged.
    silent = sorted(set(ROLES_OF) - {c.function for c in recorded})
    assert not silent, f"no recorded calls of {silent}: is the recording proxy in front of them?"
