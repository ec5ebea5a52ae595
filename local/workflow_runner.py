"""Execute the real ASL file on moto's Step Functions interpreter, each Lambda task
running our handler in-process (no Docker, no network), Wait states shortened."""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import re
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
import botocore.session
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

from lambdas.dal.database import Database
from lambdas.shared import names
from lambdas.shared.models import STATE_LIMIT_BYTES
from lambdas.shared.names import LOCK_TABLE_NAME, SECRET_NAME_PREFIX
from lambdas.shared.steps import Workflow, steps_of
from local.postgres_server import before_connect
from local.step_policies import Enforcement, LocalResources, StepPolicies, as_step

ROOT = Path(__file__).resolve().parent.parent
ASL_FILE = ROOT / "statemachine" / Workflow.SETUP.value
SCHEDULER_ROLE_NAME = f"{names.PROJECT}-check-scheduler"  # the local stand-in for infra/schedule.py's role
PLACEHOLDER = re.compile(r"\$\{(\w+)FunctionArn\}")
LOCAL_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "rds-cdc-setup",
    "POWERTOOLS_METRICS_NAMESPACE": "RdsCdcSetup",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",  # no EMF lines between the runner's own (tests/unit/test_step.py)
    "SECRET_NAME_PREFIX": SECRET_NAME_PREFIX,
    "DB_TLS": "disable",  # the local server has no TLS; AWS deployments verify the RDS CA
    "DB_CONNECT_TIMEOUT_SECONDS": "5",
    "LOCK_TABLE_NAME": LOCK_TABLE_NAME,  # the per-target lock, shared by setup and teardown
}


def _operation_model(service_task: StateTaskServiceSfn, service_action_name: str | None) -> Any:
    service = botocore.session.get_session().get_service_model("stepfunctions")
    action = service_task._get_boto_service_action(service_action_name)
    names = {re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(): name for name in service.operation_names}
    return service.operation_model(names[action])


