"""The execution input: seed defaults, and bad input rejected with a named error."""

from __future__ import annotations

import pytest

from lambdas.handlers.validate_input import parse_input
from lambdas.logic.self_managed import describe_self_managed_target
from lambdas.shared.errors import InvalidInput
from lambdas.shared.models import (
    HISTORY_EVENT_BUDGET,
    SetupInput,
    largest_max_wait_minutes,
    worst_case_history_events,
)
from lambdas.shared.teardown_models import TeardownInput
from tests.certs import ca_pem


def test_defaults_are_the_seed_guides():
    setup = parse_input({"db_instance_identifier": "orders-prod"})
    assert setup.model_dump() == {
        "db_instance_identifier": "orders-prod",
        "db_cluster_identifier": None,
        "host": None,
        "port": None,
        "database": None,
        "schemas": ["public"],
        "tables": None,
        "publication_mode": "tables",
        "signal_table_schema": "streamkap",
        "user_name": "streamkap_user",
        "role_name": "streamkap_role",
        "publication_name": "streamkap_pub",
        "slot_name": "streamkap_pgoutput_slot",
        "master_secret_arn": None,
        "ca_certificate": None,
        "reboot": "immediate",
        "replica_identity": "check",
        "heartbeat": "auto",  # Preflight: message on PostgreSQL 14+, else (or where ours exists) the table
        "dry_run": False,
        "poll_seconds": 30,
        "max_wait_minutes": 60,
        "alarm_slot_lag_gib": 5,
        "alarm_wal_disk_usage_gib": 10,
        "alarm_free_storage_gib": 5,
        "max_slot_wal_keep_size_mb": None,
        "failover_slot": False,  # PostgreSQL 17+ failover slots only when asked for
        "adopt": [],  # nothing that exists is taken over unless the input says so
        "rotate_password": False,
        "streamkap_api_secret_arn": None,
        "streamkap_api_url": "https://api.streamkap.com/api",
        "allow_public_cidrs": False,
        "allow_cidrs": None,  # network access is not managed unless the input lists CIDRs
    }


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"shemas": ["public"]}, "shemas"),  # a typo must not fall back to a default
        ({"slot_name": "Streamkap"}, "slot_name"),
        ({"slot_name": "rds_slot"}, "reserved on RDS"),
        ({"slot_name": "a" * 64}, "slot_name"),
        ({"user_name": "pg_monitor"}, "reserved"),
        ({"user_name": "x", "role_name": "x"}, "must differ"),
        ({"publication_name": "p" * 64}, "63 bytes"),
        ({"schemas": ["é" * 32]}, "63 bytes"),  # 64 bytes in UTF-8
        ({"schemas": []}, "schemas"),
        ({"schemas": ["public", "public"]}, "duplicates"),
        ({"tables": ["orders"]}, "schema.table"),
        ({"tables": ["sales.orders"]}, "not in schemas"),
        ({"tables": []}, "non-empty"),
        ({"reboot": "later"}, "reboot"),
        ({"replica_identity": "maybe"}, "replica_identity"),
        ({"poll_seconds": 0}, "poll_seconds"),
        ({"db_instance_identifier": "1orders"}, "RDS identifier"),
        ({"db_instance_identifier": "orders--prod"}, "RDS identifier"),
        ({"db_instance_identifier": None}, "required"),
        ({"db_cluster_identifier": "orders-aurora"}, "not both"),
        ({"db_instance_identifier": None, "db_cluster_identifier": "orders_aurora"}, "RDS identifier"),
        ({"database": "bad\x00name"}, "NUL"),
        # 4,000 names of 30 bytes: the list alone would take half the state Step Functions allows.
        ({"tables": [f"public.table_with_a_long_name_{i:04}" for i in range(4000)]}, "set tables to null"),
    ],
)
def test_bad_input_is_invalid_input_naming_the_field(override, complaint):
    with pytest.raises(InvalidInput, match=complaint):
        parse_input({"db_instance_identifier": "orders-prod", **override})


@pytest.mark.parametrize(
    ("given", "mode"),
    [(True, "table"), (False, "off"), ("true", "table"), ("FALSE", "off"), ("message", "message"), ("off", "off")],
)
def test_heartbeat_true_and_false_still_mean_the_table_and_none(given, mode):
    assert parse_input({"db_instance_identifier": "orders-prod", "heartbeat": given}).heartbeat == mode


def test_only_the_table_heartbeat_adds_a_table_of_the_workflows_own():
    own = {
        mode: SetupInput(db_instance_identifier="x", heartbeat=mode).own_tables for mode in ("table", "message", "off")
    }
    signal_only = ["streamkap_signal"]
    assert own == {"table": ["streamkap_signal", "streamkap_heartbeat"], "message": signal_only, "off": signal_only}
    with pytest.raises(InvalidInput, match="heartbeat"):
        parse_input({"db_instance_identifier": "orders-prod", "heartbeat": "sometimes"})


def test_hostile_but_legal_names_are_accepted_for_quoting_later():
    setup = SetupInput(
        db_instance_identifier="orders-prod", schemas=['we"ird; DROP TABLE x; --'], publication_name="Pub With Spaces"
    )
    assert setup.schemas == ['we"ird; DROP TABLE x; --']


