"""Each Lambda step runs with its own role's policies, as the synthesized template grants them,
under moto's IAM access control: a call its role does not allow fails as it would on AWS.

- The template's policies are resolved to the local stack (partition aws, region us-east-1, moto's
  account, the local topic, key and lock table) and given, one managed policy each as in the
  template, to one IAM user per step; the step's handler runs with that user's access key
  (lambdas/dal/clients.py CREDENTIALS).
- moto evaluates a request only against "*" for most services (its access control knows no resource
  of an RDS, EC2, Secrets Manager, SNS, CloudWatch, DynamoDB or Step Functions request). So the resources
  a request touches are named here, per action, from its parameters (`request_resources`), and moto's
  own evaluation (IAMRequest: signature, then each policy's Action and Resource with wildcards) runs
  once per resource, as IAM does for a call that touches several (ModifyDBInstance attaching a group:
  the instance and the group). An action without such a model is refused: teach it here.
- Conditions are NOT proven: moto evaluates a Condition only from request values it is handed, and it
  hands none to identity policies, so every condition passes (and only StringEquals is known to it).
  The tag conditions (rds:db-tag/..., aws:RequestTag/..., aws:TagKeys, secretsmanager:ResourceTag/...,
  secretsmanager:KmsKeyArn) and kms:ViaService / kms:EncryptionContext are checked statically by
  tests/infra/test_permissions.py. kms actions are never seen: Secrets Manager and SNS call KMS on the
  function's behalf on AWS; moto does not.
- Requests signed with other keys (the tests' own setup, the emulator, moto's interpreter) are not
  checked; a request made while a step runs but signed with another key is refused.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import parse_qs, unquote, urlparse

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError
from moto.iam.access_control import IAMRequest
from moto.iam.models import iam_backends

from lambdas.dal import clients
from lambdas.shared.steps import STEPS

PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "123456789012"
# Statements only the Lambda runtime uses (its log stream, X-Ray segments): no handler call needs them.
RUNTIME_SERVICES = ("logs:", "xray:")
# A request's signing name (its credential scope) where IAM's action prefix differs.
IAM_PREFIXES = {"monitoring": "cloudwatch"}


@dataclass(frozen=True)
class LocalResources:
    """The local stack's values for what the template refers to."""

    topic_arn: str
    lock_table: str
    key_arn: str = f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000"
    scheduler_role_arn: str = f"arn:{PARTITION}:iam::{ACCOUNT}:role/rds-cdc-setup-check-scheduler"


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statement = document["Statement"]
    return statement if isinstance(statement, list) else [statement]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else list(action)


