"""PublishFindings' rules (lambdas/logic/publish_findings.py), pure, and the step over fake ports: the
fingerprint, what counts as a change, the notice, and the order of notice and record."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.dal.findings import FindingRecords, Recorded
from lambdas.dal.locks import Lease, Locks
from lambdas.handlers import notify_check_failure
from lambdas.logic import publish_findings as pf
from lambdas.shared.check_models import CheckOutput, Finding, FindingKind
from lambdas.shared.names import CHECK_METRICS_NAMESPACE
from local.workflow_runner import create_lock_table
from tests.unit.test_step import FakeContext

K = FindingKind
ARN = "arn:aws:states:us-east-1:123456789012:execution:rds-cdc-check:run-1"


def finding(kind: FindingKind, subject: str, detail: str = "found", **more: Any) -> Finding:
    return Finding(kind=kind, subject=subject, detail=detail, **more)


def report(*findings: Finding, target: str = "orders-prod", **more: Any) -> CheckOutput:
    counts = {kind.value: sum(f.kind is kind for f in findings) for kind in FindingKind}
    return CheckOutput(
        status="Findings" if findings else "Clean",
        target=target,
        findings=list(findings),
        counts=counts,
        message="m",
        snapshot_needed=any(f.snapshot for f in findings),
        **more,
    )


LATE = finding(K.UNPUBLISHED_TABLE, "public.late")
NOKEY = finding(K.REPLICA_IDENTITY, "public.nokey")
SLOT = finding(K.SLOT_MISSING, "streamkap_pgoutput_slot", severity="critical", snapshot=True)
PUB = finding(K.PUBLICATION_MISSING, "streamkap_pub", severity="critical", snapshot=True)


def recorded(*findings: Finding) -> Recorded:
    return pf.to_record(pf.pairs(list(findings)))


def changed(previous: Recorded | None, now: CheckOutput) -> pf.Change:
    found = pf.change(previous, now)
    assert found is not None
    return found


# ---- the rules ------------------------------------------------------------------------------------


def test_one_metric_per_kind_zeros_included_with_the_target_as_dimension():
    data = pf.metric_data(report(LATE, finding(K.UNPUBLISHED_TABLE, "public.other"), target="Orders-Prod"))
    assert [d["MetricName"] for d in data] == [kind.metric_name for kind in FindingKind]
    values = {d["MetricName"]: d["Value"] for d in data}
    assert values["UnpublishedTable"] == 2 and values["SlotMissing"] == 0 and sum(values.values()) == 2
    assert all(d["Dimensions"] == [{"Name": "Target", "Value": "orders-prod"}] and d["Unit"] == "Count" for d in data)


def test_rds_identifiers_are_one_target_whatever_their_case_a_self_managed_database_is_kept_as_given():
    assert pf.record_key("Orders-Prod") == pf.record_key("orders-prod") == "check#orders-prod"
    assert pf.findings_target("db.example.com:5432/Orders") == "db.example.com:5432/Orders"


def test_the_fingerprint_is_of_kinds_and_subjects_not_details_or_order():
    varying = finding(K.SLOT_RETAINED_BYTES, "streamkap_pgoutput_slot", "holds 1.2 GiB")
    again = finding(K.SLOT_RETAINED_BYTES, "streamkap_pgoutput_slot", "holds 3.4 GiB")
    assert pf.fingerprint(pf.pairs([LATE, varying])) == pf.fingerprint(pf.pairs([again, LATE]))
    assert pf.fingerprint(pf.pairs([LATE])) != pf.fingerprint(pf.pairs([NOKEY]))
    assert pf.change(recorded(LATE, varying), report(again, LATE)) is None


def test_a_first_clean_check_is_no_change_a_first_one_with_findings_is():
    assert pf.change(None, report()) is None
    first = pf.change(None, report(LATE, NOKEY))
    assert first is not None and first.appeared == [LATE, NOKEY] and first.cleared == []


def test_what_appeared_and_what_cleared():
    changed = pf.change(recorded(LATE, NOKEY), report(NOKEY, SLOT))
    assert changed is not None
    assert changed.appeared == [SLOT]
    assert changed.cleared == [("unpublished_table", "public.late")]


def test_clean_after_findings_is_all_clear():
    changed = pf.change(recorded(LATE), report())
    assert changed is not None and changed.appeared == [] and changed.cleared == [("unpublished_table", "public.late")]
    subject, body = pf.notice(report(), changed, ARN)
    assert subject == "rds-cdc-check all clear: orders-prod"
    assert body["summary"].startswith("orders-prod: all clear") and body["cleared"] == ["unpublished_table public.late"]
    assert "snapshot_needed" not in body and body["status"] == "Clean" and body["counts"] == {}


def test_the_snapshot_line_comes_first_and_says_whether_repair_recreated_it():
    lost = report(PUB, SLOT, LATE)
    subject, body = pf.notice(lost, changed(None, lost), ARN)
    assert subject == "rds-cdc-check SNAPSHOT NEEDED: orders-prod"
    assert next(iter(body)) == "snapshot_needed"  # the loud line first
    assert body["snapshot_needed"].startswith("SNAPSHOT NEEDED on orders-prod: streamkap_pgoutput_slot, streamkap_pub")
    assert "repair: true" in body["snapshot_needed"]
    assert body["appeared"][0] == "publication_missing streamkap_pub (critical): found"
    assert body["counts"] == {"unpublished_table": 1, "publication_missing": 1, "slot_missing": 1}
    repaired = report(PUB, SLOT, repaired=["publication", "slot"], changes=["create publication streamkap_pub"])
    _, body = pf.notice(repaired, changed(None, repaired), ARN)
    assert body["snapshot_needed"].endswith("(recreated: publication, slot)")
    assert body["changes"] == ["create publication streamkap_pub"]


def test_a_notice_names_what_changed_and_caps_long_lists():
    many = [finding(K.UNPUBLISHED_TABLE, f"public.t{i:03}") for i in range(pf.NOTICE_LINES + 5)]
    now = report(*many)
    subject, body = pf.notice(now, changed(recorded(LATE), now), ARN)
    assert subject == "rds-cdc-check findings changed: orders-prod"
    assert len(body["appeared"]) == pf.NOTICE_LINES + 1 and body["appeared"][-1] == "... and 5 more"
    assert (
        body["summary"]
        == f"orders-prod: {len(many)} finding(s) appeared, 1 cleared since the last check; {len(many)} now."
    )
    assert body["execution"] == ARN


def test_findings_too_many_to_keep_keep_only_their_fingerprint_and_the_next_notice_says_so():
    huge = [finding(K.UNPUBLISHED_TABLE, "public." + "x" * 60 + str(i)) for i in range(pf.RECORDED_TEXT_LIMIT // 60)]
    kept = pf.to_record(pf.pairs(huge))
    assert kept.pairs is None and kept.fingerprint == pf.fingerprint(pf.pairs(huge))
    changed = pf.change(kept, report(LATE))
    assert changed is not None and changed.cleared is None and changed.appeared == [LATE]
    _, body = pf.notice(report(LATE), changed, ARN)
    assert body["cleared"] == ["(not known: the last check's findings were too many to keep)"]
    assert "an unknown number cleared" in body["summary"]


# ---- the step over fake ports ---------------------------------------------------------------------


class Ports:
    def __init__(self, record: Recorded | None = None, *, notify_fails: bool = False, lose_race: bool = False):
        self.record, self.notify_fails, self.lose_race = record, notify_fails, lose_race
        self.calls: list[str] = []
        self.metrics: list[list[dict[str, Any]]] = []
        self.notices: list[tuple[str, dict[str, Any]]] = []

    def put(self, data: list[dict[str, Any]]) -> None:  # MetricsPort
        self.calls.append("metrics")
        self.metrics.append(data)

    def get(self, key: str) -> Recorded | None:
        self.calls.append(f"get {key}")
        return self.record

    def put_record(self, key: str, recorded: Recorded, *, previous: str | None, execution_arn: str, at: int) -> bool:
        self.calls.append(f"put {key} previous={previous}")
        if self.lose_race:
            return False
        self.record = recorded
        return True

    def notify(self, subject: str, body: dict[str, Any]) -> bool:
        self.calls.append("notify")
        if self.notify_fails:
            raise RuntimeError("SNS is down")
        self.notices.append((subject, body))
        return True

    def run(self, checked: CheckOutput):
        class Records:
            get = self.get
            put = self.put_record

        return pf.publish_findings(checked, ARN, metrics=self, records=Records(), notify=self.notify, now=1)


def test_metrics_every_run_a_notice_and_then_the_record_only_on_change():
    ports = Ports()
    clean = ports.run(report())
    assert (clean.changed, clean.notified, clean.metrics) == (False, False, len(FindingKind))
    assert clean.namespace == CHECK_METRICS_NAMESPACE
    assert ports.calls == ["metrics", "get check#orders-prod"]  # nothing written for a first clean run

    ports.calls.clear()
    drift = ports.run(report(LATE))
    assert drift.changed and drift.notified and drift.appeared == ["unpublished_table public.late"]
    assert ports.calls == ["metrics", "get check#orders-prod", "notify", "put check#orders-prod previous=None"]

    ports.calls.clear()
    same = ports.run(report(LATE))
    assert not same.changed and ports.calls == ["metrics", "get check#orders-prod"] and len(ports.notices) == 1

    fixed = ports.run(report())
    assert fixed.changed and fixed.cleared == ["unpublished_table public.late"] and fixed.appeared == []
    assert ports.notices[-1][0] == "rds-cdc-check all clear: orders-prod"
    assert ports.record == pf.CLEAN


def test_a_notice_that_fails_leaves_the_record_so_the_next_run_sends_it_again():
    ports = Ports(notify_fails=True)
    with pytest.raises(RuntimeError):
        ports.run(report(LATE))
    assert ports.record is None and "put" not in " ".join(ports.calls)
    ports.notify_fails = False
    assert ports.run(report(LATE)).notified and ports.record == recorded(LATE)


def test_a_record_another_check_wrote_first_is_not_overwritten_and_is_no_error():
    ports = Ports(recorded(NOKEY), lose_race=True)
    result = ports.run(report(LATE))
    assert result.notified and ports.record == recorded(NOKEY)
    assert ports.calls[-1] == f"put check#orders-prod previous={recorded(NOKEY).fingerprint}"


# ---- the record port on moto's DynamoDB ------------------------------------------------------------


def test_the_record_keeps_pairs_beside_a_lease_and_is_written_only_over_the_record_read():
    with mock_aws():
        create_lock_table("locks")
        db = boto3.client("dynamodb")
        records, locks = FindingRecords(db, "locks"), Locks(db, "locks")
        assert locks.put_unless_held(Lease("instance:orders-prod", ARN, "check", 1, 2), now=1)
        key, first, second = "check#orders-prod", recorded(LATE), recorded(NOKEY, SLOT)

        assert records.get(key) is None
        assert records.put(key, first, previous=None, execution_arn=ARN, at=1)
        assert records.get(key) == first and first.pairs == [("unpublished_table", "public.late")]
        assert not records.put(key, second, previous=None, execution_arn=ARN, at=2)  # another check wrote first
        assert not records.put(key, second, previous="stale", execution_arn=ARN, at=2)
        assert records.put(key, second, previous=first.fingerprint, execution_arn=ARN, at=2)
        assert records.get(key) == second
        too_many = Recorded(fingerprint="f", pairs=None)
        assert records.put(key, too_many, previous=second.fingerprint, execution_arn=ARN, at=3)
        assert records.get(key) == too_many
        assert locks.get("instance:orders-prod") == Lease("instance:orders-prod", ARN, "check", 1, 2)  # untouched


def test_a_failed_publish_is_notified_naming_the_target_the_report_names(monkeypatch: pytest.MonkeyPatch):
    named: list[str | None] = []

    def report_failure(failure: Any, target: str | None, workflow: str) -> dict[str, str]:
        named.append(target)
        return {"error": failure.error.Error, "message": ""}

    monkeypatch.setattr(notify_check_failure, "report_failure", report_failure)
    error = {"Error": "TransientFailure", "Cause": "{}"}
    # After ReportCheck the state is its output (target: a string); before it, `input` names the target
    # and `target` is DescribeCheckTarget's object
    notify_check_failure.handler({**report(LATE).model_dump(mode="json"), "error": error}, FakeContext())
    notify_check_failure.handler(
        {"input": {"db_instance_identifier": "orders-prod"}, "target": {"endpoint": "x"}, "error": error}, FakeContext()
    )
    assert named == ["orders-prod", "orders-prod"]
