"""publication_mode (tables / schemas / all_tables): the statements, the trial, the version rule, the
replica identity scope and the refusal to switch modes, on synthetic catalog states (no database)."""

from __future__ import annotations

import pytest

from lambdas.dal.sql import CatalogState, Relation
from lambdas.handlers.validate_input import parse_input
from lambdas.logic.report import export_query
from lambdas.shared.errors import (
    InsufficientPrivilege,
    InvalidInput,
    PublicationConflict,
    ReplicaIdentityMissing,
)
from lambdas.shared.models import SetupInput
from tests.unit.test_database_plan import READY, SETUP, STOCK, plan, server, statements, with_

ALL_TABLES = SETUP.model_copy(update={"publication_mode": "all_tables"})
SCHEMAS = SETUP.model_copy(update={"publication_mode": "schemas"})
MARKER = "COMMENT ON PUBLICATION \"streamkap_pub\" IS 'rds-cdc-setup: Streamkap CDC publication'"


def keyless(schema: str, name: str, *, owned: bool = True) -> Relation:
    return Relation(90, schema, name, "r", False, False, "d", False, owned, "app")


def publication_change(changes):
    [change] = [c for c in changes if "PUBLICATION" in " ".join(c.statements)]
    return change


def test_tables_mode_lists_the_tables_and_needs_no_trial():
    changes = plan(STOCK, SETUP)
    assert publication_change(changes).statements[0].startswith('CREATE PUBLICATION "streamkap_pub" FOR TABLE ')
    assert all(c.trial is None for c in changes)


def test_all_tables_creates_for_all_tables_and_tries_exactly_that_statement():
    change = publication_change(plan(STOCK, ALL_TABLES))
    create = 'CREATE PUBLICATION "streamkap_pub" FOR ALL TABLES WITH (publish_via_partition_root = true)'
    assert change.statements == (create, MARKER)
    assert change.trial == create
    assert "publication_mode all_tables" in change.description and "the tables CSV lists those of public" in (
        change.description
    )


def test_all_tables_below_13_has_no_partition_root_option():
    change = publication_change(plan(STOCK, ALL_TABLES, server(major=12)))
    assert change.statements[0] == 'CREATE PUBLICATION "streamkap_pub" FOR ALL TABLES'


def test_schemas_publishes_the_captured_and_the_signal_schema_and_tries_those_that_exist():
    # Given a stock database: the signal schema is created by this run, so the trial cannot name it yet
    change = publication_change(plan(STOCK, SCHEMAS))
    assert change.statements[0] == (
        'CREATE PUBLICATION "streamkap_pub" FOR TABLES IN SCHEMA "public", "streamkap" '
        "WITH (publish_via_partition_root = true)"
    )
    assert change.trial == (
        'CREATE PUBLICATION "streamkap_pub" FOR TABLES IN SCHEMA "public" WITH (publish_via_partition_root = true)'
    )
    assert "publication_mode schemas" in change.description


@pytest.mark.parametrize("major", [10, 13, 14])
def test_schemas_below_15_is_invalid_input_naming_the_version(major: int):
    with pytest.raises(InvalidInput, match=rf"needs PostgreSQL 15 or later; this server runs PostgreSQL {major}0004"):
        plan(STOCK, SCHEMAS, server(major=major))


def test_all_tables_checks_replica_identity_outside_the_captured_schemas():
    state = with_(STOCK, outside_relations=(keyless("audit", "log"),))
    with pytest.raises(ReplicaIdentityMissing, match=r"publishes every table of the database\): audit\.log"):
        plan(state, ALL_TABLES)
    # the same table is none of a tables-mode publication's business (the catalog read leaves it out then)
    assert plan(with_(STOCK, outside_relations=()), SETUP)


def test_full_under_all_tables_alters_an_owned_table_outside_and_refuses_one_not_owned():
    owned = with_(STOCK, outside_relations=(keyless("audit", "log"),))
    full = ALL_TABLES.model_copy(update={"replica_identity": "full"})
    assert 'ALTER TABLE "audit"."log" REPLICA IDENTITY FULL' in statements(plan(owned, full))

    foreign = with_(STOCK, outside_relations=(keyless("audit", "log", owned=False),))
    with pytest.raises(InsufficientPrivilege, match="table audit.log.*publication_mode tables publishes only those"):
        plan(foreign, full)