def test_table_pairs_split_on_the_first_dot():
    setup = SetupInput(db_instance_identifier="a", schemas=["s"], tables=["s.t.with.dots"])
    assert setup.table_pairs == [("s", "t.with.dots")]


def test_a_cluster_alone_is_a_target_named_after_the_cluster():
    setup = parse_input({"db_cluster_identifier": "orders-aurora"})
    assert setup.db_instance_identifier is None and setup.target_id == "orders-aurora"


CA = ca_pem("Team CA").decode()


def test_a_self_managed_server_brings_its_own_ca_to_every_connection():
    setup = parse_input({"host": "pg.internal", "master_secret_arn": "arn:s", "ca_certificate": CA})
    target = describe_self_managed_target(setup)
    assert target.ca_certificate == CA
    teardown = TeardownInput(host="pg.internal", master_secret_arn="arn:s", ca_certificate=CA, drop_slot=True)
    assert describe_self_managed_target(teardown.setup_input()).ca_certificate == CA


def test_a_self_managed_server_is_named_by_host_port_and_database():
    setup = parse_input({"host": "10.0.0.5", "database": "orders", "master_secret_arn": "arn:secret"})
    assert setup.self_managed and setup.server_port == 5432
    assert setup.target_id == "10.0.0.5:5432/orders"
    assert parse_input({"host": "pg.internal", "port": 6432, "master_secret_arn": "arn:s"}).target_id == (
        "pg.internal:6432/postgres"
    )


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ({"host": "pg.internal"}, "master_secret_arn is required with host"),
        ({"host": "pg.internal", "master_secret_arn": "a", "db_instance_identifier": "x"}, "excludes"),
        ({"host": "pg.internal", "master_secret_arn": "a", "db_cluster_identifier": "x"}, "excludes"),
        ({"host": "pg internal; drop", "master_secret_arn": "a"}, "not a host name"),
        ({"host": "pg.internal", "master_secret_arn": "a", "port": 0}, "port"),
        ({"host": "pg.internal", "master_secret_arn": "a", "max_slot_wal_keep_size_mb": 2048}, "ALTER SYSTEM"),
        ({"db_instance_identifier": "orders-prod", "port": 5432}, "port goes with host"),
        ({}, "or host \\(self-managed\\) is required"),
        ({"db_instance_identifier": "orders-prod", "ca_certificate": CA}, "ca_certificate goes with host"),
        ({"host": "pg.internal", "master_secret_arn": "a", "ca_certificate": "MIIB..."}, "must be PEM text"),
        ({"host": "pg.internal", "master_secret_arn": "a", "ca_certificate": CA * 40}, "at most 16 KiB"),
    ],
)
def test_bad_self_managed_input_is_invalid_input(given, complaint):
    with pytest.raises(InvalidInput, match=complaint):
        parse_input(given)


def test_one_second_polls_for_a_day_are_refused_naming_both_values_and_the_largest_wait():
    with pytest.raises(InvalidInput) as refused:
        parse_input({"db_instance_identifier": "orders-prod", "poll_seconds": 1, "max_wait_minutes": 1440})
    message = str(refused.value)
    assert "poll_seconds 1 with max_wait_minutes 1440" in message
    assert f"max_wait_minutes is at most {largest_max_wait_minutes(1)}" in message
    assert "25,000" in message


@pytest.mark.parametrize("poll_seconds", [1, 5, 7, 30, 59, 60, 61])
def test_the_largest_allowed_wait_is_accepted_and_one_minute_more_is_refused(poll_seconds):
    largest = largest_max_wait_minutes(poll_seconds)
    if largest < 24 * 60:
        parse_input({"db_instance_identifier": "a", "poll_seconds": poll_seconds, "max_wait_minutes": largest})
        with pytest.raises(InvalidInput, match=f"at most {largest} "):
            parse_input({"db_instance_identifier": "a", "poll_seconds": poll_seconds, "max_wait_minutes": largest + 1})
    assert worst_case_history_events(poll_seconds, largest) <= HISTORY_EVENT_BUDGET
    assert worst_case_history_events(poll_seconds, largest + 1) > HISTORY_EVENT_BUDGET


def test_the_defaults_and_hourly_polls_for_a_day_fit_the_history():
    assert worst_case_history_events(30, 60) <= HISTORY_EVENT_BUDGET
    parse_input({"db_instance_identifier": "a", "poll_seconds": 120, "max_wait_minutes": 24 * 60})


def test_a_misspelt_key_names_the_closest_known_one_and_no_value():
    from lambdas.handlers.validate_teardown_input import parse_input as parse_teardown

    secret = "hunter2-do-not-print"
    with pytest.raises(InvalidInput) as setup:
        parse_input({"db_instance_identifier": "orders-prod", "shemas": [secret], "xyzzy": secret})
    rejected = "Execution input rejected, nothing was changed."
    assert str(setup.value) == f"{rejected} shemas: unknown key; did you mean schemas?; xyzzy: unknown key"
    with pytest.raises(InvalidInput, match=r"drop_slots: unknown key; did you mean drop_slot\?"):
        parse_teardown({"db_instance_identifier": "orders-prod", "drop_slots": True})