class StepPolicies:
    """The policies of each step's role in a synthesized template, and what the tests used of them."""

    def __init__(self, template: dict[str, Any]) -> None:
        self._resources = template["Resources"]
        by_handler = {step.handler: step.name for step in STEPS}
        self._documents: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for function in self._of_type("AWS::Lambda::Function").values():
            properties = function["Properties"]
            step = by_handler.get(properties.get("Handler", ""))
            if step is None:
                continue  # not a workflow step (custom resources, the trigger's own helpers)
            self._documents[step] = self._role_documents(properties["Role"]["Fn::GetAtt"][0])
        missing = {step.name for step in STEPS} - set(self._documents)
        if missing:
            raise ValueError(f"the template has no function for the steps {sorted(missing)}")
        self.used: dict[str, set[str]] = defaultdict(set)
        self.denied: list[str] = []
        self._lock = threading.Lock()

    def _of_type(self, type_: str) -> dict[str, Any]:
        return {k: v for k, v in self._resources.items() if v["Type"] == type_}

    def _role_documents(self, role_id: str) -> list[tuple[str, dict[str, Any]]]:
        role = self._resources[role_id]["Properties"]
        documents = [
            (ref["Ref"], self._resources[ref["Ref"]]["Properties"]["PolicyDocument"])
            for ref in role.get("ManagedPolicyArns", [])
        ]
        documents += [
            (logical_id, policy["Properties"]["PolicyDocument"])
            for logical_id, policy in self._of_type("AWS::IAM::Policy").items()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
        ]
        kept = []
        for name, document in documents:
            statements = [
                s for s in _statements(document) if not all(a.startswith(RUNTIME_SERVICES) for a in _actions(s))
            ]
            if statements:
                kept.append((name, {**document, "Statement": statements}))
        return kept

    def granted(self, step: str) -> set[str]:
        return {a for _, document in self._documents[step] for s in _statements(document) for a in _actions(s)}

    def documents(self, step: str, local: LocalResources) -> list[tuple[str, dict[str, Any]]]:
        """The step's policies, their references resolved to the local stack."""
        return [(name, self._resolve(document, local)) for name, document in self._documents[step]]

    def _resolve(self, value: Any, local: LocalResources) -> Any:
        if isinstance(value, list):
            return [self._resolve(v, local) for v in value]
        if not isinstance(value, dict):
            return value
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(self._resolve(part, local) for part in parts)
        if "Ref" in value:
            return self._reference(value["Ref"], None, local)
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self._reference(logical_id, attribute, local)
        intrinsic = [k for k in value if k.startswith("Fn::")]
        if intrinsic:
            raise ValueError(f"{intrinsic[0]} in a step's policy: teach local/step_policies.py to resolve it")
        return {k: self._resolve(v, local) for k, v in value.items()}

    def _reference(self, logical_id: str, attribute: str | None, local: LocalResources) -> str:
        pseudo = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        if attribute is None and logical_id in pseudo:
            return pseudo[logical_id]
        type_ = self._resources[logical_id]["Type"]
        if (type_, attribute) == ("AWS::SNS::Topic", None):
            return local.topic_arn
        if (type_, attribute) == ("AWS::KMS::Key", "Arn"):
            return local.key_arn
        if (type_, attribute) == ("AWS::IAM::Role", "Arn"):  # the only role a step's policy names: Scheduler's
            return local.scheduler_role_arn
        if (type_, attribute) == ("AWS::DynamoDB::Table", "Arn"):
            return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{local.lock_table}"
        raise ValueError(f"{logical_id} ({type_}) {attribute or 'Ref'} in a step's policy: no local value for it")

    def record(self, step: str, action: str) -> None:
        with self._lock:
            self.used[step].add(action)

    def refuse(self, message: str) -> None:
        with self._lock:
            self.denied.append(message)

    def unused(self) -> dict[str, list[str]]:
        """Per step, the actions its role is granted that no request of the session used."""
        return {
            step: sorted(self.granted(step) - self.used.get(step, set()))
            for step in (s.name for s in STEPS)
            if self.granted(step) - self.used.get(step, set())
        }


