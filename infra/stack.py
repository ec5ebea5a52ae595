"""The deployable unit: wires the constructs from the config, nothing else."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Fn, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.bundling import check_ca_bundle_to_bundle, warn_uncovered_region
from infra.check import CdcCheckWorkflow
from infra.config import CdcSetupConfig, acknowledge_warnings
from infra.fleet import CdcFleetWorkflow
from infra.monitoring import CdcSetupMonitoring
from infra.network import ServiceEndpoints
from infra.permissions import Scope
from infra.schedule import CheckLifecycleRules, CheckSchedules
from infra.target_lock import TargetLock
from infra.teardown import CdcTeardownWorkflow
from infra.trigger import CdcSetupTrigger
from infra.workflow import STATE_MACHINE_NAME, CdcSetupWorkflow, DataPlaneNetwork
from lambdas.shared.names import CHECK_SCHEDULE_GROUP


class CdcSetupStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: CdcSetupConfig, **kwargs: Any) -> None:
        super().__init__(
            scope,
            construct_id,
            description="rds-cdc-setup: prepares RDS PostgreSQL for Streamkap CDC",
            **kwargs,
        )
        network = self._network(config)
        check_ca_bundle_to_bundle(self, config.rds_ca_bundle)
        warn_uncovered_region(self, config.rds_ca_bundle)
        scope_of_access = Scope(
            opt_in_tag=config.opt_in_tag,
            target_scope=config.target_scope,
            master_secret_scope=config.master_secret_scope,
            master_secret_arns=config.master_secret_arns,
        )
        if network and config.create_vpc_endpoints:
            endpoints = ServiceEndpoints(self, "Endpoints", network=network)
            # The endpoints admit HTTPS only from security_group_ids: whoever audits the VPC looks for this group.
            CfnOutput(self, "EndpointSecurityGroupId", value=endpoints.security_group.security_group_id)
        # One lock per target, shared by the setup and teardown workflows (and so by fleet members).
        lock = TargetLock(self, "TargetLock")
        # The check schedules of prepared targets: their group and the role Scheduler runs them with.
        schedules = CheckSchedules(self, "CheckSchedules")
        workflow = CdcSetupWorkflow(
            self,
            "Workflow",
            network=network,
            notification_email=config.notification_email,
            log_retention=config.log_retention,
            scope_of_access=scope_of_access,
            lock=lock,
            schedules=schedules,
            check_schedule=config.check_schedule,
        )
        CdcSetupTrigger(self, "Trigger", state_machine=workflow.state_machine, opt_in_tag=config.opt_in_tag)
        CdcSetupMonitoring(self, "Monitoring", workflow=workflow)
        arn = workflow.state_machine.state_machine_arn
        CfnOutput(self, "StateMachineArn", value=arn)
        CfnOutput(
            self,
            "StateMachineConsoleUrl",
            value=f"https://{self.region}.console.aws.amazon.com/states/home?region={self.region}"
            f"#/statemachines/view/{arn}",
        )
        CfnOutput(self, "NotificationTopicArn", value=workflow.topic.topic_arn)
        teardown = CdcTeardownWorkflow(
            self,
            "Teardown",
            network=network,
            key=workflow.key,
            topic=workflow.topic,
            log_retention=config.log_retention,
            lock=lock,
            scope_of_access=scope_of_access,
            schedules=schedules,
        )
        CfnOutput(self, "TeardownStateMachineArn", value=teardown.state_machine.state_machine_arn)
        check = CdcCheckWorkflow(
            self,
            "Check",
            network=network,
            key=workflow.key,
            topic=workflow.topic,
            log_retention=config.log_retention,
            lock=lock,
            scope_of_access=scope_of_access,
            schedules=schedules,
            lifecycle_repair=config.lifecycle_repair,
        )
        CfnOutput(self, "CheckStateMachineArn", value=check.state_machine.state_machine_arn)
        CheckLifecycleRules(self, "Lifecycle", check_state_machine=check.state_machine)
        CfnOutput(self, "CheckScheduleGroup", value=CHECK_SCHEDULE_GROUP)
        fleet = CdcFleetWorkflow(
            self,
            "Fleet",
            setup_state_machine=workflow.state_machine,
            setup_state_machine_name=STATE_MACHINE_NAME,
            log_retention=config.log_retention,
        )
        CfnOutput(self, "FleetStateMachineArn", value=fleet.state_machine.state_machine_arn)
        acknowledge_warnings(self, config)

    def _network(self, config: CdcSetupConfig) -> DataPlaneNetwork | None:
        if config.vpc_id is None:
            return None
        # Imported by id, not looked up: synth needs no AWS credentials.
        vpc = ec2.Vpc.from_vpc_attributes(self, "Vpc", vpc_id=config.vpc_id, availability_zones=Fn.get_azs())
        subnets = [ec2.Subnet.from_subnet_id(self, f"Subnet{i}", s) for i, s in enumerate(config.subnet_ids)]
        Validations.of(vpc).acknowledge(
            Acknowledgment(
                id="@aws-cdk/aws-ec2:vpcAttributeIsListTokenavailabilityZones",
                reason="The functions get explicit subnets; the VPC's zones are never read.",
            )
        )
        for subnet in subnets:
            Validations.of(subnet).acknowledge(
                Acknowledgment(
                    id="@aws-cdk/aws-ec2:noSubnetRouteTableId",
                    reason="Subnets are only handed to Lambda; their route tables are never read.",
                )
            )
        return DataPlaneNetwork(
            vpc=vpc,
            subnets=subnets,
            security_groups=[
                ec2.SecurityGroup.from_security_group_id(self, f"SecurityGroup{i}", g)
                for i, g in enumerate(config.security_group_ids)
            ],
        )
