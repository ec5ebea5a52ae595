"""publication_mode on real servers: the CREATE PUBLICATION trial is rolled back whatever it finds (an
RDS-like master is refused, a superuser is allowed), ConfigureDatabase then creates what Preflight tried,
and teardown drops such a publication only when it is ours."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from lambdas.dal.secrets import Secrets
from lambdas.logic import teardown
from lambdas.logic.preflight import preflight
from lambdas.logic.report import export_query, tables_csv
from lambdas.shared.errors import InvalidInput, NotOwned, PublicationModeNotAllowed
from lambdas.shared.teardown_models import TeardownInput
from local.postgres_server import LocalPostgres
from tests.conftest import Names, _ensure_postgres
from tests.integration.conftest import SAMPLE_SCHEMA, Harness, harness_on, run_script
from tests.snapshots import catalog

pytestmark = pytest.mark.integration


def captured_csv(h: Harness, setup) -> str:
    """What the publication holds of the captured schemas, ours left out: the tables CSV's rows on any major
    (PG10-12 publish leaf partitions, 13+ the roots)."""
    return tables_csv([row[0] for row in h.sql(export_query(setup))])


def secret_names() -> list[str]:
    return sorted(s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"])


@pytest.fixture(scope="module")
def superuser_server() -> Iterator[LocalPostgres]:
    """Self-managed: the master is a superuser, so the server lets it create any publication."""
    _ensure_postgres()
    server = LocalPostgres(rds_like=False, settings={"wal_level": "logical"}).init().start()
    yield server
    server.destroy()


@pytest.fixture
def on_superuser(superuser_server: LocalPostgres) -> Iterator[Harness]:
    names = Names()
    superuser_server.create_database(names.database)
    run_script(superuser_server, names.database, SAMPLE_SCHEMA)
    with harness_on(
        superuser_server, names.database, user_name=names.user, role_name=names.role, slot_name=names.slot
    ) as harness:
        yield harness


@pytest.mark.parametrize("mode", ["all_tables", "schemas"])
def test_an_rds_like_master_is_refused_by_a_trial_that_leaves_nothing_behind(harness: Harness, mode: str):
    before, secrets_before = catalog(harness.server, harness.database), secret_names()
    setup = harness.setup.model_copy(update={"publication_mode": mode})

    if mode == "schemas" and harness.server.major_version < 15:  # the PG10-14 runs of the matrix
        with harness.master() as db, pytest.raises(InvalidInput, match="needs PostgreSQL 15 or later"):
            preflight(db, Secrets(), setup, harness.target)
        assert catalog(harness.server, harness.database) == before
        return

    # A real run's Preflight stops at the refusal, saying what would work
    with harness.master() as db, pytest.raises(PublicationModeNotAllowed) as refused:
        preflight(db, Secrets(), setup, harness.target)
    assert "publication_mode tables" in str(refused.value) and "superuser" in str(refused.value)
    assert "tried in a transaction that was rolled back" in str(refused.value)

    # A dry run lists it and goes on over the same connection (the trial left no transaction open)
    with harness.master() as db:
        plan = preflight(db, Secrets(), setup.model_copy(update={"dry_run": True}), harness.target).plan
        in_own_transaction = "SELECT xact_start = query_start FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        assert db.value(in_own_transaction) is True  # no transaction left open: this statement began its own
    assert any(line.startswith("refused (a real run stops here): The master user may not create") for line in plan)
    assert f"create replication slot {setup.slot_name} (pgoutput)" in plan  # the plan goes on past the refusal

    # ConfigureDatabase's own trial (a savepoint) refuses before its secret or any statement
    with pytest.raises(PublicationModeNotAllowed):
        harness.configure(publication_mode=mode)

    assert catalog(harness.server, harness.database) == before and secret_names() == secrets_before


def test_a_superuser_master_is_allowed_and_the_trial_creates_nothing_until_configure(on_superuser: Harness):
    h = on_superuser
    setup = h.setup.model_copy(update={"publication_mode": "all_tables"})
    before = catalog(h.server, h.database)

    with h.master() as db:
        plan = preflight(db, Secrets(), setup, h.target).plan

    assert any(line.startswith(f"create publication {setup.publication_name} FOR ALL TABLES") for line in plan)
    assert not [line for line in plan if line.startswith("refused")]
    assert catalog(h.server, h.database) == before

    configured = h.configure(publication_mode="all_tables")

    assert h.sql("SELECT puballtables FROM pg_publication WHERE pubname = :p", p=setup.publication_name) == [[True]]
    held = h.sql("SELECT count(*)::int FROM pg_publication_tables WHERE pubname = :p", p=setup.publication_name)
    assert configured.published_tables == held[0][0] == configured.user_tables + 2  # + signal, heartbeat
    assert configured.tables_csv == captured_csv(h, setup) and "inventory.stock" in configured.tables_csv


def test_schemas_publishes_the_signal_schema_and_follows_new_tables(on_superuser: Harness):
    h = on_superuser
    if h.server.major_version < 15:  # the PG10-14 runs of the matrix: no FOR TABLES IN SCHEMA
        with pytest.raises(InvalidInput, match="needs PostgreSQL 15 or later"):
            h.configure(publication_mode="schemas")
        return

    configured = h.configure(publication_mode="schemas")

    schemas = h.sql(
        """SELECT n.nspname::text FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid
           JOIN pg_publication p ON p.oid = pn.pnpubid WHERE p.pubname = :p ORDER BY 1""",
        p=h.setup.publication_name,
    )
    assert schemas == [["inventory"], ["public"], ["streamkap"]]
    setup = h.setup.model_copy(update={"publication_mode": "schemas"})
    assert configured.published_tables == 6 and configured.tables_csv == captured_csv(h, setup)
    h.sql("CREATE TABLE public.refunds (id int PRIMARY KEY)")
    published = h.sql(
        "SELECT tablename::text FROM pg_publication_tables WHERE pubname = :p", p=h.setup.publication_name
    )
    assert ["refunds"] in published
    assert h.configure(publication_mode="schemas").changes == []  # a re-run converges


def test_teardown_drops_our_all_tables_publication_and_refuses_someone_elses(on_superuser: Harness):
    h = on_superuser
    h.configure(publication_mode="all_tables")
    t = TeardownInput(
        db_instance_identifier="local-test",
        database=h.database,
        user_name=h.setup.user_name,
        role_name=h.setup.role_name,
        slot_name=h.setup.slot_name,
        drop_publication=True,
    )
    with h.master() as db:
        assert teardown.drop_publication(db, t, h.target) == [f"drop publication {t.publication_name}"]
    assert h.sql("SELECT count(*)::int FROM pg_publication") == [[0]]

    h.sql(f"CREATE PUBLICATION {t.publication_name} FOR ALL TABLES")  # the same name, no marker
    with h.master() as db, pytest.raises(NotOwned):
        teardown.drop_publication(db, t, h.target)
    assert h.sql("SELECT count(*)::int FROM pg_publication") == [[1]]