def _arn(service: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{resource}"


def _rds(action: str, p: Mapping[str, Any]) -> list[str]:
    def named(kind: str, key: str) -> list[str]:
        value = p.get(key)
        if not value:
            return []
        return [value if value.startswith("arn:") else _arn("rds", f"{kind}:{value}")]

    def described(kind: str, key: str) -> list[str]:
        return named(kind, key) or [_arn("rds", f"{kind}:*")]

    models: dict[str, Callable[[], list[str]]] = {
        "DescribeDBInstances": lambda: described("db", "DBInstanceIdentifier"),
        "DescribeDBClusters": lambda: described("cluster", "DBClusterIdentifier"),
        "DescribeDBParameterGroups": lambda: described("pg", "DBParameterGroupName"),
        "DescribeDBParameters": lambda: named("pg", "DBParameterGroupName"),
        "DescribeDBClusterParameterGroups": lambda: described("cluster-pg", "DBClusterParameterGroupName"),
        "DescribeDBClusterParameters": lambda: named("cluster-pg", "DBClusterParameterGroupName"),
        "ListTagsForResource": lambda: [p["ResourceName"]],
        "AddTagsToResource": lambda: [p["ResourceName"]],
        "CreateDBParameterGroup": lambda: named("pg", "DBParameterGroupName"),
        "CreateDBClusterParameterGroup": lambda: named("cluster-pg", "DBClusterParameterGroupName"),
        "CopyDBParameterGroup": lambda: (
            named("pg", "SourceDBParameterGroupIdentifier") + named("pg", "TargetDBParameterGroupIdentifier")
        ),
        "CopyDBClusterParameterGroup": lambda: (
            named("cluster-pg", "SourceDBClusterParameterGroupIdentifier")
            + named("cluster-pg", "TargetDBClusterParameterGroupIdentifier")
        ),
        "ModifyDBParameterGroup": lambda: named("pg", "DBParameterGroupName"),
        "ModifyDBClusterParameterGroup": lambda: named("cluster-pg", "DBClusterParameterGroupName"),
        "ModifyDBInstance": lambda: named("db", "DBInstanceIdentifier") + named("pg", "DBParameterGroupName"),
        "ModifyDBCluster": lambda: (
            named("cluster", "DBClusterIdentifier")
            + named("cluster-pg", "DBClusterParameterGroupName")
            + named("pg", "DBInstanceParameterGroupName")
        ),
        "RebootDBInstance": lambda: named("db", "DBInstanceIdentifier"),
        "DescribeBlueGreenDeployments": lambda: described("deployment", "BlueGreenDeploymentIdentifier"),
    }
    return models[action]()


def _secret(secret_id: str) -> str:
    return secret_id if secret_id.startswith("arn:") else _arn("secretsmanager", f"secret:{secret_id}")


def _cloudwatch(action: str, p: Mapping[str, Any]) -> list[str]:
    if action in ("DescribeAlarms", "DeleteAlarms") and p.get("AlarmNames"):
        return [_arn("cloudwatch", f"alarm:{name}") for name in p["AlarmNames"]]
    if action == "DescribeAlarms":
        return [_arn("cloudwatch", f"alarm:{p.get('AlarmNamePrefix', '')}*")]
    if action == "PutMetricAlarm":
        return [_arn("cloudwatch", f"alarm:{p['AlarmName']}")]
    if action == "PutMetricData":  # no resource type: IAM scopes it by its cloudwatch:namespace condition
        return ["*"]
    raise KeyError(action)


def _ec2(action: str, p: Mapping[str, Any]) -> list[str]:
    def group(group_id: str) -> str:
        return _arn("ec2", f"security-group/{group_id}")

    models: dict[str, Callable[[], list[str]]] = {
        "DescribeSecurityGroups": lambda: ["*"],  # EC2's Describe calls take no resource
        # The new group's id is unknown when IAM authorizes: security-group/*, and the VPC it goes in.
        "CreateSecurityGroup": lambda: [_arn("ec2", f"vpc/{p['VpcId']}"), group("*")],
        "CreateTags": lambda: [group(resource) for resource in p["Resources"]],
        "AuthorizeSecurityGroupIngress": lambda: [group(p["GroupId"])],
        "RevokeSecurityGroupIngress": lambda: [group(p["GroupId"])],
        "DeleteSecurityGroup": lambda: [group(p["GroupId"])],
    }
    return models[action]()


def request_resources(service: str, action: str, p: Mapping[str, Any]) -> list[str]:
    """The resources IAM authorizes a request against (the Service Authorization Reference's resource
    types, filled from the request). KeyError: no model for the action."""
    if service == "rds":
        return _rds(action, p)
    if service == "secretsmanager":
        return [_secret(p["Name"] if action == "CreateSecret" else p["SecretId"])]
    if service == "sns" and action == "Publish":
        return [p["TopicArn"]]
    if service == "cloudwatch":
        return _cloudwatch(action, p)
    if service == "ec2":
        return _ec2(action, p)
    if service == "dynamodb" and action in ("GetItem", "PutItem", "DeleteItem", "UpdateItem"):
        return [_arn("dynamodb", f"table/{p['TableName']}")]
    if service == "scheduler" and action in ("GetSchedule", "CreateSchedule", "UpdateSchedule", "DeleteSchedule"):
        return [_arn("scheduler", f"schedule/{p.get('GroupName') or 'default'}/{p['Name']}")]
    if service == "scheduler" and action == "ListSchedules":
        return ["*"]  # AWS scopes it to no resource
    if service == "iam" and action == "PassRole":
        return [p["RoleArn"]]
    if service == "states" and action == "DescribeExecution":
        return [p["executionArn"]]
    raise KeyError(f"{service}:{action}")


def dependent_action(service: str, action: str, p: Mapping[str, Any]) -> str | None:
    """The other action IAM also requires (the Service Authorization Reference's dependent actions):
    creating with tags needs the tagging action too (RDS's Create*/Copy*, Secrets Manager's CreateSecret,
    EC2's TagSpecifications)."""
    if service == "scheduler" and action in ("CreateSchedule", "UpdateSchedule"):
        return "iam:PassRole"  # of the target's role, to Scheduler (checked on the role: see below)
    if service == "ec2" and action.startswith("Create") and p.get("TagSpecifications"):
        return "ec2:CreateTags"
    if not p.get("Tags"):
        return None
    if service == "rds" and action.startswith(("Create", "Copy")):
        return "rds:AddTagsToResource"
    if service == "secretsmanager" and action == "CreateSecret":
        return "secretsmanager:TagResource"
    return None


def _parameters(response: Any) -> Mapping[str, Any]:
    """The request's parameters, by their API names (moto parsed them for some services only)."""
    params = getattr(response, "params", None)
    if isinstance(params, Mapping) and params:
        return params
    body = response.body
    if isinstance(body, bytes):
        body = body.decode()
    if isinstance(body, str) and body.startswith("{"):
        return dict(json.loads(body))
    return {}


def _scheduler_parameters(response: Any, parameters: Mapping[str, Any]) -> Mapping[str, Any]:
    """Scheduler is a REST API: the schedule's name is in the path, its group in the body or the query."""
    path = urlparse(response.uri).path
    query = parse_qs(urlparse(response.uri).query)
    named = {"Name": unquote(path.rsplit("/", 1)[-1])} if "/schedules/" in path else {}
    group = parameters.get("GroupName") or (query.get("groupName") or [None])[0]
    return {**parameters, **named, "GroupName": group}


@dataclass
class _Credentials:
    step: str
    access_key: str
    secret_key: str


@dataclass
class Enforcement:
    """The step users of one LocalWorkflow, and the patch that checks their requests (inside mock_aws)."""

    policies: StepPolicies
    local: LocalResources
    steps: dict[str, str] = field(default_factory=dict)  # function ARN -> step
    by_function: dict[str, _Credentials] = field(default_factory=dict)  # made on the step's first invocation
    _policy_arns: dict[str, str] = field(default_factory=dict)  # one managed policy per template policy
    _stack: ExitStack = field(default_factory=ExitStack)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Enforcement:
        original = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action
        enforcement = self

        def authorize(response: Any, resource: str = "*") -> None:
            enforcement.authorize(response, resource, original)

        self._stack.enter_context(
            mock.patch.object(ActionAuthenticatorMixin, "_authenticate_and_authorize_normal_action", authorize)
        )
        return self

    def __exit__(self, *exc: object) -> None:
        for function_arn in self.steps:
            _FUNCTIONS.pop(function_arn, None)
        for credentials in self.by_function.values():
            _KEYS.pop(credentials.access_key, None)
        self._stack.close()

    def add_step(self, step: str, function_arn: str) -> None:
        """The function runs as the step (its user is made when first invoked: a run meets few steps)."""
        self.steps[function_arn] = step
        _FUNCTIONS[function_arn] = self

    def credentials(self, function_arn: str) -> _Credentials:
        """An IAM user holding exactly the step's policies (each a managed policy, as in the template)."""
        with self._lock:
            if function_arn in self.by_function:
                return self.by_function[function_arn]
            step = self.steps[function_arn]
            # moto's IAM backend directly: the same users, policies and keys as through its API, at a
            # tenth of the cost (four requests per user made every workflow test ~0.5 s slower).
            iam = iam_backends[ACCOUNT][PARTITION]
            user = f"{step}-{uuid.uuid4().hex[:8]}"
            iam.create_user(REGION, user)
            for name, document in self.policies.documents(step, self.local):
                if name not in self._policy_arns:
                    policy_name = f"{name}-{uuid.uuid4().hex[:8]}"
                    created = iam.create_policy("", "/", json.dumps(document), policy_name, [])
                    self._policy_arns[name] = created.arn
                iam.attach_user_policy(self._policy_arns[name], user)
            key = iam.create_access_key(user)
            made = self.by_function[function_arn] = _Credentials(step, key.access_key_id, key.secret_access_key)
            _KEYS[made.access_key] = step
            return made

    def authorize(self, response: Any, resource: str, original: Callable[..., None]) -> None:
        step = _KEYS.get(response.access_key)
        running = getattr(_RUNNING, "step", None)
        if step is None:
            if running is not None:  # a client made outside the step's credentials (a cached one?)
                self.policies.refuse(f"{running}: a request signed with another key ({response.access_key})")
                raise AccessDeniedError(user_arn=f"(not {running}'s credentials)", action=response._get_action())
            original(response, resource)  # the tests' own calls: moto's default, no authorization
            return
        signing_name = response.headers["Authorization"].partition("Credential=")[2].split("/")[3]
        service = IAM_PREFIXES.get(signing_name, signing_name)
        name = response._get_action()
        action = f"{service}:{name}"
        parameters = _parameters(response)
        if service == "scheduler":
            parameters = _scheduler_parameters(response, parameters)
        try:
            resources = request_resources(service, name, parameters)
        except KeyError as missing:
            self.policies.refuse(f"{step}: {action} has no resource model in local/step_policies.py ({missing})")
            raise AccessDeniedError(user_arn=step, action=action) from None
        parsed = urlparse(response.uri)
        path = response.raw_path + (f"?{parsed.query}" if parsed.query else "")
        request = IAMRequest(
            account_id=response.current_account,
            method=response.method,
            path=path,
            # REST calls without a body (Scheduler's GET, DELETE): moto parsed their query into `data`, which
            # the signature must not see as a payload
            data=response.data if response.raw_body or service != "scheduler" else {},
            body=response.raw_body,
            headers=response.headers,
            action=name,
        )
        # moto names the action after the signing name: monitoring:PutMetricAlarm, where IAM's is cloudwatch:.
        request._action = action
        request.check_signature()
        checks = [(action, arn) for arn in resources]
        dependent = dependent_action(service, name, parameters)
        if dependent == "iam:PassRole":  # on the role handed over
            checks.append((dependent, parameters["Target"]["RoleArn"]))
        elif dependent:  # on the resource the call creates: the last one named
            checks.append((dependent, resources[-1]))
        for checked, arn in checks:
            request._action = checked
            try:
                request.check_action_permitted(arn)
            except AccessDeniedError:
                self.policies.refuse(f"{step}: {checked} on {arn} is not granted to its role")
                raise
        for checked, _ in checks:
            self.policies.record(step, checked)


@contextmanager
def as_step(function_arn: str) -> Iterator[None]:
    """Run a function's handler with its step's credentials (none registered: the default ones)."""
    enforcement = _FUNCTIONS.get(function_arn)
    if enforcement is None:
        yield
        return
    credentials = enforcement.credentials(function_arn)
    token = clients.CREDENTIALS.set((credentials.access_key, credentials.secret_key))
    _RUNNING.step = credentials.step
    try:
        yield
    finally:
        _RUNNING.step = None
        clients.CREDENTIALS.reset(token)


_KEYS: dict[str, str] = {}  # a step user's access key -> its step
_FUNCTIONS: dict[str, Enforcement] = {}  # a function's ARN -> the Enforcement that knows its step
_RUNNING = threading.local()  # .step: the step whose handler runs in this thread
