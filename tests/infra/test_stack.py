"""Synthesized template of the stack: functions, state machine, IAM, network, outputs, cdk-nag, cfn-lint."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk import App, Validations
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint

from infra import workflow
from infra.config import CdcSetupConfig
from infra.stack import CdcSetupStack
from lambdas.logic.monitoring import ALARM_NAME_PREFIX
from tests.infra.synth import (
    ROOT,
    VPC_CONTEXT,
    Synth,
    actions_of,
    rendered,
    resources_of,
    role_statements,
    step_statements,
)

pytestmark = pytest.mark.infra

ASL = json.loads((ROOT / "statemachine" / "cdc_setup.asl.json").read_text())
TASKS = sorted(name for name, state in ASL["States"].items() if state["Type"] == "Task")
DATA_PLANE = {"Preflight", "CheckRebootStatus", "ConfigureDatabase", "CreateSlot", "Verify", "ConfirmSourceStreaming"}
# Least privilege, step by step: every action a step's role gets besides its logs and traces.
RDS_READ = {"rds:DescribeDBInstances", "rds:ListTagsForResource", "rds:DescribeDBParameterGroups"}
RDS_READ |= {"rds:DescribeDBParameters"}
AURORA_READ = {"rds:DescribeDBClusters", "rds:DescribeDBClusterParameterGroups", "rds:DescribeDBClusterParameters"}
RDS_READ |= AURORA_READ
AURORA_CHANGE = {"rds:CreateDBClusterParameterGroup", "rds:ModifyDBClusterParameterGroup", "rds:ModifyDBCluster"}
AURORA_CHANGE |= {"rds:CopyDBClusterParameterGroup"}
INSTANCE_READ = {"rds:DescribeDBInstances", "rds:DescribeDBClusters"}  # the target's status
MASTER_SECRET = {"secretsmanager:GetSecretValue", "kms:Decrypt"}
USER_SECRET_READ = {"secretsmanager:GetSecretValue", "kms:Decrypt"}
NOTIFY = {"sns:Publish", "kms:Decrypt", "kms:GenerateDataKey"}
# ReadTriggerTags: tags of the event's instance or cluster, its cluster (Aurora member?), the writer.
TRIGGER_READ = {"rds:DescribeDBInstances", "rds:ListTagsForResource", "rds:DescribeDBClusters"}
# The per-target lock: its table's items, and whether a holder execution still runs.
LOCK_TAKE = {"dynamodb:PutItem", "dynamodb:GetItem", "states:DescribeExecution"}
LOCK_RELEASE = {"dynamodb:DeleteItem"}  # its conditional delete only: no write, no read, no holder lookup
SECURITY_GROUP_READ = {"ec2:DescribeSecurityGroups"}
STEP_ACTIONS = {
    "ReadTriggerTags": TRIGGER_READ,
    "ValidateInput": set(),
    "AcquireLock": LOCK_TAKE,
    "DescribeTarget": RDS_READ | SECURITY_GROUP_READ,  # with allow_cidrs, the security group's plan
    "DescribeSelfManagedTarget": set(),  # self-managed PostgreSQL: from the input alone
    "Preflight": MASTER_SECRET | {"secretsmanager:DescribeSecret"},  # whose is the secret at the user's name
    "EnsureParameterGroup": RDS_READ
    | {"rds:CreateDBParameterGroup", "rds:CopyDBParameterGroup", "rds:ModifyDBParameterGroup"}
    | {"rds:AddTagsToResource", "rds:ModifyDBInstance"}
    | AURORA_CHANGE,
    "RebootInstance": INSTANCE_READ | {"rds:RebootDBInstance"},
    "CheckRebootStatus": INSTANCE_READ | {"rds:RebootDBInstance"} | MASTER_SECRET,
    "ConfigureDatabase": MASTER_SECRET
    | USER_SECRET_READ
    | {"secretsmanager:DescribeSecret", "secretsmanager:CreateSecret", "secretsmanager:TagResource"}
    | {"kms:GenerateDataKey"},
    "CreateSlot": MASTER_SECRET,
    "Verify": USER_SECRET_READ,  # as the CDC user: never the master secret
    # allow_cidrs: the workflow's security group; VPC security groups are EC2's, attached by ModifyDB*
    "EnsureSecurityGroup": INSTANCE_READ
    | SECURITY_GROUP_READ
    | {"ec2:CreateSecurityGroup", "ec2:CreateTags", "ec2:AuthorizeSecurityGroupIngress"}
    | {"ec2:RevokeSecurityGroupIngress", "rds:ModifyDBInstance", "rds:ModifyDBCluster"},
    "CreateAlarms": {"cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms"},
    # streamkap_api_secret_arn: the API credentials and the CDC password go to Streamkap's API; its
    # ownership marker is a tag on the CDC user's secret. Outside the VPC (the API is on the internet).
    "RegisterSource": USER_SECRET_READ | {"secretsmanager:DescribeSecret", "secretsmanager:TagResource"},
    "ConfirmSourceStreaming": USER_SECRET_READ,  # as the CDC user, in the VPC
    # The check schedule of the target: the template's group only, and Scheduler's role handed to Scheduler
    "EnsureCheckSchedule": {"scheduler:GetSchedule", "scheduler:CreateSchedule", "scheduler:UpdateSchedule"}
    | {"iam:PassRole"},
    "ReleaseLock": LOCK_RELEASE,
    "Report": NOTIFY,
    "NotifyFailure": NOTIFY,
}
LOGS_AND_TRACES = {"logs", "xray", "ec2"}  # ec2: the network interfaces of functions in the VPC
SECURITY_GROUP_ACTIONS = {a for actions in STEP_ACTIONS.values() for a in actions if a.startswith("ec2:")}


def network_interfaces(action: str) -> bool:
    """The VPC access a function in the VPC gets (ec2:*NetworkInterface*), not a step's own ec2 call."""
    return action.startswith("ec2:") and action not in SECURITY_GROUP_ACTIONS


