"""Names and prefixes have one home (lambdas/shared/names.py) that infra/, lambdas/ and local/ import."""

from __future__ import annotations

import ast
from pathlib import Path

from lambdas.shared import names

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for folder in ("infra", "lambdas", "local", "cli") for p in (ROOT / folder).rglob("*.py")]


def spelled_names(path: Path) -> list[str]:
    """String literals (f-string parts included) that spell one of the project's name prefixes."""
    prefixes = (names.SECRET_NAME_PREFIX, names.ALARM_NAME_PREFIX)
    return [
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(prefixes)
    ]


def test_no_module_but_names_spells_a_prefix() -> None:
    spelled = {str(p.relative_to(ROOT)): spelled_names(p) for p in SOURCES if p.name != "names.py"}
    assert {path: found for path, found in spelled.items() if found} == {}


def test_the_finder_sees_a_spelled_prefix(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('SECRET = f"rds-cdc-setup/{x}"\nOTHER = "rds-cdc-setup-locks"\nFINE = "rds-cdc-setup"\n')
    assert sorted(spelled_names(probe)) == ["rds-cdc-setup-locks", "rds-cdc-setup/"]


def test_setup_and_teardown_default_to_the_guides_names() -> None:
    from lambdas.shared.models import SetupInput
    from lambdas.shared.teardown_models import TeardownInput

    guide = {
        "signal_table_schema": "streamkap",
        "user_name": "streamkap_user",
        "role_name": "streamkap_role",
        "publication_name": "streamkap_pub",
        "slot_name": "streamkap_pgoutput_slot",
    }
    setup = SetupInput(db_instance_identifier="orders")
    teardown = TeardownInput(db_instance_identifier="orders", drop_slot=True)
    assert {key: getattr(setup, key) for key in guide} == guide
    assert {key: getattr(teardown, key) for key in guide} == guide
