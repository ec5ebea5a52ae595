"""The check's finding rules (lambdas/logic/check.py) as pure functions, and its input: what the real
server in tests/workflow/test_check.py cannot easily be made to show (a lost slot, PostgreSQL 17's
inactive_since, wal_level replica with a slot), and the report's words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambdas.dal.sql import ServerInfo, SlotInfo
from lambdas.handlers.validate_check_input import parse_input
from lambdas.logic.check import parameter_findings, report_check, server_findings, slot_findings
from lambdas.shared.check_models import CheckInput, CheckState, DatabaseCheck, Finding, FindingKind, RepairResult
from lambdas.shared.errors import InvalidInput
from lambdas.shared.models import Target

CHECK = CheckInput(db_instance_identifier="orders-prod", database="orders")
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TARGET = Target(
    instance_id="orders-prod",
    engine="postgres",
    engine_version="15.4",
    major_version=15,
    status="available",
    parameter_group="orders-prod-streamkap-cdc",
    parameter_group_family="postgres15",
    parameter_apply_status="in-sync",
    host="h",
    port=5432,
    database="orders",
    master_secret_arn="arn:aws:secretsmanager:us-east-1:1:secret:rds!db-1",
)


def slot(**overrides) -> SlotInfo:
    fields = dict(plugin="pgoutput", slot_type="logical", database="orders", active=True, retained_bytes=100)
    return SlotInfo(**{**fields, **overrides})  # type: ignore[arg-type]


def kinds(findings: list[Finding]) -> list[str]:
    return [f.kind.value for f in findings]


def test_each_kind_has_a_stable_name_and_its_metric_name() -> None:
    assert FindingKind.UNPUBLISHED_TABLE.metric_name == "UnpublishedTable"
    assert FindingKind.SLOT_WAL_STATUS.metric_name == "SlotWalStatus"
    assert len({k.metric_name for k in FindingKind}) == len(FindingKind) == 13


def test_a_misspelt_key_is_invalid_input_naming_the_close_one_and_dry_run_is_refused() -> None:
    with pytest.raises(InvalidInput, match="polcy: unknown key; did you mean policy?"):
        parse_input({"db_instance_identifier": "orders-prod", "polcy": "publish"})
    with pytest.raises(InvalidInput, match="dry_run is setup's"):
        parse_input({"db_instance_identifier": "orders-prod", "dry_run": True})
    assert parse_input({"db_instance_identifier": "orders-prod"}).policy == "report"


def test_the_retained_threshold_defaults_to_setups_slot_lag_alarm() -> None:
    assert CHECK.retained_threshold_bytes == 5 * 1024**3
    assert CHECK.model_copy(update={"slot_retained_gib": 0.5}).retained_threshold_bytes == 512 * 1024**2


def test_an_active_slot_within_bounds_is_no_finding() -> None:
    assert slot_findings(slot(), recorded=True, check=CHECK, database="orders", now=NOW) == []


@pytest.mark.parametrize(
    ("found", "recorded"),
    [(None, False), (slot(), False), (slot(plugin="wal2json"), True), (slot(database="other"), True)],
    ids=["absent", "not-recorded", "other-plugin", "other-database"],
)
def test_a_slot_that_is_gone_or_not_ours_is_slot_missing_and_needs_a_snapshot(found, recorded) -> None:
    [finding] = slot_findings(found, recorded=recorded, check=CHECK, database="orders", now=NOW)
    assert (finding.kind, finding.severity, finding.snapshot) == (FindingKind.SLOT_MISSING, "critical", True)


def test_an_inactive_slot_says_since_when_on_17_and_that_it_cannot_before() -> None:
    [on_17] = slot_findings(
        slot(active=False, inactive_since="2025-06-01T09:30:00+00:00"),
        recorded=True,
        check=CHECK,
        database="orders",
        now=NOW,
    )
    [before_17] = slot_findings(slot(active=False), recorded=True, check=CHECK, database="orders", now=NOW)
    assert on_17.kind is before_17.kind is FindingKind.SLOT_INACTIVE
    assert "since 2025-06-01T09:30:00+00:00 (2 h 30 min)" in on_17.detail
    assert "PostgreSQL before 17 does not record since when" in before_17.detail


def test_wal_status_lost_needs_a_snapshot_and_unreserved_names_its_safe_size() -> None:
    [lost] = slot_findings(slot(wal_status="lost"), recorded=True, check=CHECK, database="orders", now=NOW)
    [unreserved] = slot_findings(
        slot(wal_status="unreserved", safe_wal_size=-4096), recorded=True, check=CHECK, database="orders", now=NOW
    )
    assert lost.kind is unreserved.kind is FindingKind.SLOT_WAL_STATUS
    assert lost.snapshot and "pg_drop_replication_slot('streamkap_pgoutput_slot')" in lost.detail
    assert not unreserved.snapshot and "safe_wal_size -4096 bytes" in unreserved.detail
    assert slot_findings(slot(wal_status="extended"), recorded=True, check=CHECK, database="orders", now=NOW) == []


def test_retained_wal_above_the_threshold_only() -> None:
    at = CHECK.retained_threshold_bytes
    assert slot_findings(slot(retained_bytes=at), recorded=True, check=CHECK, database="orders", now=NOW) == []
    [above] = slot_findings(
        slot(retained_bytes=at + 1, safe_wal_size=2 * 1024**3), recorded=True, check=CHECK, database="orders", now=NOW
    )
    assert above.kind is FindingKind.SLOT_RETAINED_BYTES and "2.0 GiB more before it is lost" in above.detail


def test_wal_level_not_logical_is_logical_replication_off() -> None:
    server = ServerInfo(150004, "replica", "postgres", False, True, True, 10, 10, 1)
    [finding] = server_findings(server, TARGET)
    assert (finding.kind, finding.subject) == (FindingKind.LOGICAL_REPLICATION_OFF, "orders-prod")
    assert server_findings(ServerInfo(150004, "logical", "postgres", False, True, True, 10, 10, 1), TARGET) == []


def test_parameter_findings_from_the_group_the_instance_and_setups_plan() -> None:
    def found(values: dict[str, str], status: str = "in-sync", plan: list[str] | None = None) -> list[str]:
        return kinds(
            parameter_findings(
                where="instance x",
                kind="parameter group",
                group="g",
                values=values,
                apply_status=status,
                plan=plan or [],
            )
        )

    ready = {"rds.logical_replication": "1", "wal_sender_timeout": "0"}
    assert found(ready) == []
    assert found({}) == ["logical_replication_off", "wal_sender_timeout"]
    assert found({**ready, "wal_sender_timeout": "60000"}) == ["wal_sender_timeout"]
    assert found(ready, "pending-reboot") == ["parameter_pending_reboot"]
    assert found(ready, plan=["set max_slot_wal_keep_size=2048 in parameter group g"]) == ["parameter_drift"]


def state(findings: list[Finding], repair: RepairResult | None = None) -> CheckState:
    database = DatabaseCheck(
        findings=findings, server_version_num=150004, publication_ours=True, slot_ours=True, unpublished_tables=0
    )
    return CheckState(input=CHECK, target=TARGET, database=database, repair=repair)


def test_the_report_counts_every_kind_and_says_loudly_when_a_snapshot_is_needed() -> None:
    clean = report_check(state([]))
    assert (clean.status, clean.snapshot_needed, clean.message) == (
        "Clean",
        False,
        "orders-prod: no findings; nothing was changed.",
    )
    assert set(clean.counts) == {k.value for k in FindingKind} and not any(clean.counts.values())

    lost = slot_findings(None, recorded=False, check=CHECK, database="orders", now=NOW)
    reported = report_check(state(lost))
    assert reported.counts["slot_missing"] == 1 and reported.snapshot_needed
    assert "SNAPSHOT NEEDED: streamkap_pgoutput_slot was lost" in reported.message
    assert reported.message.endswith("repair: true recreates what setup made, as setup would.")

    repaired = report_check(state(lost, RepairResult(changes=["created replication slot s"], repaired=["slot"])))
    assert repaired.findings == reported.findings and repaired.repaired == ["slot"]
    assert repaired.changes == ["created replication slot s"] and repaired.message.endswith("(recreated: slot).")