def test_one_function_per_task_with_the_handler_of_its_module(synth: Synth) -> None:
    # Given the ASL's Task states, Then each has exactly one function, whose module exists
    ids = synth.function_ids()
    assert sorted(ids) == TASKS
    assert {"ReadTriggerTags", "CreateAlarms"} <= set(ids)
    for logical_id in ids.values():
        handler = synth.resources("AWS::Lambda::Function")[logical_id]["Properties"]["Handler"]
        package, handlers, module, function = handler.split(".")
        assert (package, handlers, function) == ("lambdas", "handlers", "handler")
        assert (ROOT / "lambdas" / "handlers" / f"{module}.py").is_file(), handler


def test_functions_run_python_on_arm64_with_tracing_and_the_shared_environment(synth: Synth) -> None:
    for logical_id, fn in synth.workflow("AWS::Lambda::Function").items():
        props = fn["Properties"]
        assert props["Runtime"] in ("python3.12", "python3.13"), logical_id
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["MemorySize"] == 256
        assert "LogGroup" in props["LoggingConfig"]
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "rds-cdc-setup"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "RdsCdcSetup"
        assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"
        assert env["SECRET_NAME_PREFIX"] == "rds-cdc-setup/"
        assert env["OPT_IN_TAG"] == synth.config.opt_in_tag
        assert env["TARGET_SCOPE"] == synth.config.target_scope == "tagged"  # the lambdas' default is "account"
        assert env["NOTIFICATION_TOPIC_ARN"] == {"Ref": next(iter(synth.workflow("AWS::SNS::Topic")))}
        assert env["SECRETS_KMS_KEY_ARN"] == {"Fn::GetAtt": [next(iter(synth.workflow("AWS::KMS::Key"))), "Arn"]}
        assert "DB_TLS" not in env  # verify-full against the shipped RDS CA bundle


def test_data_plane_functions_get_the_longer_timeout(default: Synth) -> None:
    for task in default.function_ids():
        assert default.function(task)["Timeout"] == (120 if task in DATA_PLANE else 60), task


def test_with_a_vpc_only_data_plane_functions_run_in_it(with_vpc: Synth) -> None:
    for task in with_vpc.function_ids():
        props = with_vpc.function(task)
        if task in DATA_PLANE:
            assert props["VpcConfig"] == {
                "SubnetIds": VPC_CONTEXT["subnet_ids"],
                "SecurityGroupIds": VPC_CONTEXT["security_group_ids"],
            }, task
        else:
            assert "VpcConfig" not in props, task


def test_without_a_vpc_no_function_has_vpc_config_nor_endpoints_and_synth_warns(default: Synth) -> None:
    for fn in default.resources("AWS::Lambda::Function").values():
        assert "VpcConfig" not in fn["Properties"]
    default.template.resource_count_is("AWS::EC2::VPCEndpoint", 0)
    assert "EndpointSecurityGroupId" not in default.template.find_outputs("*")
    Annotations.from_stack(default.stack).has_warning("*", Match.string_like_regexp("No vpc_id in context"))


