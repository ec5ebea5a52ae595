"""Fleet mode: statemachine/cdc_fleet.asl.json, whose Map starts one execution of the setup state
machine per selected instance (states:startExecution.sync:2), `max_concurrency` (input, default 4) at a time.

Each instance keeps its own execution: its own history in the console, its own per-target
lock, its own named error. The fleet only resolves the selection (ResolveFleet) and reports
(SummarizeFleet); its role may start the setup state machine and nothing else."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.bundling import lambda_code
from infra.functions import (
    ARCHITECTURE,
    RUNTIME,
    acknowledge_wildcard,
    arn,
    asl_state_machine,
    grant_invoke,
    powertools_environment,
    task_function,
)

ASL_FILE = Path(__file__).resolve().parent.parent / "statemachine" / "cdc_fleet.asl.json"
STATE_MACHINE_NAME = "rds-cdc-fleet"
# What Step Functions uses to learn that a .sync child execution ended.
SYNC_RULE = "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"


class CdcFleetWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        setup_state_machine: sfn.IStateMachine,
        setup_state_machine_name: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        code = lambda_code(runtime=RUNTIME, architecture=ARCHITECTURE)
        environment = {
            **powertools_environment("rds-cdc-fleet"),
        }
        list_instances = iam.ManagedPolicy(
            self,
            "ListInstancesPolicy",
            description="rds-cdc-fleet: list RDS instances and their tags to resolve the fleet",
            statements=[iam.PolicyStatement(actions=["rds:DescribeDBInstances"], resources=[arn("rds", "db:*")])],
        )
        acknowledge_wildcard(list_instances, "rds", "db:*", "The fleet is selected by tag among every instance.")
        self.functions: dict[str, lambda_.Function] = {
            task: task_function(
                self,
                task,
                description=f"rds-cdc-setup fleet step {task}",
                in_vpc=False,
                code=code,
                environment=environment,
                managed_policies=policies,
                network=None,
                log_retention=log_retention,
            )
            for task, policies in (("ResolveFleet", [list_instances]), ("SummarizeMember", []), ("SummarizeFleet", []))
        }
        self.state_machine = asl_state_machine(
            self,
            name=STATE_MACHINE_NAME,
            definition=ASL_FILE.read_text(),
            substitutions={
                **{f"{task}FunctionArn": fn.function_arn for task, fn in self.functions.items()},
                "SetupStateMachineArn": setup_state_machine.state_machine_arn,
            },
            log_retention=log_retention,
        )
        grant_invoke(self.state_machine, list(self.functions.values()))
        setup_executions = f"execution:{setup_state_machine_name}:*"
        for statement in (
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[setup_state_machine.state_machine_arn]),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[arn("states", setup_executions)],
            ),
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[arn("events", SYNC_RULE)],
            ),
        ):
            self.state_machine.add_to_role_policy(statement)
        acknowledge_wildcard(
            self.state_machine,
            "states",
            setup_executions,
            "Child executions are named at start (a UUID); only the setup state machine's.",
        )
