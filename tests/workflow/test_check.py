"""The check state machine on a target setup prepared, through the real ASL: drift made by hand, then
the check's named findings; a clean target changes nothing; publish and repair change only what
setup would, through its code and ownership rules. One module stack (one setup run), ~30 s; each
test puts back what it changed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto.cloudwatch.models import cloudwatch_backends
from moto.rds.models import rds_backends
from pg8000.native import literal

from lambdas.shared.check_models import FindingKind
from lambdas.shared.names import CHECK_METRICS_NAMESPACE, LOCK_TABLE_NAME
from local.postgres_server import LocalPostgres
from local.step_policies import ACCOUNT
from local.workflow_runner import ROOT, Execution, LocalWorkflow
from tests.live_connector import live_connector
from tests.snapshots import everything
from tests.workflow.conftest import INSTANCE, Stack, make_stack

pytestmark = pytest.mark.workflow

CHECK_ASL = ROOT / "statemachine" / "cdc_check.asl.json"
SECRET = f"rds-cdc-setup/{INSTANCE}/streamkap_user"


@dataclass
class Checked:
    stack: Stack
    workflow: LocalWorkflow

    def run(self, **execution_input) -> Execution:
        return self.workflow.run(
            {"db_instance_identifier": INSTANCE, "schemas": ["public", "inventory"], **execution_input}
        )

    def snapshot(self) -> dict:
        return everything(self.stack.server, "orders")

    @property
    def password(self) -> str:
        secret = boto3.client("secretsmanager").get_secret_value(SecretId=SECRET)
        return json.loads(secret["SecretString"])["password"]


@pytest.fixture(scope="module")
def checked() -> Iterator[Checked]:
    server = LocalPostgres(settings={"wal_level": "logical"}).init().start()
    try:
        for stack in make_stack(server):
            setup = stack.run()
            assert setup.status == "SUCCEEDED", setup.cause
            with LocalWorkflow(asl_file=CHECK_ASL) as workflow:
                yield Checked(stack, workflow)
    finally:
        server.destroy()


def kinds(execution: Execution) -> dict[str, list[str]]:
    """kind -> its findings' subjects, in order."""
    found: dict[str, list[str]] = {}
    for finding in execution.output["findings"]:
        found.setdefault(finding["kind"], []).append(finding["subject"])
    return found


def test_a_clean_prepared_target_has_no_findings_and_nothing_changes(checked: Checked, tmp_path: Path):
    with live_connector(
        checked.stack.server, database="orders", user="streamkap_user", password=checked.password, output=tmp_path / "o"
    ):
        before = checked.snapshot()
        execution = checked.run()
        after = checked.snapshot()

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "Clean", execution.output["findings"]
    assert execution.output["findings"] == [] and execution.output["changes"] == []
    assert execution.output["counts"] == {kind.value: 0 for kind in FindingKind}
    assert execution.output["snapshot_needed"] is False
    assert after == before
    assert "AcquireCheckLock" not in execution.states_entered  # a report takes no lock


