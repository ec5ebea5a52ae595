"""What every workflow construct builds the same way: one Lambda function per registry step (own role,
log group, customer-managed policies), the VPC access policy, the state machine that runs an ASL
file with its placeholders substituted, and the cdk-nag acknowledgement helpers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Aws, Duration, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.shared.settings import CONTROL_PLANE_LAMBDA_TIMEOUT_SECONDS, DATA_PLANE_LAMBDA_TIMEOUT_SECONDS
from lambdas.shared.steps import Step

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64


@dataclass(frozen=True, kw_only=True)
class DataPlaneNetwork:
    vpc: ec2.IVpc
    subnets: Sequence[ec2.ISubnet]
    security_groups: Sequence[ec2.ISecurityGroup]


def powertools_environment(service: str) -> dict[str, str]:
    """The shared Logger/Tracer/Metrics settings every function of every workflow gets."""
    return {
        "POWERTOOLS_SERVICE_NAME": service,
        "POWERTOOLS_METRICS_NAMESPACE": "RdsCdcSetup",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def task_function(
    scope: Construct,
    step: Step,
    *,
    description: str,
    code: lambda_.Code,
    environment: Mapping[str, str],
    managed_policies: Sequence[iam.IManagedPolicy],
    network: DataPlaneNetwork | None,
    log_retention: logs.RetentionDays,
) -> lambda_.Function:
    """The function serving the registry's `step` (its handler), with its own role holding
    `managed_policies`; in the VPC only when the step runs there and a network is given."""
    task, in_vpc = step.name, step.in_vpc
    network = network if in_vpc else None
    role = iam.Role(
        scope,
        f"{task}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        managed_policies=list(managed_policies),
    )
    log_group = logs.LogGroup(scope, f"{task}Logs", retention=log_retention)
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        f"{task}Function",
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        code=code,
        handler=step.handler,
        memory_size=256,
        # Named beside the database timeouts they must exceed (lambdas/shared/settings.py).
        timeout=Duration.seconds(DATA_PLANE_LAMBDA_TIMEOUT_SECONDS if in_vpc else CONTROL_PLANE_LAMBDA_TIMEOUT_SECONDS),
        tracing=lambda_.Tracing.ACTIVE,
        role=role,
        log_group=log_group,
        environment=dict(environment),
        vpc=network.vpc if network else None,
        vpc_subnets=ec2.SubnetSelection(subnets=list(network.subnets)) if network else None,
        security_groups=list(network.security_groups) if network else None,
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions.",
    )
    acknowledge(
        function,
        "AwsSolutions-L1",
        "Python 3.12 on purpose: the asset's wheels are built for cp312; runtime and wheels move together.",
    )
    return function


def vpc_access_policy(scope: Construct, description: str) -> iam.ManagedPolicy:
    """What AWSLambdaVPCAccessExecutionRole grants, kept customer-managed."""
    policy = iam.ManagedPolicy(
        scope,
        "VpcAccessPolicy",
        description=description,
        statements=[
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSubnets",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        ],
    )
    acknowledge(
        policy,
        "AwsSolutions-IAM5[Resource::*]",
        "Lambda manages the functions' network interfaces; the Describe actions allow no resource scoping.",
    )
    return policy


def asl_state_machine(
    scope: Construct,
    *,
    name: str,
    definition: str,
    substitutions: Mapping[str, str],
    log_retention: logs.RetentionDays,
) -> sfn.StateMachine:
    """A named state machine running `definition` (an ASL file's text) with ${Placeholders}
    substituted: placeholders and substitutions must match one to one (no unset placeholder, no
    function the definition never calls). The caller grants what its tasks call."""
    placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
    if placeholders != set(substitutions):
        raise ValueError(f"state machine {name}: placeholders {sorted(placeholders)} != {sorted(substitutions)}")
    state_machine = sfn.StateMachine(
        scope,
        "StateMachine",
        # Named, so that policies can name it without a dependency cycle.
        state_machine_name=name,
        # DefinitionSubstitutions keep DefinitionString a literal that cfn-lint can validate.
        definition_body=sfn.DefinitionBody.from_string(definition),
        definition_substitutions=dict(substitutions),
        logs=sfn.LogOptions(
            destination=logs.LogGroup(scope, "StateMachineLogs", retention=log_retention),
            level=sfn.LogLevel.ALL,
            include_execution_data=False,  # state carries hostnames and secret ARNs
        ),
        tracing_enabled=True,
    )
    acknowledge(
        state_machine,
        "AwsSolutions-IAM5[Resource::*]",
        "CloudWatch Logs delivery and X-Ray actions support no resource-level permissions.",
    )
    return state_machine


def grant_invoke(state_machine: sfn.StateMachine, functions: Sequence[lambda_.IFunction]) -> None:
    state_machine.add_to_role_policy(
        iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[fn.function_arn for fn in functions])
    )


def arn(service: str, resource: str) -> str:
    # Pseudo-parameter refs, not stack.region, so the cdk-nag finding ids never vary.
    return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


def acknowledge_wildcard(scope: Construct, service: str, resource: str, reason: str) -> None:
    finding = f"arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
    acknowledge(scope, f"AwsSolutions-IAM5[Resource::{finding}]", reason)


def acknowledge(scope: Construct, finding: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=finding, reason=reason))