def _sfn_normalise_parameters(
    service_task: StateTaskServiceSfn,
    parameters: dict,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    """moto's port of the interpreter leaves the request/response normalisation of optimised
    integrations a no-op, so `states:startExecution.sync:2` sends StateMachineArn where boto3 wants
    stateMachineArn, and returns executionArn where the ASL reads ExecutionArn. These two restore
    what the upstream interpreter (LocalStack) does, for the Step Functions integration only."""
    if service_action_name is None and "Input" in parameters and not isinstance(parameters["Input"], str):
        parameters["Input"] = json.dumps(parameters["Input"], separators=(",", ":"))
    shape = _operation_model(service_task, service_action_name).input_shape
    if shape is not None:
        service_task._to_boto_request(parameters, shape)


def _sfn_normalise_response(
    service_task: StateTaskServiceSfn,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    shape = _operation_model(service_task, service_action_name).output_shape
    if shape is not None:
        service_task._from_boto_response(response, shape)
    if isinstance(response, dict):  # timestamps reach the state as epoch milliseconds, as on AWS
        for key, value in response.items():
            if isinstance(value, datetime):
                response[key] = int(value.timestamp() * 1000)


_database_connect = Database.connect


def connect_as_on_rds(cls: type[Database], /, *, host: str, port: int, **kwargs: Any) -> Database:
    """Database.connect, preceded by what RDS does implicitly on the emulated instance
    (rds_replication membership takes effect: LocalPostgres.sync_rds_replication)."""
    before_connect(host, port, kwargs["credentials"].username)
    return _database_connect(host=host, port=port, **kwargs)


@dataclass
class FakeLambdaContext:
    function_name: str
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = ""
    aws_request_id: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _invoke_in_process(
    function: LambdaFunction, event: Any = None, after_step: Callable[[str], None] | None = None
) -> tuple[str, bool, str]:
    """Replaces moto's Docker-based invoke: same payloads as Lambda, errors included.
    `after_step(function_name)` runs once the handler's work is done: tests crash runs there."""
    assert function.handler, f"{function.function_name} has no handler"
    module_name, _, attribute = function.handler.rpartition(".")
    handler: Callable[..., Any] = getattr(importlib.import_module(module_name), attribute)
    context = FakeLambdaContext(
        function.function_name, invoked_function_arn=function.function_arn, aws_request_id=str(uuid.uuid4())
    )
    try:
        with as_step(function.function_arn):  # its own role's credentials, when the workflow enforces them
            result = handler(event if event is not None else {}, context)
        if after_step:
            after_step(function.function_name)
        return json.dumps(result), False, ""
    except Exception as error:  # Lambda reports the class name as errorType
        payload = {
            "errorType": type(error).__name__,
            "errorMessage": str(error),
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
        return json.dumps(payload), True, ""


class LocalWorkflow:
    """Deploy the state machine into moto and run executions. Use inside `mock_aws(config=
    {"stepfunctions": {"execute_state_machine": True}})`."""

    # The policies each step runs with (local/step_policies.py), unless a workflow is given its own:
    # None runs every step with the default credentials, unchecked. tests/workflow sets the template's.
    step_policies: StepPolicies | None = None

    def __init__(
        self,
        *,
        wait_seconds: float = 0.01,
        asl_file: Path = ASL_FILE,
        substitutions: dict[str, str] | None = None,
        policies: StepPolicies | None = None,
    ) -> None:
        """`substitutions`: placeholders other than ${XxxFunctionArn}, e.g. the fleet's
        ${SetupStateMachineArn} -> the ARN of a setup state machine deployed by another LocalWorkflow.
        `policies`: each step runs with its role's policies from a synthesized template, under moto's
        IAM access control (default: LocalWorkflow.step_policies)."""
        self.policies = policies or LocalWorkflow.step_policies
        self.wait_seconds = wait_seconds
        self.asl_file = asl_file
        self.substitutions = dict(substitutions or {})
        self.state_machine_arn = ""
        self.topic_arn = ""
        self.after_step: Callable[[str], None] | None = None
        self._stack = ExitStack()

    def __enter__(self) -> LocalWorkflow:
        scaled = self.wait_seconds

        def short_wait(wait_function: WaitFunction, env: Any, wait_seconds: int) -> None:
            env.program_state_event.wait(min(wait_seconds, scaled))

        # moto's interpreter logs every failed task with its whole state; the history has it all.
        logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)

        def invoke(function: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            return _invoke_in_process(function, event, self.after_step)

        self._stack.enter_context(mock.patch.object(LambdaFunction, "_invoke_lambda", invoke))
        self._stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", short_wait))
        # A Retry's interval too (moto sleeps it for real: up to 45 s for 4 attempts of TransientFailure).
        short_sleep = SimpleNamespace(sleep=lambda seconds: time.sleep(min(seconds, scaled)))
        self._stack.enter_context(mock.patch.object(retrier_decl, "time", short_sleep))
        self._stack.enter_context(mock.patch.object(Database, "connect", classmethod(connect_as_on_rds)))
        for name, patched in (
            ("_normalise_parameters", _sfn_normalise_parameters),
            ("_normalise_response", _sfn_normalise_response),
        ):
            self._stack.enter_context(mock.patch.object(StateTaskServiceSfn, name, patched))
        self._stack.enter_context(mock.patch.dict("os.environ", LOCAL_ENVIRONMENT))
        self.deploy()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def deploy(self) -> str:
        iam, lam = boto3.client("iam"), boto3.client("lambda")
        role = iam.create_role(
            RoleName=f"cdc-setup-{uuid.uuid4().hex[:8]}",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )
        self.topic_arn = boto3.client("sns").create_topic(Name=f"{names.PROJECT}-notifications")["TopicArn"]
        create_lock_table()
        self._stack.enter_context(
            mock.patch.dict("os.environ", {"NOTIFICATION_TOPIC_ARN": self.topic_arn, **create_check_schedules()})
        )
        enforcement = (
            self._stack.enter_context(Enforcement(self.policies, LocalResources(self.topic_arn, LOCK_TABLE_NAME)))
            if self.policies
            else None
        )
        definition = self.asl_file.read_text()
        steps = steps_of(Workflow(self.asl_file.name))
        # As infra/ builds them: one function per registry step, each placeholder a step's.
        if set(PLACEHOLDER.findall(definition)) != {step.name for step in steps}:
            raise ValueError(f"{self.asl_file.name}: its Lambda tasks are not the steps of lambdas/shared/steps.py")
        arns = {}
        for step in steps:
            arns[step.name] = lam.create_function(
                FunctionName=f"{names.PROJECT}-{step.name}",
                Runtime="python3.12",
                Role=role["Role"]["Arn"],
                Handler=step.handler,
                Code={"ZipFile": _tiny_zip()},
            )["FunctionArn"]
            if enforcement:
                enforcement.add_step(step.name, arns[step.name])
        definition = PLACEHOLDER.sub(lambda m: arns[m.group(1)], definition)
        for key, value in self.substitutions.items():
            definition = definition.replace(f"${{{key}}}", value)
        # The check starts itself (one child per prepared database), by its fixed name, as infra/check.py.
        definition = definition.replace("${CheckStateMachineArn}", os.environ["CHECK_STATE_MACHINE_ARN"])
        sfn_role = role["Role"]["Arn"]
        self.state_machine_arn = boto3.client("stepfunctions").create_state_machine(
            # As deployed (infra/): the lock's policy names the holders' state machines.
            name=Workflow(self.asl_file.name).state_machine_name,
            definition=definition,
            roleArn=sfn_role,
        )["stateMachineArn"]
        return self.state_machine_arn

    def start(self, execution_input: dict[str, Any], name: str | None = None) -> str:
        return boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn,
            name=name or f"run-{uuid.uuid4().hex[:12]}",
            input=json.dumps(execution_input),
        )["executionArn"]

    def events(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = boto3.client("stepfunctions")
        events, token = [], None
        while True:
            page = sfn.get_execution_history(
                executionArn=execution_arn, maxResults=1000, **({"nextToken": token} if token else {})
            )
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def follow(self, execution_arn: str, timeout: float = 300) -> Iterator[dict[str, Any]]:
        """Yield history events as they happen, until the execution ends."""
        sfn = boto3.client("stepfunctions")
        seen = 0
        deadline = time.monotonic() + timeout
        while True:
            status = sfn.describe_execution(executionArn=execution_arn)["status"]
            events = self.events(execution_arn)
            yield from events[seen:]
            seen = len(events)
            if status != "RUNNING":
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still running after {timeout}s")
            time.sleep(0.1)

    def wait(self, execution_arn: str, timeout: float = 300) -> Execution:
        """Until the execution ends; then its status, output and history. Only the status is polled:
        moto serializes the whole history on every read, which made waiting quadratic in its length."""
        sfn = boto3.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_arn} still running after {timeout}s")
            time.sleep(0.02)
        return Execution.load(execution_arn, self.events(execution_arn))

    def run(self, execution_input: dict[str, Any], timeout: float = 300) -> Execution:
        return self.wait(self.start(execution_input), timeout)


def create_check_schedules() -> dict[str, str]:
    """The schedule group and Scheduler's role infra/schedule.py deploys, once per moto account; the
    environment the setup and check functions get (the check state machine named by its fixed name)."""
    scheduler = boto3.client("scheduler")
    groups = [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]]
    if names.CHECK_SCHEDULE_GROUP not in groups:
        scheduler.create_schedule_group(Name=names.CHECK_SCHEDULE_GROUP)
    iam = boto3.client("iam")
    try:
        role_arn = iam.get_role(RoleName=SCHEDULER_ROLE_NAME)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(
            RoleName=SCHEDULER_ROLE_NAME,
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )["Role"]["Arn"]
    account = boto3.client("sts").get_caller_identity()["Account"]
    region = boto3.session.Session().region_name or "us-east-1"
    return {
        "CHECK_SCHEDULE_GROUP": names.CHECK_SCHEDULE_GROUP,
        "CHECK_STATE_MACHINE_ARN": (
            f"arn:aws:states:{region}:{account}:stateMachine:{Workflow.CHECK.state_machine_name}"
        ),
        "CHECK_SCHEDULER_ROLE_ARN": role_arn,
    }


def create_lock_table(name: str = LOCAL_ENVIRONMENT["LOCK_TABLE_NAME"]) -> None:
    """The table infra/target_lock.py deploys, once per moto account: setup and teardown share it."""
    dynamodb = boto3.client("dynamodb")
    if name in dynamodb.list_tables()["TableNames"]:
        return
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "target", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "target", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )


