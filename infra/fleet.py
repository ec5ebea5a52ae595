"""Fleet mode: statemachine/cdc_fleet.asl.json, whose Map starts one execution of the setup state
machine per selected instance (states:startExecution.sync:2), `max_concurrency` (input, default 4) at a time.

Each instance keeps its own execution: its own history in the console, its own per-target
lock, its own named error. The fleet only resolves the selection (ResolveFleet) and reports
(SummarizeFleet); its role may start the setup state machine and nothing else."""

from __future__ import annotations

from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.permissions import Scope
from infra.steps import Resources, grant_child_executions, workflow_functions, workflow_state_machine
from lambdas.shared.steps import Workflow

STATE_MACHINE_NAME = Workflow.FLEET.state_machine_name


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
        self.functions = workflow_functions(
            self,
            Workflow.FLEET,
            service=STATE_MACHINE_NAME,
            resources=Resources(scope=Scope()),
            environment={},
            network=None,
            log_retention=log_retention,
        )
        self.state_machine = workflow_state_machine(
            self,
            Workflow.FLEET,
            name=STATE_MACHINE_NAME,
            functions=self.functions,
            log_retention=log_retention,
            substitutions={"SetupStateMachineArn": setup_state_machine.state_machine_arn},
        )
        grant_child_executions(
            self.state_machine,
            child_arn=setup_state_machine.state_machine_arn,
            child_name=setup_state_machine_name,
            reason="Child executions are named at start (a UUID); only the setup state machine's.",
        )
