"""Notification subjects name the target for every kind: instance, Aurora cluster, self-managed server."""

import json
from unittest import mock

import pytest

from lambdas.handlers import notify_failure, notify_teardown_failure, report_teardown
from tests.unit.test_step import FakeContext
from tests.unit.test_steps import TARGET

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:master-AbCdEf"
TARGETS = [
    pytest.param({"db_instance_identifier": "orders-db"}, "orders-db", id="instance"),
    pytest.param({"db_cluster_identifier": "orders-cluster"}, "orders-cluster", id="cluster"),
    pytest.param(
        {"host": "pg.internal", "port": 5433, "database": "app", "master_secret_arn": SECRET},
        "pg.internal:5433/app",
        id="self-managed",
    ),
]
ERROR = {"Error": "InvalidInput", "Cause": json.dumps({"errorMessage": "bad"})}


def subject_of(module, event) -> str:
    with (
        mock.patch("lambdas.dal.notifications.client") as client,
        mock.patch.dict("os.environ", {"NOTIFICATION_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:cdc"}),
    ):
        module.handler(event, FakeContext())
    return client.return_value.publish.call_args.kwargs["Subject"]


@pytest.mark.parametrize(("given", "target"), TARGETS)
def test_setup_failure_names_the_target(given, target):
    subject = subject_of(notify_failure, {"input": given, "error": ERROR})
    assert subject == f"rds-cdc-setup failed: {target}: InvalidInput"


@pytest.mark.parametrize(("given", "target"), TARGETS)
def test_setup_failure_names_the_target_of_an_input_that_did_not_validate(given, target):
    given = {**given, "unknown_option": True}
    subject = subject_of(notify_failure, {"input": given, "error": ERROR})
    assert subject == f"rds-cdc-setup failed: {target}: InvalidInput"


@pytest.mark.parametrize(("given", "target"), TARGETS)
def test_teardown_failure_names_the_target(given, target):
    event = {"input": {**given, "drop_slot": True}, "error": ERROR}
    assert subject_of(notify_teardown_failure, event) == f"rds-cdc-teardown failed: {target}: InvalidInput"


@pytest.mark.parametrize(("given", "target"), TARGETS)
def test_teardown_report_names_the_target(given, target):
    event = {
        "input": {**given, "drop_slot": True},
        "target": TARGET,
        "plan": {"plan": ["drop slot streamkap_pgoutput_slot"]},
        "slot": {"changes": ["drop slot streamkap_pgoutput_slot"]},
    }
    assert subject_of(report_teardown, event) == f"rds-cdc-teardown Removed: {target}"


def test_a_trigger_that_failed_before_any_input_names_the_event_resource():
    event = {"source": "aws.rds", "detail": {"SourceIdentifier": "orders-db"}, "error": ERROR}
    assert subject_of(notify_failure, event) == "rds-cdc-setup failed: orders-db: InvalidInput"