def oversized_payload(events: list[dict[str, Any]]) -> str | None:
    """Step Functions fails an execution when a state's input or output exceeds 256 KiB
    (States.DataLimitExceeded); moto does not check. The first such state, described, or None."""
    for event in events:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for field in ("input", "output"):
                size = len(str(details.get(field) or "").encode())
                if size > STATE_LIMIT_BYTES:
                    where = details.get("name") or event.get("type")
                    return f"The {field} of {where} is {size} bytes; Step Functions allows {STATE_LIMIT_BYTES}"
    return None


@dataclass
class Execution:
    arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    events: list[dict[str, Any]]

    @classmethod
    def load(cls, arn: str, events: list[dict[str, Any]]) -> Execution:
        described = boto3.client("stepfunctions").describe_execution(executionArn=arn)
        output = json.loads(described["output"]) if described.get("output") else None
        oversized = oversized_payload(events)
        if oversized:  # what AWS would have done; moto does not enforce the quota
            return cls(arn, "FAILED", None, "States.DataLimitExceeded", oversized, events)
        return cls(arn, described["status"], output, described.get("error"), described.get("cause"), events)

    @property
    def states_entered(self) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.events if "stateEnteredEventDetails" in e]


def _tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# handlers run in-process locally\n")
    return buffer.getvalue()