def test_each_drift_made_by_hand_is_its_finding_and_a_report_changes_nothing(checked: Checked):
    stack, major = checked.stack, checked.stack.server.major_version
    rds = boto3.client("rds")
    group = stack.describe()["DBParameterGroups"][0]["DBParameterGroupName"]
    stack.sql("CREATE TABLE public.late (id int PRIMARY KEY)")
    stack.sql("CREATE TABLE public.nokey (x int)")
    stack.sql("CREATE TABLE public.metrics (id int, at date, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)")
    stack.sql(
        "CREATE TABLE public.metrics_2025 PARTITION OF public.metrics FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')"
    )
    # A partition added later to a published partitioned table: published through its root on PG13+
    stack.sql(
        "CREATE TABLE public.events_2027 PARTITION OF public.events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01')"
    )
    stack.sql("REVOKE SELECT ON public.items FROM streamkap_role")
    stack.sql("ALTER ROLE streamkap_user PASSWORD 'not-the-one-in-the-secret'")
    stack.sql("INSERT INTO public.orders VALUES (3, 'linus', 1.00)")  # WAL the idle slot holds back
    rds.modify_db_parameter_group(
        DBParameterGroupName=group,
        Parameters=[
            {"ParameterName": "wal_sender_timeout", "ParameterValue": "60000", "ApplyMethod": "immediate"},
            {"ParameterName": "rds.logical_replication", "ParameterValue": "0", "ApplyMethod": "pending-reboot"},
        ],
    )
    try:
        before = checked.snapshot()
        execution = checked.run(slot_retained_gib=1e-9)
        after = checked.snapshot()
    finally:
        stack.sql("DROP TABLE public.late, public.nokey, public.metrics, public.events_2027")
        stack.sql("GRANT SELECT ON public.items TO streamkap_role")
        stack.sql(f"ALTER ROLE streamkap_user PASSWORD {literal(checked.password)}")
        rds.modify_db_parameter_group(
            DBParameterGroupName=group,
            Parameters=[
                {"ParameterName": "wal_sender_timeout", "ParameterValue": "0", "ApplyMethod": "immediate"},
                {"ParameterName": "rds.logical_replication", "ParameterValue": "1", "ApplyMethod": "pending-reboot"},
            ],
        )
        rds.reboot_db_instance(DBInstanceIdentifier=INSTANCE)  # the emulator restarts the server: in-sync again
        while stack.describe()["DBInstanceStatus"] != "available":
            pass

    assert execution.status == "SUCCEEDED", execution.cause
    assert after == before
    found = kinds(execution)
    partitioned = ["public.metrics"] if major >= 13 else ["public.events_2027", "public.metrics_2025"]
    assert sorted(found.pop("unpublished_table")) == sorted(["public.late", "public.nokey", *partitioned])
    assert found.pop("replica_identity") == ["public.nokey"]
    assert found.pop("not_selectable") == ["public.items"]
    assert found.pop("login_failed") == ["streamkap_user"]
    assert found.pop("slot_inactive") == ["streamkap_pgoutput_slot"]
    assert found.pop("slot_retained_bytes") == ["streamkap_pgoutput_slot"]
    assert found.pop("wal_sender_timeout") == [group]
    assert found.pop("logical_replication_off") == [group]
    assert found.pop("parameter_pending_reboot") == [group]
    assert found.pop("parameter_drift") == [group]
    assert found == {}
    assert execution.output["counts"]["unpublished_table"] == len(partitioned) + 2
    assert execution.output["status"] == "Findings" and execution.output["snapshot_needed"] is False
    drift = next(f for f in execution.output["findings"] if f["kind"] == "parameter_drift")
    assert "set rds.logical_replication=1" in drift["detail"] and "set wal_sender_timeout=0" in drift["detail"]
    login = next(f for f in execution.output["findings"] if f["kind"] == "login_failed")
    assert checked.password not in json.dumps(execution.output) and "password authentication failed" in login["detail"]


def test_publish_adds_an_unpublished_table_through_setups_code(checked: Checked):
    stack = checked.stack
    stack.sql("CREATE TABLE public.late (id int PRIMARY KEY)")
    try:
        execution = checked.run(policy="publish")
        again = checked.run()
    finally:
        stack.sql("DROP TABLE public.late")

    assert execution.status == "SUCCEEDED", execution.cause
    assert kinds(execution)["unpublished_table"] == ["public.late"]  # as found, before the change
    assert execution.output["changes"] == ["add 1 tables to publication streamkap_pub"]
    assert "AcquireCheckLock" in execution.states_entered and "ReleaseCheckLock" in execution.states_entered
    assert "unpublished_table" not in kinds(again)


def test_publish_refuses_a_table_without_replica_identity_as_setup_does_and_changes_nothing(checked: Checked):
    stack = checked.stack
    stack.sql("CREATE TABLE public.nokey (x int)")
    try:
        before = checked.snapshot()
        execution = checked.run(policy="publish")
        after = checked.snapshot()
    finally:
        stack.sql("DROP TABLE public.nokey")

    assert execution.status == "FAILED"
    assert execution.error == "ReplicaIdentityMissing", execution.cause
    assert after == before