def test_vpc_endpoints_let_the_data_plane_reach_secrets_manager_and_rds_over_https(with_vpc: Synth) -> None:
    endpoints = with_vpc.resources("AWS::EC2::VPCEndpoint").values()
    [group_id] = with_vpc.resources("AWS::EC2::SecurityGroup")
    assert sorted(rendered(e["Properties"]["ServiceName"]) for e in endpoints) == [
        "com.amazonaws.${AWS::Region}.rds",
        "com.amazonaws.${AWS::Region}.secretsmanager",
    ]
    for endpoint in endpoints:
        props = endpoint["Properties"]
        assert props["VpcEndpointType"] == "Interface" and props["PrivateDnsEnabled"] is True
        assert props["VpcId"] == VPC_CONTEXT["vpc_id"] and props["SubnetIds"] == VPC_CONTEXT["subnet_ids"]
        assert props["SecurityGroupIds"] == [{"Fn::GetAtt": [group_id, "GroupId"]}]
    with_vpc.template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": {"Fn::GetAtt": [group_id, "GroupId"]},
            "SourceSecurityGroupId": VPC_CONTEXT["security_group_ids"][0],
            "IpProtocol": "tcp",
            "FromPort": 443,
            "ToPort": 443,
        },
    )
    outputs = with_vpc.template.find_outputs("*")
    assert outputs["EndpointSecurityGroupId"]["Value"] == {"Fn::GetAtt": [group_id, "GroupId"]}


def test_state_machine_definition_has_every_state_and_each_placeholder_maps_to_its_function(synth: Synth) -> None:
    _, props = synth.state_machine()
    definition = props["DefinitionString"]
    assert isinstance(definition, str)  # a literal, so cfn-lint validates it
    assert json.loads(definition)["States"].keys() == ASL["States"].keys()
    placeholders = set(re.findall(r"\$\{(\w+)\}", definition))
    assert placeholders == {f"{task}FunctionArn" for task in TASKS}
    assert props["DefinitionSubstitutions"] == {
        f"{task}FunctionArn": {"Fn::GetAtt": [logical_id, "Arn"]} for task, logical_id in synth.function_ids().items()
    }


def test_state_machine_is_named_logs_every_event_without_execution_data_and_is_traced(synth: Synth) -> None:
    _, props = synth.state_machine()
    assert props["StateMachineName"] == "rds-cdc-setup"
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_log_groups_keep_the_configured_retention(default: Synth, with_vpc: Synth) -> None:
    # One per function plus the state machine's
    for synth, days in ((default, 30), (with_vpc, VPC_CONTEXT["log_retention_days"])):
        groups = synth.workflow("AWS::Logs::LogGroup").values()
        assert len(groups) == len(TASKS) + 1
        assert {g["Properties"]["RetentionInDays"] for g in synth.resources("AWS::Logs::LogGroup").values()} == {days}


def test_no_iam_policy_grants_a_wildcard_action(synth: Synth) -> None:
    documents = [p["Properties"]["PolicyDocument"] for p in synth.resources("AWS::IAM::Policy").values()]
    documents += [p["Properties"]["PolicyDocument"] for p in synth.resources("AWS::IAM::ManagedPolicy").values()]
    documents += [p["Properties"]["KeyPolicy"] for p in synth.resources("AWS::KMS::Key").values()]
    documents += [p["Properties"]["PolicyDocument"] for p in synth.resources("AWS::SNS::TopicPolicy").values()]
    actions = [a for doc in documents for s in doc["Statement"] for a in actions_of(s)]
    assert actions
    assert [a for a in actions if "*" in a and a != "kms:*"] == []  # kms:* is the account root's key admin


def test_each_step_gets_exactly_the_actions_of_its_job(with_vpc: Synth) -> None:
    for task in with_vpc.function_ids():
        actions = {a for s in step_statements(with_vpc, task) for a in actions_of(s)}
        own = {a for a in actions if a.split(":")[0] not in LOGS_AND_TRACES or a in SECURITY_GROUP_ACTIONS}
        assert own == STEP_ACTIONS[task], task
        assert any(network_interfaces(a) for a in actions) == (task in DATA_PLANE), task


def test_only_logs_traces_and_network_interfaces_are_granted_on_any_resource(with_vpc: Synth) -> None:
    for task in with_vpc.function_ids():
        for statement in step_statements(with_vpc, task):
            if "*" in resources_of(statement):
                assert {a.split(":")[0] for a in actions_of(statement)} <= {"xray", "ec2"}, (task, statement)


