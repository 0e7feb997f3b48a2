"""A second, independent AWS stand-in: ministack (PyPI), beside harness.Moto.

`Ministack` has the part of harness.Moto's interface that the tests and harness.Watch use (`url`,
`port`, `client(service, region=...)`, `reset()`, `stop()`; constructor `(log_dir)`). It runs
`.venv-ministack/bin/ministack` (its own venv: ministack pins its own botocore; scripts/setup.sh makes
it from scripts/requirements-ministack.txt) on a free loopback port. Nothing listens beyond 127.0.0.1.

`DIFFERENCES` lists what was seen to differ between ministack, moto and AWS for the calls the
functions make (and those the tests make to set up and read state), measured with ministack 1.5.33
and moto 5.2.5 (2026-12). Each entry says what AWS does (from the AWS API reference) and how
tests/test_second_standin.py deals with it. Check them again when a version changes: the tests that
pin a difference ("canaries") fail when it goes away.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3

from harness import REGION, ROOT, _stop, _wait_for_port, free_port

MINISTACK_BIN = ROOT / ".venv-ministack" / "bin" / "ministack"
# The account moto uses and the sample events name: ministack's default is 000000000000. (It takes
# the account from a 12-digit access key id, else from MINISTACK_ACCOUNT_ID.)
ACCOUNT = "123456789012"


class Ministack:
    """ministack on a free loopback port. `reset()` empties every service between tests."""

    name = "ministack"

    def __init__(self, log_dir: Path):
        if not MINISTACK_BIN.exists():
            raise FileNotFoundError(
                f"{MINISTACK_BIN} is missing: run scripts/setup.sh (it makes .venv-ministack from "
                "scripts/requirements-ministack.txt)"
            )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"ministack-{self.port}.log"
        self.log = open(self.log_path, "wb")
        # Its pid file and any scratch files go here rather than to /tmp.
        self.scratch = scratch = log_dir / f"ministack-{self.port}.tmp"
        scratch.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            {
                "BIND_HOST": "127.0.0.1",  # its default is 0.0.0.0
                "GATEWAY_PORT": str(self.port),
                "MINISTACK_ACCOUNT_ID": ACCOUNT,
                "MINISTACK_REGION": REGION,
                # On by default, the IoT MQTT-over-TLS listener binds 0.0.0.0:8883 (and a second
                # instance would collide on it); the SFTP one binds on demand. Neither is used here.
                "IOT_MTLS_ENABLED": "0",
                "SFTP_ENABLED": "0",
                # State in memory only (these are its defaults; said here so no environment turns
                # persistence on and carries state from one run to the next).
                "PERSIST_STATE": "0",
                "S3_PERSIST": "0",
                "TMPDIR": str(scratch),
            }
        )
        self.proc = subprocess.Popen(
            [str(MINISTACK_BIN)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        _wait_for_port(self.port, self.proc, "ministack", 60)
        # The port opens before the app has finished its start-up; the health page answers after.
        urllib.request.urlopen(f"{self.url}/_ministack/health", timeout=30).read()

    def reset(self) -> None:
        """`POST /_ministack/reset`: wipes the state of every service (a few ms). Requests that
        arrive meanwhile wait for it to finish."""
        req = urllib.request.Request(f"{self.url}/_ministack/reset", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def client(self, service: str, region: str = REGION):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def stop(self) -> None:
        _stop(self.proc)
        self.log.close()
        try:
            self.scratch.rmdir()  # empty once it has removed its pid file
        except OSError:
            pass


@dataclass(frozen=True)
class Difference:
    key: str
    call: str
    ministack: str
    moto: str
    aws: str
    tests: str  # how tests/test_second_standin.py deals with it


DIFFERENCES: list[Difference] = [
    # --- EC2 -------------------------------------------------------------------------------------
    Difference(
        "ec2.dry_run", "StartInstances / StopInstances / CreateTags / DescribeInstances with DryRun=true",
        ministack="ignores DryRun: the call acts and answers 200 as if DryRun were false",
        moto="answers DryRunOperation and changes nothing",
        aws="answers the error DryRunOperation when the call would have succeeded (UnauthorizedOperation "
            "otherwise) and changes nothing (EC2 API reference, DryRun parameter of each action)",
        tests="the dry-run report is asserted; that nothing changed is asserted only on moto "
              "(test_ec2_autostop); here a canary pins that ministack acts",
    ),
    Difference(
        "ec2.instance_id_filter", "DescribeInstances Filters=[instance-id]",
        ministack="ignores the filter (and every filter name other than tag:*, tag-key, tag-value, "
                  "instance-state-name, instance-type, image-id): all instances come back",
        moto="honours it",
        aws="honours it: instance-id is a documented DescribeInstances filter; an unknown filter name is "
            "an InvalidParameterValue error",
        tests="sqs-consumer finds instances by this filter and trusts the answer, so on ministack a "
              "request naming one instance acts on every managed instance: id-targeted scenarios here "
              "launch only the instances they name; an xfail test shows the consequence; a canary pins it",
    ),
    Difference(
        "ec2.paging", "DescribeInstances MaxResults / NextToken",
        ministack="ignores MaxResults (any value, even < 5 or > 1000): one page, no NextToken",
        moto="pages by reservation (MaxResults counts reservations); accepts MaxResults < 5",
        aws="MaxResults 5..1000 (instances), NextToken for the rest; MaxResults can't be combined with "
            "InstanceIds",
        tests="the function's NextToken loop can't be exercised on ministack; a test checks that 36 "
              "instances are all handled with PAGE_SIZE=5 when the server answers in one page",
    ),
    Difference(
        "ec2.reservations", "RunInstances / DescribeInstances reservations",
        ministack="every instance is its own reservation (r-<instance id>), even when launched together",
        moto="one reservation per RunInstances",
        aws="one reservation per RunInstances",
        tests="no test depends on the grouping",
    ),
    Difference(
        "ec2.transitions", "RunInstances / StartInstances / StopInstances states",
        ministack="instant and final: launched 'running', StopInstances answers current 'stopped' "
                  "(stopped → stopped for an already stopped one), StartInstances 'running'",
        moto="instant in DescribeInstances, but the replies say pending/stopping (and stopped → stopping "
             "for an already stopped one)",
        aws="pending → running and stopping → stopped take seconds to minutes; a stop of a stopped "
            "instance answers stopped → stopped",
        tests="assert on DescribeInstances, never on a reply's CurrentState, and never on 'stopping'",
    ),
    Difference(
        "ec2.hibernate", "StopInstances Hibernate=true",
        ministack="the flag is not read: a plain stop, for any instance",
        moto="always accepted",
        aws="refused (UnsupportedHibernationConfiguration) for an instance not launched with hibernation "
            "configured",
        tests="the refused-hibernation fallback is covered by the crate's unit tests only",
    ),
    Difference(
        "ec2.create_tags_unknown", "CreateTags on an instance id that does not exist",
        ministack="succeeds (tags an id that nothing has)",
        moto="succeeds",
        aws="InvalidInstanceID.NotFound",
        tests="no test depends on it",
    ),
    Difference(
        "ec2.delete_tags_value", "DeleteTags with Key and Value",
        ministack="deletes the key whatever its value",
        moto="deletes only when the value matches",
        aws="deletes only when the value matches (a Key without Value deletes it whatever the value)",
        tests="the functions send Key only; no test depends on it",
    ),
    Difference(
        "ec2.describe_images", "DescribeImages",
        ministack="4 fixed images (ami-0abcdef1234567890 first)",
        moto="~1,300 images",
        aws="the account's and public images",
        tests="harness.image_id takes the first: works on both",
    ),
    Difference(
        "autoscaling.instances", "CreateAutoScalingGroup members",
        ministack="the group lists instance ids that EC2 does not have: no instance is launched, so no "
                  "aws:autoscaling:groupName tag exists to find",
        moto="launches the members in EC2 with the group's tags and aws:autoscaling:groupName",
        aws="launches the members and tags them aws:autoscaling:groupName",
        tests="the Auto Scaling scenario runs on moto only; a canary pins the gap",
    ),
    # --- ELBv2 -----------------------------------------------------------------------------------
    Difference(
        "elbv2.listener_certificates", "DescribeListenerCertificates / AddListenerCertificates",
        ministack="not implemented: 400 InvalidAction 'Unknown ELBv2 action'",
        moto="implemented",
        aws="implemented",
        tests="delete-alb snapshots an HTTPS listener's certificates with DescribeListenerCertificates, "
              "so on ministack it refuses to delete an ALB with an HTTPS listener (AwsError, 'nothing "
              "was deleted'): a test asserts that safe failure; the full day/night cycle runs with HTTP "
              "listeners only",
    ),
    Difference(
        "elbv2.create_idempotent", "CreateLoadBalancer with a name in use",
        ministack="DuplicateLoadBalancerName even when every setting is the same",
        moto="makes another load balancer with the same name (a new ARN) every time",
        aws="idempotent: the same settings succeed and return the existing one; other settings answer "
            "DuplicateLoadBalancerName",
        tests="create-alb looks the ALB up by name first, so it never repeats a create; not tested",
    ),
    Difference(
        "elbv2.listener_validation", "CreateListener",
        ministack="accepts a port already in use, an unknown certificate ARN, an unknown target group "
                  "ARN, and HTTPS without a certificate",
        moto="accepts a used port and HTTPS without a certificate; refuses an unknown certificate "
             "(CertificateNotFound) and target group (TargetGroupNotFound)",
        aws="DuplicateListener, CertificateNotFound, TargetGroupNotFound, and a ValidationError for "
            "HTTPS without a certificate",
        tests="the functions' input checks are tested on their own (test_alb_workflow); nothing here "
              "relies on the stand-in refusing",
    ),
    Difference(
        "elbv2.rule_priority", "CreateRule with a priority in use",
        ministack="accepted (two rules with one priority)",
        moto="PriorityInUse",
        aws="PriorityInUse",
        tests="not relied on",
    ),
    Difference(
        "elbv2.attributes", "DescribeLoadBalancerAttributes / ModifyLoadBalancerAttributes",
        ministack="3 attributes by default (access_logs.s3.enabled, deletion_protection.enabled, "
                  "idle_timeout.timeout_seconds); any key is accepted and stored",
        moto="4 by default, idle timeout only once set; an unknown key is InvalidConfigurationRequest",
        aws="the full list (~20 for an ALB); an unknown key is refused (InvalidConfigurationRequest in the "
            "API reference's errors of ModifyLoadBalancerAttributes)",
        tests="only idle_timeout.timeout_seconds is set and read back",
    ),
    Difference(
        "elbv2.delete_cascade", "DeleteLoadBalancer",
        ministack="removes the load balancer only: DescribeListeners(LoadBalancerArn=deleted) still lists "
                  "its listeners; deleting it again succeeds",
        moto="DescribeListeners of a deleted one answers LoadBalancerNotFound; deleting again succeeds",
        aws="deletes its listeners and rules too (DescribeListeners → LoadBalancerNotFound); deleting "
            "one that is gone succeeds",
        tests="assert on DescribeLoadBalancers, not on listeners of a deleted ALB",
    ),
    Difference(
        "elbv2.identity", "CreateLoadBalancer answer",
        ministack="VpcId is always vpc-00000001 (the default VPC, not the subnets' VPC); "
                  "CanonicalHostedZoneId is Z35SXDOTRQ7X7K (us-east-1's) in every region; DNS name "
                  "<name>-<8 chars>.<region>.elb.amazonaws.com; State active at once; every AvailabilityZones "
                  "entry is named <region>a whatever the subnet's zone",
        moto="the subnets' VPC; CanonicalHostedZoneId Z2P70J7EXAMPLE; DNS <name>-1.<region>...; "
             "provisioning in the create answer, active when described",
        aws="the subnets' VPC; the region's ALB zone id (ap-northeast-2: ZWKZPGTI48KDX); State "
            "provisioning for a while, then active",
        tests="alias records are compared with what DescribeLoadBalancers answers, never with constants",
    ),
    # --- Route 53 --------------------------------------------------------------------------------
    Difference(
        "route53.strict_changes", "ChangeResourceRecordSets CREATE / DELETE",
        ministack="as AWS: CREATE of an existing record, DELETE with other values, DELETE of a missing "
                  "record all answer InvalidChangeBatch",
        moto="lax: CREATE overwrites, a DELETE with a wrong alias deletes, a repeated DELETE succeeds; "
             "DELETE of a never-existing record answers InvalidInput",
        aws="InvalidChangeBatch for each ('To delete a resource record set, you must specify all the "
            "same values that you specified when you created it')",
        tests="ministack is the stricter check here: the record functions run against it directly",
    ),
    Difference(
        "route53.alias_dot", "ListResourceRecordSets alias DNSName",
        ministack="adds the trailing dot (as AWS)",
        moto="as given",
        aws="fully qualified, with the trailing dot",
        tests="compare with .rstrip('.')",
    ),
    Difference(
        "route53.change_status", "ChangeResourceRecordSets ChangeInfo.Status",
        ministack="PENDING (and stays so)",
        moto="INSYNC at once",
        aws="PENDING, INSYNC once propagated (GetChange)",
        tests="the functions don't wait for INSYNC; not relied on",
    ),
    # --- ACM -------------------------------------------------------------------------------------
    Difference(
        "acm.status", "RequestCertificate",
        ministack="ISSUED at once",
        moto="PENDING_VALIDATION (and ELBv2 accepts it on a listener)",
        aws="PENDING_VALIDATION until DNS/email validation succeeds; a listener refuses a certificate "
            "that is not issued (UnsupportedCertificate)",
        tests="not relied on",
    ),
    # --- S3, SQS: seen to agree with AWS for the calls used -------------------------------------
    Difference(
        "s3.conditional_writes", "PutObject If-None-Match: * / If-Match: <etag>",
        ministack="as AWS: 412 PreconditionFailed when the key exists / the ETag is stale; If-Match on a "
                  "missing key is 404 NoSuchKey",
        moto="the same",
        aws="412 PreconditionFailed; 404 NoSuchKey for If-Match on a missing key",
        tests="the outcome store's writes run against it (test_requests scenarios)",
    ),
    Difference(
        "sqs.queue_url", "queue URLs and accounts",
        ministack="<endpoint>/<account>/<name>, account from MINISTACK_ACCOUNT_ID (set to 123456789012 "
                  "here; its default 000000000000); RedrivePolicy moves a message to the DLQ after "
                  "maxReceiveCount receives, as AWS",
        moto="<endpoint>/123456789012/<name>; the same redrive",
        aws="https://sqs.<region>.amazonaws.com/<account>/<name>",
        tests="REQUEST_SETTINGS(standin) builds the URL from the stand-in's url",
    ),
]
