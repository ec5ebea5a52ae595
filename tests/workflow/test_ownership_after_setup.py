"""Touch only what we own, after a real setup through the real state machine: the CDC login can
create nothing, a lost secret is not replaced silently, and the guide done by hand is adopted only
on request, shown in the plan first."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from pg8000.exceptions import DatabaseError

from tests.snapshots import everything
from tests.workflow.conftest import Stack
from tests.workflow.test_ownership import GUIDE_BY_HAND, USER_SECRET, run_sql

pytestmark = pytest.mark.workflow


@pytest.fixture
def ready(stack: Stack) -> Iterator[Stack]:
    execution = stack.run()
    assert execution.status == "SUCCEEDED", execution.cause
    yield stack


def as_cdc_user(stack: Stack):
    sm = boto3.client("secretsmanager")
    credentials = json.loads(sm.get_secret_value(SecretId=USER_SECRET)["SecretString"])
    return stack.server.connect("orders", user=credentials["username"], password=credentials["password"])


def test_the_cdc_login_can_create_nothing(ready: Stack):
    privileges = ready.sql(
        """SELECT has_database_privilege('streamkap_user', 'orders', 'CREATE'),
                  has_schema_privilege('streamkap_user', 'inventory', 'CREATE'),
                  has_schema_privilege('streamkap_user', 'streamkap', 'CREATE')"""
    )
    assert privileges == [[False, False, False]]
    if ready.server.major_version >= 15:  # before 15, PUBLIC may create in public unless the DBA revoked it
        conn = as_cdc_user(ready)
        try:
            # The CVE-2018-1058 pattern: a function that shadows one the master calls.
            with pytest.raises(DatabaseError, match="permission denied for schema public"):
                conn.run("CREATE FUNCTION public.lower(varchar) RETURNS text LANGUAGE sql AS 'SELECT $1::text'")
        finally:
            conn.close()


def test_a_lost_secret_is_not_replaced_silently_and_rotate_password_makes_a_new_one(ready: Stack):
    sm = boto3.client("secretsmanager")
    sm.delete_secret(SecretId=USER_SECRET, ForceDeleteWithoutRecovery=True)
    before = everything(ready.server, "orders")
    refused = ready.run()
    assert (refused.error, "rotate_password" in refused.cause) == ("InvalidInput", True)
    assert everything(ready.server, "orders") == before

    rotated = ready.run(rotate_password=True)
    assert rotated.status == "SUCCEEDED", rotated.cause
    assert any(c.startswith("set the password of streamkap_user") for c in rotated.output["changes"])
    as_cdc_user(ready).close()  # the new password in the new secret logs in


def test_adopting_the_guide_done_by_hand_is_shown_in_the_plan_and_then_converges(stack: Stack):
    stack.server.restart(wal_level="logical")
    run_sql(stack, *GUIDE_BY_HAND)
    adopt = {"adopt": ["user", "role", "schema", "tables", "publication", "slot"], "rotate_password": True}
    before = everything(stack.server, "orders")
    plan = stack.run(dry_run=True, **adopt)
    assert plan.status == "SUCCEEDED", plan.cause
    assert everything(stack.server, "orders") == before
    adoptions = [line for line in plan.output["plan"] if line.startswith("adopt existing")]
    assert [line.split(" (")[0] for line in adoptions] == [
        "adopt existing role streamkap_role",
        "adopt existing user streamkap_user",
        "adopt existing schema streamkap",
        "adopt existing table streamkap.streamkap_signal",
        "adopt existing publication streamkap_pub",
        "adopt existing replication slot streamkap_pgoutput_slot",
    ]

    done = stack.run(**adopt)
    assert done.status == "SUCCEEDED", done.cause
    if stack.server.major_version >= 13:  # an adopted publication keeps what its connector receives
        assert stack.sql("SELECT pubviaroot FROM pg_publication WHERE pubname = 'streamkap_pub'") == [[False]]
    again = stack.run()  # now the workflow's own: no adopt needed, nothing to change
    assert again.status == "SUCCEEDED", again.cause
    assert again.output["changes"] == []


# ---- a deployment that may change only opted-in targets (target_scope tagged) ---------------------


def test_an_untagged_target_is_refused_by_name_before_any_change_and_tagged_it_runs(stack: Stack, monkeypatch):
    # Given the deployment's IAM reaches only instances with the opt-in tag (the CDK default)
    monkeypatch.setenv("TARGET_SCOPE", "tagged")
    before = everything(stack.server, "orders")
    # When the setup is started by hand for an instance without it
    refused = stack.run()
    # Then it stops in DescribeTarget with InsufficientPrivilege naming the tag, and nothing changed
    # (IAM would have refused the attach after the parameter group had been made)
    assert refused.error == "InsufficientPrivilege", refused.cause
    assert "instance orders-prod does not carry the opt-in tag streamkap:cdc=enabled" in refused.cause
    assert everything(stack.server, "orders") == before
    assert stack.instance.calls == []
    # and a dry run lists the refusal in its plan instead of failing
    dry = stack.run(dry_run=True)
    assert any(line.startswith("refused (a real run stops here): instance orders-prod") for line in dry.output["plan"])
    # When it is tagged, the same input runs to Ready
    arn = stack.describe()["DBInstanceArn"]
    boto3.client("rds").add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "streamkap:cdc", "Value": "enabled"}])
    assert stack.run().status == "SUCCEEDED"
