"""Optional interface VPC endpoints, for data-plane subnets without a NAT gateway."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.workflow import DataPlaneNetwork

# The SQL steps read and create secrets; CheckRebootStatus also asks the RDS API.
SERVICES = {"SecretsManager": "secretsmanager", "Rds": "rds"}


class ServiceEndpoints(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, network: DataPlaneNetwork) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=network.vpc,
            description="rds-cdc-setup: HTTPS from the data-plane functions to the service endpoints",
            allow_all_outbound=False,
        )
        for group in network.security_groups:
            self.security_group.add_ingress_rule(group, ec2.Port.tcp(443), "rds-cdc-setup functions")
        # L1: the L2 endpoint picks one subnet per zone, and imported subnets have no known zone.
        self.endpoints = [
            ec2.CfnVPCEndpoint(
                self,
                f"{name}Endpoint",
                vpc_id=network.vpc.vpc_id,
                service_name=f"com.amazonaws.{Aws.REGION}.{service}",
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.subnet_id for subnet in network.subnets],
                security_group_ids=[self.security_group.security_group_id],
            )
            for name, service in SERVICES.items()
        ]