def test_rds_actions_are_scoped_to_instance_cluster_and_parameter_group_arns(with_vpc: Synth) -> None:
    prefix = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:"
    allowed = {f"{prefix}{kind}:*" for kind in ("db", "pg", "cluster", "cluster-pg")}
    for task in with_vpc.function_ids():
        for statement in step_statements(with_vpc, task):
            if any(a.startswith("rds:") for a in actions_of(statement)):
                assert set(resources_of(statement)) <= allowed, task
                if "rds:RebootDBInstance" in actions_of(statement):
                    assert resources_of(statement) == [f"{prefix}db:*"]


def test_aurora_cluster_actions_name_only_cluster_and_cluster_parameter_group_arns(with_vpc: Synth) -> None:
    prefix = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:"
    cluster, cluster_pg = f"{prefix}cluster:*", f"{prefix}cluster-pg:*"
    expected = {
        "rds:DescribeDBClusters": {cluster},
        "rds:DescribeDBClusterParameterGroups": {cluster_pg},
        "rds:DescribeDBClusterParameters": {cluster_pg},
        "rds:CreateDBClusterParameterGroup": {cluster_pg},
        "rds:CopyDBClusterParameterGroup": {cluster_pg},
        "rds:ModifyDBClusterParameterGroup": {cluster_pg},
        # one statement each: the cluster's condition is the opt-in tag, the group's the owner tag
        "rds:ModifyDBCluster": {cluster, cluster_pg},
    }
    seen: set[str] = set()
    for task in with_vpc.function_ids():
        granted: dict[str, set[str]] = {}
        for statement in step_statements(with_vpc, task):
            for action in set(actions_of(statement)) & set(expected):
                granted.setdefault(action, set()).update(resources_of(statement))
        for action, resources in granted.items():
            # adding its security group to the cluster involves no cluster parameter group
            own_group_only = (task, action) == ("EnsureSecurityGroup", "rds:ModifyDBCluster")
            assert resources == ({cluster} if own_group_only else expected[action]), (task, action)
            seen.add(task)
    # only the steps that describe targets, change parameter groups or add the security group hold any of them
    assert seen == {
        "ReadTriggerTags",
        "DescribeTarget",
        "EnsureParameterGroup",
        "RebootInstance",
        "CheckRebootStatus",
        "EnsureSecurityGroup",
    }


def test_the_new_secret_is_encrypted_with_the_rotating_key_only_through_secrets_manager(with_vpc: Synth) -> None:
    [key_id] = with_vpc.workflow("AWS::KMS::Key")
    with_vpc.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    [generate] = [s for s in step_statements(with_vpc, "ConfigureDatabase") if "kms:GenerateDataKey" in actions_of(s)]
    assert generate["Resource"] == {"Fn::GetAtt": [key_id, "Arn"]}
    # Who may create it, and with what, is asserted in tests/infra/test_permissions.py
    assert rendered(generate["Condition"]["StringEquals"]["kms:ViaService"]) == (
        "secretsmanager.${AWS::Region}.amazonaws.com"
    )


def test_alarm_permissions_name_the_alarms_the_step_creates(with_vpc: Synth) -> None:
    [statement] = [s for s in step_statements(with_vpc, "CreateAlarms") if "cloudwatch:PutMetricAlarm" in actions_of(s)]
    assert resources_of(statement) == [
        f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:${{AWS::AccountId}}:alarm:{ALARM_NAME_PREFIX}*"
    ]


def test_state_machine_may_invoke_exactly_the_step_functions(synth: Synth) -> None:
    _, props = synth.state_machine()
    role_id = props["RoleArn"]["Fn::GetAtt"][0]
    statements = [s for s in role_statements(synth, role_id) if "lambda:InvokeFunction" in actions_of(s)]
    assert [actions_of(s) for s in statements] == [["lambda:InvokeFunction"]]
    assert sorted(statements[0]["Resource"], key=str) == sorted(
        ({"Fn::GetAtt": [i, "Arn"]} for i in synth.function_ids().values()), key=str
    )


def test_topic_is_encrypted_with_the_rotating_key_and_mails_the_dba(default: Synth, with_vpc: Synth) -> None:
    for synth in (default, with_vpc):
        [key_id] = synth.workflow("AWS::KMS::Key")
        synth.template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    default.template.resource_count_is("AWS::SNS::Subscription", 0)
    with_vpc.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": VPC_CONTEXT["notification_email"]}
    )


