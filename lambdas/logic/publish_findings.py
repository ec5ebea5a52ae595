"""PublishFindings: a check's findings out as CloudWatch metrics, and as one notification when they
changed since the target's last check.

- Metrics: one per finding kind (FindingKind.metric_name), value = the run's findings of that kind,
  zeros included (an alarm or a graph sees "back to clean"), the target as dimension.
- Change: the findings' fingerprint is a digest of the sorted (kind, subject) pairs, not of their
  details (retained bytes, inactive since) which vary from run to run. The last run's is kept per
  target; no record counts as clean (a first clean check says nothing, a first one with findings
  does). When it differs, one notification names what appeared and what cleared ("all clear" when
  nothing is left), the loud snapshot line first; then, and only then, the new fingerprint is
  written: a crash in between sends the notice again, never loses it.

The rules are pure (tests/unit/test_publish_findings.py); publish_findings applies them through ports."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lambdas.dal.findings import Recorded
from lambdas.shared.check_models import CheckOutput, Finding, FindingKind, PublishResult
from lambdas.shared.names import CHECK_METRICS_DIMENSION, CHECK_METRICS_NAMESPACE, CHECK_RECORD_KEY_PREFIX
from lambdas.shared.steps import Workflow

# The pairs kept beside the fingerprint to say what cleared, at most this much text (a DynamoDB item
# holds 400 KB); beyond it only the fingerprint is kept, and the next notice cannot list what cleared.
RECORDED_TEXT_LIMIT = 300_000
# Lines a notice lists per section (an SNS message holds 256 KB); the rest are counted.
NOTICE_LINES = 100

Pair = tuple[str, str]


class MetricsPort(Protocol):
    def put(self, data: list[dict[str, Any]]) -> None: ...


class RecordsPort(Protocol):
    def get(self, key: str) -> Recorded | None: ...
    def put(self, key: str, recorded: Recorded, *, previous: str | None, execution_arn: str, at: int) -> bool: ...


Notify = Callable[[str, dict[str, Any]], bool]


# ---- the rules (pure) ------------------------------------------------------------------------------


def findings_target(target: str) -> str:
    """The metric dimension and record key of a target: RDS identifiers are case-insensitive (lowered);
    a self-managed host:port/database is kept as given (a database name is not)."""
    return target if "/" in target else target.lower()


def record_key(target: str) -> str:
    return CHECK_RECORD_KEY_PREFIX + findings_target(target)


def metric_data(report: CheckOutput) -> list[dict[str, Any]]:
    """One value per finding kind, zeros included."""
    dimensions = [{"Name": CHECK_METRICS_DIMENSION, "Value": findings_target(report.target)}]
    return [
        {
            "MetricName": kind.metric_name,
            "Dimensions": dimensions,
            "Value": report.counts.get(kind.value, 0),
            "Unit": "Count",
        }
        for kind in FindingKind
    ]


def pairs(findings: list[Finding]) -> list[Pair]:
    """The findings as sorted, distinct (kind, subject) pairs: what they are about, not their details."""
    return sorted({(finding.kind.value, finding.subject) for finding in findings})


def fingerprint(found: list[Pair]) -> str:
    return hashlib.sha256(json.dumps(found).encode()).hexdigest()


def to_record(found: list[Pair]) -> Recorded:
    fits = sum(len(kind) + len(subject) for kind, subject in found) <= RECORDED_TEXT_LIMIT
    return Recorded(fingerprint=fingerprint(found), pairs=found if fits else None)


CLEAN = to_record([])  # no record yet counts as clean


@dataclass(frozen=True)
class Change:
    appeared: list[Finding]  # new since the last run, in the report's order
    cleared: list[Pair] | None  # None: the last run's findings were too many to keep


def change(previous: Recorded | None, report: CheckOutput) -> Change | None:
    """What changed since the last run; None if nothing did."""
    last = previous or CLEAN
    now = pairs(report.findings)
    if fingerprint(now) == last.fingerprint:
        return None
    known = set(last.pairs or [])
    appeared, seen = [], set()
    for finding in report.findings:
        pair = (finding.kind.value, finding.subject)
        if pair not in known and pair not in seen:
            appeared.append(finding)
            seen.add(pair)
    cleared = None if last.pairs is None else sorted(set(last.pairs) - set(now))
    return Change(appeared=appeared, cleared=cleared)


def snapshot_line(report: CheckOutput) -> str | None:
    lost = sorted({f.subject for f in report.findings if f.snapshot})
    if not lost:
        return None
    line = (
        f"SNAPSHOT NEEDED on {report.target}: {', '.join(lost)} {'was' if len(lost) == 1 else 'were'} lost; "
        "the connector cannot resume where it stopped and must take a new snapshot"
    )
    if report.repaired:
        return f"{line} (recreated: {', '.join(report.repaired)})"
    return f"{line}. repair: true recreates what setup made, as setup would"


def _capped(lines: list[str]) -> list[str]:
    if len(lines) <= NOTICE_LINES:
        return lines
    return [*lines[:NOTICE_LINES], f"... and {len(lines) - NOTICE_LINES} more"]


def notice(report: CheckOutput, changed: Change, execution_arn: str) -> tuple[str, dict[str, Any]]:
    """The notification's subject and body: the snapshot line first, then what appeared and cleared."""
    workflow = Workflow.CHECK.state_machine_name
    loud = snapshot_line(report)
    if loud:
        subject = f"{workflow} SNAPSHOT NEEDED: {report.target}"
    elif not report.findings:
        subject = f"{workflow} all clear: {report.target}"
    else:
        subject = f"{workflow} findings changed: {report.target}"
    cleared = changed.cleared
    if not report.findings:
        summary = f"{report.target}: all clear, the findings of the last check are gone."
    else:
        went = "an unknown number" if cleared is None else str(len(cleared))
        summary = (
            f"{report.target}: {len(changed.appeared)} finding(s) appeared, {went} cleared since the last check; "
            f"{len(report.findings)} now."
        )
    body: dict[str, Any] = {"snapshot_needed": loud} if loud else {}
    body |= {
        "summary": summary,
        "target": report.target,
        "status": report.status,
        "appeared": _capped([f"{f.kind} {f.subject} ({f.severity}): {f.detail}" for f in changed.appeared]),
        "cleared": (
            _capped([f"{kind} {subject}" for kind, subject in cleared])
            if cleared is not None
            else ["(not known: the last check's findings were too many to keep)"]
        ),
        "counts": {kind: count for kind, count in report.counts.items() if count},
        "execution": execution_arn,
    }
    if report.changes:
        body["changes"] = report.changes
    return subject, body


# ---- the step ----------------------------------------------------------------------------------------


def publish_findings(
    report: CheckOutput,
    execution_arn: str,
    *,
    metrics: MetricsPort,
    records: RecordsPort,
    notify: Notify,
    now: int,
) -> PublishResult:
    data = metric_data(report)
    metrics.put(data)
    key = record_key(report.target)
    previous = records.get(key)
    changed = change(previous, report)
    result = PublishResult(namespace=CHECK_METRICS_NAMESPACE, metrics=len(data), changed=changed is not None)
    if changed is None:
        return result
    subject, body = notice(report, changed, execution_arn)
    result.notified = notify(subject, body)
    # After the notice: a crash before this line sends it again next time, never loses it. Lost to
    # another check of the target that wrote first: that one's notice went out.
    records.put(
        key,
        to_record(pairs(report.findings)),
        previous=previous.fingerprint if previous else None,
        execution_arn=execution_arn,
        at=now,
    )
    result.appeared = [f"{f.kind} {f.subject}" for f in changed.appeared]
    result.cleared = [f"{kind} {subject}" for kind, subject in changed.cleared or []]
    return result