def test_all_tables_needs_no_ownership_of_the_tables_it_publishes():
    # Given tables the CDC role may read already, owned by a role the master user is no member of
    unowned = with_(
        READY,
        relations=tuple(Relation(**{**r.__dict__, "owned": False}) for r in READY.relations),
        publication_exists=False,
        publication_tables=frozenset(),
    )
    # Then a listed publication needs their ownership; FOR ALL TABLES is the server's to allow (the trial)
    with pytest.raises(InsufficientPrivilege, match="table public.orders"):
        plan(unowned, SETUP)
    assert publication_change(plan(unowned, ALL_TABLES)).trial is not None


@pytest.mark.parametrize(
    ("existing", "wanted", "clause"),
    [
        ({}, ALL_TABLES, "FOR TABLE a list"),
        ({"publication_all_tables": True, "publication_tables": frozenset()}, SETUP, "FOR ALL TABLES"),
        (
            {"publication_schemas": frozenset({"public", "streamkap"}), "publication_tables": frozenset()},
            ALL_TABLES,
            "FOR TABLES IN SCHEMA",
        ),
    ],
)
def test_a_publication_of_ours_in_another_mode_is_a_conflict_saying_how_to_switch(existing, wanted, clause):
    with pytest.raises(PublicationConflict) as refused:
        plan(with_(READY, **existing), wanted)
    message = str(refused.value)
    assert clause in message and f"asks for publication_mode {wanted.publication_mode}" in message
    assert "teardown with drop_publication" in message


def test_an_all_tables_publication_of_ours_needs_nothing_more():
    ready = with_(READY, publication_all_tables=True, publication_tables=frozenset())
    assert plan(ready, ALL_TABLES) == []


def test_a_schemas_publication_gets_a_missing_schema_added_and_tried():
    state = with_(READY, schemas={**READY.schemas, "inventory": frozenset({"USAGE"})}, publication_tables=frozenset())
    state = with_(state, publication_schemas=frozenset({"public", "streamkap"}))
    wider = SCHEMAS.model_copy(update={"schemas": ["public", "inventory"]})
    changes = plan(with_(state, default_select=state.default_select | {("master", "inventory")}), wider)
    [change] = changes
    assert change.statements == ('ALTER PUBLICATION "streamkap_pub" ADD TABLES IN SCHEMA "inventory"',)
    assert change.trial == change.statements[0]


def test_a_schemas_publication_holding_another_schema_is_a_conflict():
    state = with_(READY, publication_schemas=frozenset({"public", "streamkap", "hr"}), publication_tables=frozenset())
    with pytest.raises(PublicationConflict, match="hr"):
        plan(state, SCHEMAS)


def test_tables_with_a_whole_schema_or_database_mode_is_invalid_input():
    with pytest.raises(InvalidInput, match="tables goes with publication_mode tables"):
        parse_input(
            {"db_instance_identifier": "orders-prod", "tables": ["public.orders"], "publication_mode": "schemas"}
        )
    with pytest.raises(InvalidInput, match="publication_mode"):
        parse_input({"db_instance_identifier": "orders-prod", "publication_mode": "everything"})


def test_the_export_of_a_large_csv_keeps_to_the_captured_schemas_unless_the_tables_are_listed():
    setup = SetupInput(db_instance_identifier="orders-prod", schemas=["public", "inventory"], heartbeat="table")
    assert "schemaname IN" not in export_query(setup)
    for mode in ("schemas", "all_tables"):
        query = export_query(setup.model_copy(update={"publication_mode": mode}))
        assert "AND schemaname IN ('public', 'inventory') " in query


def test_the_existing_publications_mode_is_read_from_the_catalog():
    assert CatalogState(database="d").publication_mode is None
    assert with_(READY, publication_all_tables=True).publication_mode == "all_tables"
    assert with_(READY, publication_schemas=frozenset({"public"})).publication_mode == "schemas"
    assert READY.publication_mode == "tables"