def test_repair_recreates_a_lost_slot_and_publication_and_says_a_snapshot_is_needed(checked: Checked):
    stack = checked.stack
    stack.sql("SELECT pg_drop_replication_slot('streamkap_pgoutput_slot')")
    stack.sql("DROP PUBLICATION streamkap_pub")
    before = checked.snapshot()
    reported = checked.run()
    unchanged = checked.snapshot()
    repaired = checked.run(repair=True)
    again = checked.run()

    assert reported.status == "SUCCEEDED", reported.cause
    assert unchanged == before
    assert kinds(reported)["slot_missing"] == ["streamkap_pgoutput_slot"]
    assert kinds(reported)["publication_missing"] == ["streamkap_pub"]
    assert reported.output["snapshot_needed"] is True and "SNAPSHOT NEEDED" in reported.output["message"]
    assert "repair: true" in reported.output["message"] and reported.output["changes"] == []

    assert repaired.status == "SUCCEEDED", repaired.cause
    assert repaired.output["repaired"] == ["publication", "slot"]
    assert kinds(repaired) == kinds(reported)  # the same findings, whether or not repair ran
    assert any(c.startswith("create publication streamkap_pub") for c in repaired.output["changes"])
    assert "created replication slot streamkap_pgoutput_slot (pgoutput)" in repaired.output["changes"]
    assert repaired.output["snapshot_needed"] is True and "recreated: publication, slot" in repaired.output["message"]

    assert again.status == "SUCCEEDED", again.cause
    assert {"slot_missing", "publication_missing"}.isdisjoint(kinds(again))


def test_a_check_asked_to_adopt_someone_elses_publication_is_invalid_input_and_changes_nothing(checked: Checked):
    """A schedule's input could be written by anyone allowed in its group: the check itself refuses to take over."""
    stack = checked.stack
    stack.sql("DROP PUBLICATION streamkap_pub")
    stack.sql("CREATE PUBLICATION streamkap_pub FOR TABLE public.orders")
    try:
        before = checked.snapshot()
        execution = checked.run(repair=True, adopt=["publication"])
        after = checked.snapshot()
    finally:
        stack.sql("DROP PUBLICATION streamkap_pub")
        restored = checked.run(repair=True)

    assert (execution.status, execution.error) == ("FAILED", "InvalidInput"), execution.cause
    assert "a check takes nothing over" in execution.cause and after == before
    assert "AcquireCheckLock" not in execution.states_entered
    assert restored.status == "SUCCEEDED" and restored.output["repaired"] == ["publication"], restored.output


def test_repair_refuses_a_publication_of_that_name_someone_else_made(checked: Checked):
    stack = checked.stack
    stack.sql("DROP PUBLICATION streamkap_pub")
    stack.sql("CREATE PUBLICATION streamkap_pub FOR TABLE public.orders")
    try:
        before = checked.snapshot()
        execution = checked.run(repair=True)
        after = checked.snapshot()
    finally:
        stack.sql("DROP PUBLICATION streamkap_pub")
        restored = checked.run(repair=True)

    assert execution.status == "FAILED"
    assert execution.error == "NotOwned", execution.cause
    assert "streamkap_pub" in execution.cause
    assert after == before
    assert restored.status == "SUCCEEDED" and restored.output["repaired"] == ["publication"], restored.output


# ---- PublishFindings: metrics every run, one message when the findings change ----------------------