def test_outputs_name_the_state_machine_its_console_page_and_the_topic(synth: Synth) -> None:
    machine_id, _ = synth.state_machine()
    [topic_id] = synth.workflow("AWS::SNS::Topic")
    outputs = {name: output["Value"] for name, output in synth.template.find_outputs("*").items()}
    assert outputs["StateMachineArn"] == {"Ref": machine_id}
    assert set(outputs) - {"EndpointSecurityGroupId"} == {
        "StateMachineArn", "StateMachineConsoleUrl", "NotificationTopicArn", "TeardownStateMachineArn",
        "FleetStateMachineArn", "CheckStateMachineArn", "CheckScheduleGroup",
    }  # fmt: skip
    assert outputs["NotificationTopicArn"] == {"Ref": topic_id}
    assert rendered(outputs["StateMachineConsoleUrl"]) == (
        "https://${AWS::Region}.console.aws.amazon.com/states/home?region=${AWS::Region}"
        f"#/statemachines/view/${{{machine_id}}}"
    )


def test_cdk_nag_reports_no_unacknowledged_findings(synth: Synth) -> None:
    findings = [
        (v["ruleName"], [c.get("constructPath") for c in v.get("violatingConstructs", [])])
        for plugin in synth.report["pluginReports"]
        if plugin["pluginName"] == "AwsSolutions"
        for v in plugin["violations"]
    ]
    assert findings == []


def test_every_cdk_nag_acknowledgement_names_one_finding_and_gives_its_reason(synth: Synth) -> None:
    acknowledged = {
        rule: reason
        for construct in synth.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for rule, reason in entry.data.items()
        if "AwsSolutions-" in rule
    }
    assert acknowledged
    for rule, reason in acknowledged.items():
        # A finding, not a whole rule: IAM5 names the resource it accepts, L1 the function
        assert re.fullmatch(r"Annotation::AwsSolutions-(IAM5\[Resource::.+\]|L1)", rule), rule
        assert len(reason) >= 40, (rule, reason)


def test_cdk_nag_plugin_does_report_findings(tmp_path: Path) -> None:
    # Given an app with one wildcard policy, Then synth fails: the empty report above means something
    app = App(context={"aws:cdk:bundling-stacks": []}, outdir=str(tmp_path))
    stack = CdcSetupStack(app, "Probe", config=CdcSetupConfig())
    iam.ManagedPolicy(stack, "Loose", statements=[iam.PolicyStatement(actions=["sns:Publish"], resources=["*"])])
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(Exception, match=re.escape("AwsSolutions-IAM5[Resource::*]")):
        app.synth()


def test_cfn_lint_finds_no_errors(synth: Synth) -> None:
    matches = lint(
        json.dumps(synth.template.to_json()),
        config=ManualArgs(regions=["us-east-1"], ignore_checks=["W3005"]),
    )
    assert [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")] == []


def test_the_lock_steps_reach_only_the_lock_table_and_the_workflows_executions(synth: Synth) -> None:
    # Given the stack's lock table
    [table_id] = synth.resources("AWS::DynamoDB::Table")
    arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
    for task in ("AcquireLock", "ReleaseLock"):
        granted: dict[str, list] = {}
        for statement in step_statements(synth, task):
            for action in actions_of(statement):
                if action.split(":")[0] not in LOGS_AND_TRACES:
                    granted.setdefault(action, []).extend(
                        statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                    )
        # Then its items through the table's own ARN, nothing else of DynamoDB
        for action in (a for a in granted if a.startswith("dynamodb:")):
            assert granted[action] == [{"Fn::GetAtt": [table_id, "Arn"]}], (task, action)
        # And whether a holder runs (AcquireLock only): executions of the setup and teardown state machines
        if task == "AcquireLock":
            assert sorted(rendered(r) for r in granted["states:DescribeExecution"]) == [
                f"{arn}execution:rds-cdc-check:*",
                f"{arn}execution:rds-cdc-setup:*",
                f"{arn}execution:rds-cdc-teardown:*",
            ], task
        # And only the lock steps know the table
        assert synth.function(task)["Environment"]["Variables"]["LOCK_TABLE_NAME"] == {"Ref": table_id}
    others = [t for t in synth.function_ids() if t not in ("AcquireLock", "ReleaseLock")]
    assert others and all("LOCK_TABLE_NAME" not in synth.function(t)["Environment"]["Variables"] for t in others)


def test_the_lock_table_keys_leases_by_target_expires_them_and_keeps_no_capacity(synth: Synth) -> None:
    [table] = synth.resources("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "target", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "target", "AttributeType": "S"}]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == "Delete"  # only leases: nothing to keep


def test_the_lock_holders_are_the_setup_teardown_and_check_state_machines() -> None:
    from infra import check, teardown
    from infra.target_lock import LOCK_HOLDERS

    assert (workflow.STATE_MACHINE_NAME, teardown.STATE_MACHINE_NAME, check.STATE_MACHINE_NAME) == LOCK_HOLDERS
