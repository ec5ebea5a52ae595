"""CdcSetupConfig: context parsing and the errors an operator sees."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk import aws_logs as logs

from infra.config import CdcSetupConfig, ConfigError

CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
VPC = "vpc-0123456789abcdef0"
SUBNET = "subnet-0123456789abcdef0"
SG = "sg-0123456789abcdef0"
SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:orders-master"


def from_context(**context: Any) -> CdcSetupConfig:
    return CdcSetupConfig.from_context(App(context=context))


def test_the_defaults_live_in_the_dataclass_only() -> None:
    # cdk.json holds feature flags; a deployment's own values go there or in -c (README: Configuration).
    context = json.loads(CDK_JSON.read_text())["context"]
    assert [key for key in context if not key.startswith("@")] == []
    assert from_context(**context) == CdcSetupConfig()
    assert CdcSetupConfig().log_retention == logs.RetentionDays.ONE_MONTH
    assert (CdcSetupConfig().target_scope, CdcSetupConfig().master_secret_scope) == ("tagged", "rds-managed")
    assert CdcSetupConfig().opt_in_tag == "streamkap:cdc=enabled"


def test_command_line_strings_are_parsed() -> None:
    # Given `-c key=value` values, which the CDK CLI passes as strings
    config = from_context(
        vpc_id=VPC,
        subnet_ids=f"{SUBNET}, subnet-0fedcba9876543210",
        security_group_ids=SG,
        log_retention_days="14",
        notification_email="dba@example.com",
        create_vpc_endpoints="true",
        master_secret_arns=f"{SECRET},{SECRET}-2",
    )
    assert config.subnet_ids == (SUBNET, "subnet-0fedcba9876543210")
    assert config.create_vpc_endpoints is True
    assert config.master_secret_arns == (SECRET, f"{SECRET}-2")
    assert config.security_group_ids == (SG,)
    assert config.log_retention == logs.RetentionDays.TWO_WEEKS


def test_config_is_frozen_and_keyword_only() -> None:
    config = CdcSetupConfig()
    with pytest.raises(AttributeError):
        config.vpc_id = VPC  # type: ignore[misc]
    with pytest.raises(TypeError):
        CdcSetupConfig(VPC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"vpc_id": "default"}, "'vpc_id' must look like"),
        ({"vpc_id": VPC}, "needs 'subnet_ids' and 'security_group_ids'"),
        ({"vpc_id": VPC, "subnet_ids": [SUBNET]}, "needs 'subnet_ids' and 'security_group_ids'"),
        ({"subnet_ids": [SUBNET]}, "need 'vpc_id'"),
        ({"vpc_id": VPC, "subnet_ids": ["subnet-x"], "security_group_ids": [SG]}, "'subnet_ids' must look like"),
        ({"vpc_id": VPC, "subnet_ids": [SUBNET], "security_group_ids": ["default"]}, "'security_group_ids'"),
        ({"subnet_ids": 3}, "must be a list of strings"),
        ({"notification_email": "dba"}, "'notification_email' must look like"),
        ({"opt_in_tag": "streamkap"}, "'opt_in_tag' must look like"),
        ({"log_retention_days": 10}, "'log_retention_days' must be one of"),
        ({"log_retention_days": "a month"}, "must be a whole number"),
        ({"create_vpc_endpoints": True}, "'create_vpc_endpoints' needs 'vpc_id'"),
        ({"create_vpc_endpoints": "yes"}, "must be true or false"),
        ({"master_secret_arns": ["orders-master"]}, "'master_secret_arns' must look like"),
        ({"master_secret_arns": ["arn:aws:secretsmanager:eu-west-1:123456789012:secret:*"]}, "must look like"),
        ({"target_scope": "everything"}, "'target_scope' must be one of tagged, account"),
        ({"master_secret_scope": "all"}, "'master_secret_scope' must be one of rds-managed, tagged, listed"),
        ({"master_secret_scope": "listed"}, "'listed' needs 'master_secret_arns'"),
        ({"acknowledged_warnings": "NoVpc"}, "'acknowledged_warnings' must be one of rds-cdc-setup:NoVpc, "),
    ],
)
def test_bad_context_names_the_key(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_context(**context)


def test_scopes_default_to_the_narrow_forms_and_master_secret_arns_take_patterns() -> None:
    assert (CdcSetupConfig().target_scope, CdcSetupConfig().master_secret_scope) == ("tagged", "rds-managed")
    config = from_context(
        target_scope="account", master_secret_scope="listed", master_secret_arns=f"{SECRET},{SECRET[:-6]}*"
    )
    assert config.target_scope == "account"
    assert config.master_secret_arns == (SECRET, f"{SECRET[:-6]}*")


def test_acknowledged_warnings_take_the_ids_the_synth_prints() -> None:
    config = from_context(acknowledged_warnings="rds-cdc-setup:AccountWideTargets,Annotation::rds-cdc-setup:NoVpc")
    assert config.acknowledged_warnings == ("rds-cdc-setup:AccountWideTargets", "rds-cdc-setup:NoVpc")


def test_the_readme_states_each_deployment_default() -> None:
    readme = (CDK_JSON.parent / "README.md").read_text()
    table = readme[readme.index("Deployment (CDK context") :]
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", table, re.MULTILINE))
    spelled = {None: "null", (): "[]", False: "false", True: "true"}
    for field in dataclasses.fields(CdcSetupConfig):
        default = field.default
        assert rows.get(field.name) == spelled.get(default, str(default)), field.name