@dataclass
class Published:
    """What reaches the notification topic (an SQS queue subscribed to it) and CloudWatch, from now on."""

    topic_arn: str
    queue: str = ""

    def __post_init__(self) -> None:
        # The last check's findings other tests left behind: this test starts from none (a clean target).
        boto3.client("dynamodb").delete_item(TableName=LOCK_TABLE_NAME, Key={"target": {"S": "check#orders-prod"}})
        sqs = boto3.client("sqs")
        self.queue = sqs.create_queue(QueueName=f"check-notices-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]
        boto3.client("sns").subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn["QueueArn"])

    def messages(self) -> list[tuple[str, dict]]:
        """(subject, body) of the messages published since the last call."""
        received = boto3.client("sqs").receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", [])
        for message in received:
            boto3.client("sqs").delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        return [(json.loads(m["Body"])["Subject"], json.loads(json.loads(m["Body"])["Message"])) for m in received]

    def run(self, checked: Checked) -> tuple[Execution, dict[str, list[tuple[str, float]]]]:
        """A check run, and the values it put in the check's namespace: metric -> [(target, value)].
        Read from moto's store (PutMetricData keeps whole seconds: a run's window in GetMetricData could
        catch the run before)."""
        store = cloudwatch_backends[ACCOUNT]["us-east-1"].metric_data
        before = len(store)
        execution = checked.run()
        metrics: dict[str, list[tuple[str, float]]] = {}
        for datum in store[before:]:
            if datum.namespace == CHECK_METRICS_NAMESPACE:
                [dimension] = datum.dimensions
                assert dimension.name == "Target"
                metrics.setdefault(datum.name, []).append((dimension.value, float(datum.value)))
        return execution, metrics


def test_findings_go_out_as_metrics_every_run_and_as_one_message_only_when_they_changed(
    checked: Checked, tmp_path: Path
):
    published = Published(checked.workflow.topic_arn)
    zeros = {kind.metric_name: [(INSTANCE, 0.0)] for kind in FindingKind}  # one value per kind, and it is 0
    stack = checked.stack

    # Given a target with its connector streaming (else slot_inactive) and a table added by hand
    with live_connector(
        stack.server, database="orders", user="streamkap_user", password=checked.password, output=tmp_path / "o"
    ):
        stack.sql("CREATE TABLE public.late (id int PRIMARY KEY)")
        try:
            drift, drift_metrics = published.run(checked)
            drift_notices = published.messages()
            again, again_metrics = published.run(checked)  # the same drift
            again_notices = published.messages()
        finally:
            stack.sql("DROP TABLE public.late")
        fixed, fixed_metrics = published.run(checked)
        fixed_notices = published.messages()
        clean, clean_metrics = published.run(checked)  # clean a second time
        clean_notices = published.messages()

    for execution in (drift, again, fixed, clean):
        assert execution.status == "SUCCEEDED", execution.cause
        assert execution.states_entered[-1] == "PublishFindings"
    # Drift: the metric counts it, every other kind 0; exactly one message, naming it
    assert drift_metrics == {**zeros, "UnpublishedTable": [(INSTANCE, 1.0)]}
    [(subject, body)] = drift_notices
    assert subject == f"rds-cdc-check findings changed: {INSTANCE}"
    assert body["appeared"] == [
        next(f"unpublished_table public.late (warning): {f['detail']}" for f in drift.output["findings"])
    ]
    assert body["cleared"] == [] and body["counts"] == {"unpublished_table": 1} and body["execution"]
    assert drift.output["published"] == {
        "namespace": CHECK_METRICS_NAMESPACE,
        "metrics": len(FindingKind),
        "changed": True,
        "notified": True,
        "appeared": ["unpublished_table public.late"],
        "cleared": [],
    }
    # The same drift again: the same metric, no message
    assert again_metrics == drift_metrics and again_notices == []
    assert again.output["published"]["changed"] is False
    # Fixed: zeros, and an "all clear" naming what cleared
    assert fixed_metrics == zeros
    [(subject, body)] = fixed_notices
    assert subject == f"rds-cdc-check all clear: {INSTANCE}" and body["cleared"] == ["unpublished_table public.late"]
    assert body["status"] == "Clean" and body["appeared"] == []
    # Clean again: zeros, no message
    assert clean_metrics == zeros and clean_notices == []
    assert checked.password not in json.dumps([drift_notices, fixed_notices])


# ---- the check schedule setup made, and the RDS lifecycle rules' check (issue 16) ------------------------

SCHEDULE = "db.orders-prod.orders"  # names.check_schedule_name: the instance, then the database
INSTANCE_ARN = f"arn:aws:rds:us-east-1:123456789012:db:{INSTANCE}"


