"""An IAM refusal from any AWS call becomes InsufficientPrivilege naming the operation."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from lambdas.dal.clients import client
from lambdas.dal.rds import Rds
from lambdas.shared.errors import InsufficientPrivilege, TargetNotFound


def test_access_denied_is_insufficient_privilege_naming_the_call():
    rds = client("rds")
    with Stubber(rds) as stub:
        stub.add_client_error(
            "describe_db_instances",
            service_error_code="AccessDenied",
            service_message="User is not authorized",
            http_status_code=403,
        )
        with pytest.raises(InsufficientPrivilege, match="rds:DescribeDBInstances"):
            Rds(rds).describe_instance("orders-prod")


def test_other_errors_keep_their_own_meaning():
    rds = client("rds")
    with Stubber(rds) as stub:
        stub.add_client_error("describe_db_instances", service_error_code="DBInstanceNotFound", http_status_code=404)
        with pytest.raises(TargetNotFound, match="No RDS instance 'orders-prod'"):
            Rds(rds).describe_instance("orders-prod")
