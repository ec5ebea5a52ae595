"""Per step, the granted actions no workflow test used: the workers send their usage to the
controller, which reports it. A plugin of the root conftest (tests/conftest.py), because the
controller of a pytest-xdist run never loads tests/workflow/conftest.py."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from lambdas.shared.steps import STEPS
from local.step_policies import StepPolicies
from tests.infra.template_cache import ROOT

REPORT_DIR = ROOT / ".cache" / "step-policies"

_policies: list[StepPolicies] = []  # this process's, once a workflow test ran
_granted: dict[str, set[str]] = {}  # every process's (the workers' sent to the controller)
_used: dict[str, set[str]] = {}


def _usage() -> dict[str, Any]:
    policies = _policies[0]
    return {
        "granted": {step.name: sorted(policies.granted(step.name)) for step in STEPS},
        "used": {step: sorted(actions) for step, actions in policies.used.items()},
    }


def _merge(usage: dict[str, Any]) -> None:
    for step, actions in usage["granted"].items():
        _granted.setdefault(step, set()).update(actions)
    for step, actions in usage["used"].items():
        _used.setdefault(step, set()).update(actions)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _policies:
        return
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller reports
        workeroutput["step_policies"] = json.dumps(_usage())
    else:
        _merge(_usage())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    usage = getattr(node, "workeroutput", {}).get("step_policies")
    if usage:
        _merge(json.loads(usage))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _granted or hasattr(terminalreporter.config, "workeroutput"):
        return
    unused = {
        step: sorted(_granted[step] - _used.get(step, set()))
        for step in sorted(_granted)
        if _granted[step] - _used.get(step, set())
    }
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    major = os.environ.get("PG_MAJOR")
    report = REPORT_DIR / (f"unused-pg{major}.json" if major else "unused.json")
    report.write_text(json.dumps({"unused": unused, "used": {s: sorted(a) for s, a in _used.items()}}, indent=2))
    count = sum(len(actions) for actions in unused.values())
    terminalreporter.write_line(
        f"step policies: {count} granted actions no test used, in {len(unused)} steps "
        f"({report.relative_to(ROOT)}; kms:* is called by Secrets Manager and SNS on AWS, never by moto)"
    )