def lifecycle_event(source_arn: str, event_id: str = "RDS-EVENT-0049") -> dict:
    """An RDS lifecycle event as EventBridge hands it to the check (infra/schedule.py's rules)."""
    return {
        "version": "0",
        "source": "aws.rds",
        "detail-type": "RDS DB Instance Event",
        "resources": [source_arn],
        "detail": {
            "EventCategories": ["failover"],
            "SourceType": "DB_INSTANCE",
            "SourceArn": source_arn,
            "SourceIdentifier": source_arn.rsplit(":", 1)[-1],
            "EventID": event_id,
            "Message": "A Multi-AZ failover has completed.",
        },
    }


def test_setup_made_the_targets_check_schedule_with_its_settings_and_no_secret(checked: Checked):
    schedule = boto3.client("scheduler").get_schedule(GroupName="rds-cdc-check", Name=SCHEDULE)
    given = json.loads(schedule["Target"]["Input"])

    assert schedule["ScheduleExpression"] == "rate(1 hour)" and schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == checked.workflow.state_machine_arn  # the check state machine
    assert schedule["Target"]["RoleArn"].endswith(":role/rds-cdc-setup-check-scheduler")
    # setup's settings as ValidateInput and Preflight made them: the database it found, the heartbeat it chose
    assert given["db_instance_identifier"] == INSTANCE and given["database"] == "orders"
    assert given["schemas"] == ["public", "inventory"] and given["heartbeat"] in ("table", "message")
    assert not {"dry_run", "reboot", "streamkap_api_url", "allow_cidrs"} & set(given)
    assert checked.password not in schedule["Target"]["Input"]  # ARNs and names only


def test_a_lifecycle_event_for_a_prepared_target_runs_its_check_with_the_schedules_settings(checked: Checked):
    stack = checked.stack
    stack.sql("CREATE TABLE public.after_failover (id int PRIMARY KEY)")
    try:
        before = checked.snapshot()
        execution = checked.workflow.run(lifecycle_event(INSTANCE_ARN))
        after = checked.snapshot()
    finally:
        stack.sql("DROP TABLE public.after_failover")

    assert execution.status == "SUCCEEDED", execution.cause
    [check] = execution.output["checks"]
    assert execution.output["status"] == "Checked"
    # the schedule's settings: its schemas (public and inventory), report only (lifecycle_repair false)
    assert check["output"]["target"] == INSTANCE
    assert kinds(Execution("", "", check["output"], None, None, [])) == {
        FindingKind.UNPUBLISHED_TABLE.value: ["public.after_failover"],
        FindingKind.SLOT_INACTIVE.value: ["streamkap_pgoutput_slot"],  # no connector reads it here
    }
    assert check["output"]["changes"] == [] and after == before
    assert "FindPreparedTargets" in execution.states_entered


def test_a_lifecycle_event_for_a_target_setup_did_not_prepare_ends_skipped_changing_nothing(checked: Checked):
    before = checked.snapshot()
    execution = checked.workflow.run(lifecycle_event("arn:aws:rds:us-east-1:123456789012:db:someone-elses"))

    assert execution.status == "SUCCEEDED", execution.cause
    assert execution.output["status"] == "Skipped"
    assert "not prepared by rds-cdc-setup" in execution.output["message"]
    assert "ValidateCheckInput" not in execution.states_entered and checked.snapshot() == before


def test_teardown_drops_the_check_schedule_and_a_second_teardown_finds_none(checked: Checked):
    scheduler = boto3.client("scheduler")
    kept = scheduler.get_schedule(GroupName="rds-cdc-check", Name=SCHEDULE)
    teardown_input = {"db_instance_identifier": INSTANCE, "drop_check_schedule": True}
    try:
        with LocalWorkflow(asl_file=ROOT / "statemachine" / "cdc_teardown.asl.json") as teardown:
            first = teardown.run(teardown_input)
            second = teardown.run(teardown_input)
            names = [s["Name"] for s in scheduler.list_schedules(GroupName="rds-cdc-check")["Schedules"]]
    finally:
        scheduler.create_schedule(
            GroupName="rds-cdc-check",
            Name=SCHEDULE,
            ScheduleExpression=kept["ScheduleExpression"],
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=kept["Target"],
        )

    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED"), first.cause or second.cause
    assert first.output["changes"] == [f"deleted check schedule rds-cdc-check/{SCHEDULE}"]
    assert second.output["changes"] == [] and SCHEDULE not in names


def test_a_blue_green_event_checks_the_prepared_database_its_deployment_names(checked: Checked):
    """The event names the deployment only: FindPreparedTargets reads its source and target (the source is
    the prepared instance before the switchover; after it the green one carries that name)."""
    rds = boto3.client("rds")
    # moto (as RDS long did) refuses a blue/green source whose master password Secrets Manager manages, as the
    # emulated instance's is, and copies a plain password to the green one: so, while the deployment is made
    instance = rds_backends["123456789012"]["us-east-1"].databases[INSTANCE]
    managed = instance.__dict__.pop("master_user_secret")
    instance._master_user_password = "not-used-by-the-check"  # moto's green copy only
    try:
        deployment = rds.create_blue_green_deployment(BlueGreenDeploymentName="orders-upgrade", Source=INSTANCE_ARN)[
            "BlueGreenDeployment"
        ]
    finally:
        instance.master_user_secret = managed
        del instance._master_user_password
    deployment_id = deployment["BlueGreenDeploymentIdentifier"]
    deployment_arn = f"arn:aws:rds:us-east-1:123456789012:deployment:{deployment_id}"
    event = lifecycle_event(deployment_arn, "RDS-EVENT-0248") | {"detail-type": "RDS Blue Green Deployment Event"}
    try:
        before = checked.snapshot()
        execution = checked.workflow.run(event)
        after = checked.snapshot()
    finally:
        rds.delete_blue_green_deployment(BlueGreenDeploymentIdentifier=deployment_id, DeleteTarget=True)

    assert execution.status == "SUCCEEDED", execution.cause
    [check] = execution.output["checks"]
    assert check["output"]["target"] == INSTANCE and check["output"]["changes"] == [] and after == before


def test_a_slot_whose_wal_the_server_removed_is_slot_wal_status_lost_and_needs_a_snapshot(checked: Checked):
    """Last in the module: the slot is lost for good, then dropped and recreated by repair."""
    stack, server = checked.stack, checked.stack.server
    kept = server.settings.get("max_slot_wal_keep_size")
    server.apply(max_slot_wal_keep_size="1MB")  # as a small bound in the parameter group would
    admin = server.connect_admin("orders")
    try:
        for batch in range(4):  # four 16 MB segments past the idle slot, then a checkpoint removes them
            stack.sql("INSERT INTO public.orders SELECT i, 'wal', 1.00 FROM generate_series(:a::int, :b::int) i",
                      a=10_000 + batch * 1000, b=10_999 + batch * 1000)  # fmt: skip
            admin.run("SELECT pg_switch_wal()")
        admin.run("CHECKPOINT")
        before = checked.snapshot()
        lost = checked.run()
        after = checked.snapshot()
    finally:
        admin.close()
        stack.sql("DELETE FROM public.orders WHERE id >= 10000")
        server.apply(max_slot_wal_keep_size=kept or "-1")

    assert lost.status == "SUCCEEDED", lost.cause
    [finding] = [f for f in lost.output["findings"] if f["kind"] == "slot_wal_status"]
    assert finding["subject"] == "streamkap_pgoutput_slot" and finding["snapshot"] is True
    assert "wal_status lost" in finding["detail"] and "pg_drop_replication_slot" in finding["detail"]
    assert lost.output["snapshot_needed"] is True and "SNAPSHOT NEEDED" in lost.output["message"]
    assert after == before  # a report: nothing dropped, nothing recreated

    # What the finding says to do: drop it by hand, then repair recreates it as setup would.
    stack.sql("SELECT pg_drop_replication_slot('streamkap_pgoutput_slot')")
    repaired = checked.run(repair=True)
    assert repaired.status == "SUCCEEDED", repaired.cause
    assert repaired.output["repaired"] == ["slot"] and kinds(repaired).keys() == {"slot_missing"}
    assert stack.sql("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'streamkap_pgoutput_slot'") == [
        ["reserved"]
    ]
