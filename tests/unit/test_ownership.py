"""The ownership rules on their own: markers, the slot record, which roles are never touched,
and teardown's refusals on synthetic catalogs (no database)."""

from __future__ import annotations

import pytest

from lambdas.dal.rds import InstanceInfo
from lambdas.dal.sql import RoleState, SlotInfo, TeardownCatalog
from lambdas.logic import teardown
from lambdas.logic.ownership import OwnershipCheck, check_role, never_touched, not_adoptable
from lambdas.logic.target import not_opted_in
from lambdas.shared.errors import NotOwned
from lambdas.shared.models import Target
from lambdas.shared.ownership import (
    ADOPT_KINDS,
    COMMENT_MARKER,
    is_marked,
    marker,
    recorded_slots,
    user_marker,
)
from lambdas.shared.teardown_models import TeardownInput

# ---- markers ------------------------------------------------------------------------------------


def test_a_marker_is_the_workflows_name_a_colon_and_what_the_object_is():
    assert marker("Streamkap CDC group role") == "rds-cdc-setup: Streamkap CDC group role"
    assert COMMENT_MARKER == "rds-cdc-setup"


@pytest.mark.parametrize(
    ("comment", "marked"),
    [
        ("rds-cdc-setup: anything", True),
        ("rds-cdc-setup:", True),
        ("rds-cdc-setup", False),  # the name alone, without the colon, is not the marker
        ("made by rds-cdc-setup: no", False),  # the marker starts the comment
        ("", False),
        (None, False),
        ("RDS-CDC-SETUP: upper case", False),
    ],
)
def test_only_a_comment_starting_with_the_marker_counts(comment, marked):
    assert is_marked(comment) is marked


def test_the_user_marker_records_slots_per_database_and_reads_them_back():
    slots = {("orders", "streamkap_pgoutput_slot"), ("billing", "other_slot")}
    comment = user_marker(slots)
    assert is_marked(comment)
    assert recorded_slots(comment) == frozenset(slots)
    assert comment == (
        'rds-cdc-setup: Streamkap CDC login; slots [["billing", "other_slot"], ["orders", "streamkap_pgoutput_slot"]]'
    )


def test_a_user_marker_without_slots_records_none():
    assert user_marker() == "rds-cdc-setup: Streamkap CDC login; slots []"
    assert recorded_slots(user_marker()) == frozenset()


@pytest.mark.parametrize(
    "comment",
    [
        'someone: Streamkap CDC login; slots [["orders", "streamkap_pgoutput_slot"]]',  # not our marker
        "rds-cdc-setup: Streamkap CDC login",  # no record
        "rds-cdc-setup: Streamkap CDC login; slots [[",  # damaged
        'rds-cdc-setup: Streamkap CDC login; slots {"orders": 1}',  # not pairs
        # two records (appended to by hand): ambiguous, so none counts, not the last one
        'rds-cdc-setup: Streamkap CDC login; slots [["orders", "a"]]; slots [["orders", "streamkap_pgoutput_slot"]]',
        None,
    ],
)
def test_no_slot_passes_for_recorded_unless_our_marker_records_it(comment):
    assert recorded_slots(comment) == frozenset()


def test_the_adopt_kinds_are_the_ones_the_input_accepts():
    assert ADOPT_KINDS == (
        "user",
        "role",
        "schema",
        "tables",
        "publication",
        "slot",
        "secret",
        "parameter_group",
        "pending_changes",
        "streamkap_source",
        "security_group",
    )


# ---- roles ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "master", "reasons"),
    [
        (RoleState(), None, []),
        (RoleState(superuser=True), None, ["is a superuser"]),
        (RoleState(rds_superuser=True), None, ["is a member of rds_superuser"]),
        (RoleState(superuser=True, rds_superuser=True), None, ["is a superuser"]),  # said once
        (RoleState(connected_as=True), None, ["is the user the workflow connects as"]),
        (RoleState(), "u", ["is the instance's master user"]),
        (RoleState(), "someone_else", []),
        (
            RoleState(rds_superuser=True, connected_as=True),
            "u",
            ["is a member of rds_superuser", "is the user the workflow connects as", "is the instance's master user"],
        ),
    ],
)
def test_never_touched_says_every_reason(role, master, reasons):
    assert never_touched("u", role, master) == reasons


@pytest.mark.parametrize(
    ("role", "allowed", "reasons"),
    [
        (RoleState(), (), []),
        (RoleState(owned_objects=2), (), ["owns 2 objects"]),
        (RoleState(members=("streamkap_user",)), ("streamkap_user",), []),
        (RoleState(members=("streamkap_user", "bob")), ("streamkap_user",), ["has members (bob)"]),
        (RoleState(members=("streamkap_user",)), (), ["has members (streamkap_user)"]),
    ],
)
def test_a_role_in_use_cannot_be_adopted(role, allowed, reasons):
    assert not_adoptable(role, allowed) == reasons


def test_a_marked_role_is_ours_even_with_members_and_objects():
    check_role("role", "r", RoleState(owned_objects=1, members=("x",), comment=marker("x")), master_username=None)


def test_a_marked_master_is_still_never_touched():
    with pytest.raises(NotOwned, match="The user m is the instance's master user"):
        check_role("user", "m", RoleState(comment=user_marker()), master_username="m")


def test_the_ownership_check_collects_every_foreign_object_once_per_kind():
    check = OwnershipCheck(adopt=frozenset({"slot"}))
    assert check.adopts("table a", "tables", marked=True) is False
    assert check.adopts("slot s", "slot", marked=False) is True  # adopted: must be marked now
    assert check.adopts("table b", "tables", marked=False) is True
    assert check.adopts("table c", "tables", marked=False) is True
    check.adopts("publication p", "publication", marked=False)
    with pytest.raises(NotOwned) as refused:
        check.raise_if_foreign("drop")
    message = str(refused.value)
    assert "will not drop them: table b, table c, publication p." in message
    assert "adopt: ['tables', 'publication']" in message
    assert "slot s" not in message


def test_nothing_foreign_raises_nothing():
    OwnershipCheck(adopt=frozenset()).raise_if_foreign()


# ---- teardown on synthetic catalogs ------------------------------------------------------------

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
    master_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1",
    master_username="master",
)
OURS = TeardownCatalog(
    current_user="master",
    is_superuser=False,
    slot=SlotInfo("pgoutput", "logical", "orders", False),
    slot_pid=None,
    other_logical_slots=(),
    publication_exists=True,
    own_tables=("streamkap_heartbeat", "streamkap_signal"),
    signal_schema_exists=True,
    signal_schema_other_objects=0,
    roles=("streamkap_user", "streamkap_role"),
    roles_usable=("streamkap_user", "streamkap_role"),
    role_states={
        "streamkap_user": RoleState(can_login=True, comment=user_marker({("orders", "streamkap_pgoutput_slot")})),
        "streamkap_role": RoleState(members=("streamkap_user",), comment=marker("Streamkap CDC group role")),
    },
    slot_recorded=True,
    publication_marked=True,
    own_tables_marked=("streamkap_heartbeat", "streamkap_signal"),
    signal_schema_marked=True,
)


def parts(**kwargs) -> TeardownInput:
    return TeardownInput(db_instance_identifier="orders-prod", **kwargs)


def by_hand(**changes) -> TeardownCatalog:
    return TeardownCatalog(**{**OURS.__dict__, **changes})


def test_teardown_plans_everything_of_ours():
    t = parts(drop_slot=True, drop_publication=True, drop_tables=True, drop_user=True)
    assert teardown.slot_changes(OURS, t, TARGET) == ["drop replication slot streamkap_pgoutput_slot"]
    assert [c.description for c in teardown.publication_changes(OURS, t)] == ["drop publication streamkap_pub"]
    assert [c.description for c in teardown.table_changes(OURS, t)] == [
        "drop table streamkap.streamkap_heartbeat, streamkap.streamkap_signal",
        "drop schema streamkap (nothing else in it)",
    ]
    assert [c.description for c in teardown.user_changes(OURS, t, TARGET)][-2:] == [
        "drop role streamkap_user",
        "drop role streamkap_role",
    ]


@pytest.mark.parametrize(
    ("changes", "call", "named", "kind"),
    [
        ({"slot_recorded": False}, lambda c, t: teardown.slot_changes(c, t, TARGET), "slot", "slot"),
        ({"publication_marked": False}, teardown.publication_changes, "publication streamkap_pub", "publication"),
        (
            {"own_tables_marked": ("streamkap_heartbeat",)},
            teardown.table_changes,
            "table streamkap.streamkap_signal",
            "tables",
        ),
        (
            {"role_states": {**OURS.role_states, "streamkap_user": RoleState(can_login=True)}},
            lambda c, t: teardown.user_changes(c, t, TARGET),
            "user streamkap_user",
            "user",
        ),
        (
            {"role_states": {**OURS.role_states, "streamkap_role": RoleState(members=("streamkap_user",))}},
            lambda c, t: teardown.user_changes(c, t, TARGET),
            "role streamkap_role",
            "role",
        ),
    ],
)
def test_teardown_refuses_each_unmarked_object_and_removes_it_when_adopted(changes, call, named, kind):
    catalog = by_hand(**changes)
    with pytest.raises(NotOwned, match=f"{named}.*adopt: \\['{kind}'\\]"):
        call(catalog, parts(drop_slot=True))
    assert call(catalog, parts(drop_slot=True, adopt=[kind]))


def test_a_schema_teardown_did_not_create_is_kept_even_when_empty():
    changes = teardown.table_changes(by_hand(signal_schema_marked=False), parts(drop_tables=True))
    assert [c.description for c in changes] == ["drop table streamkap.streamkap_heartbeat, streamkap.streamkap_signal"]
    adopted = teardown.table_changes(by_hand(signal_schema_marked=False), parts(drop_tables=True, adopt=["schema"]))
    assert adopted[-1].description == "drop schema streamkap (nothing else in it)"


@pytest.mark.parametrize(
    "state",
    [
        RoleState(superuser=True, comment=user_marker()),
        RoleState(rds_superuser=True),
        RoleState(connected_as=True, comment=user_marker()),
    ],
)
def test_teardown_never_drops_a_privileged_role_even_adopted(state):
    catalog = by_hand(role_states={**OURS.role_states, "streamkap_user": state})
    with pytest.raises(NotOwned, match="never changes or drops"):
        teardown.user_changes(catalog, parts(drop_user=True, adopt=["user"]), TARGET)


def test_teardown_never_drops_the_instances_master_user():
    target = TARGET.model_copy(update={"master_username": "streamkap_user"})
    with pytest.raises(NotOwned, match="master user"):
        teardown.user_changes(OURS, parts(drop_user=True, adopt=["user"]), target)


def test_an_unmarked_role_in_use_is_not_dropped_even_adopted():
    catalog = by_hand(role_states={**OURS.role_states, "streamkap_role": RoleState(members=("streamkap_user", "bob"))})
    with pytest.raises(NotOwned, match=r"has members \(bob\)"):
        teardown.user_changes(catalog, parts(drop_user=True, adopt=["role"]), TARGET)


def test_the_refusal_says_what_to_do():
    check = OwnershipCheck(adopt=frozenset())
    check.adopts("user u", "user", marked=False)
    with pytest.raises(NotOwned) as refused:
        check.raise_if_foreign()
    assert str(refused.value) == (
        "These exist but were not created by rds-cdc-setup (they carry no rds-cdc-setup marker), so the workflow "
        "will not change them: user u. Use other names in the input, remove them, or take them over deliberately "
        "with adopt: ['user'] (a dry run shows what adopting changes)"
    )


def test_a_role_with_many_members_names_five_and_counts_the_rest():
    role = RoleState(members=tuple(f"m{i}" for i in range(8)))
    assert not_adoptable(role) == ["has members (m0, m1, m2, m3, m4 and 3 more)"]


def test_every_reason_a_role_is_refused_is_said():
    with pytest.raises(NotOwned, match="is a member of rds_superuser and is the user the workflow connects as: "):
        check_role("user", "u", RoleState(rds_superuser=True, connected_as=True), master_username=None)
    with pytest.raises(NotOwned, match=r"and owns 1 objects and has members \(x\): it is in use"):
        check_role("role", "r", RoleState(owned_objects=1, members=("x",)), master_username=None)


# ---- target_scope tagged: only opted-in targets -------------------------------------------------


def described(**overrides) -> InstanceInfo:
    fields = dict(
        instance_id="w1",
        engine="aurora-postgresql",
        engine_version="15.4",
        status="available",
        parameter_group="g",
        parameter_apply_status="in-sync",
        host="h",
        port=5432,
        db_name="orders",
        master_username="master",
        master_secret_arn=None,
        replica_source=None,
    )
    return InstanceInfo(**{**fields, **overrides})


OPTED_IN = {"streamkap:cdc": "enabled", "team": "orders"}


@pytest.mark.parametrize(
    ("info", "refused"),
    [
        (described(cluster_id=None, tags=OPTED_IN), None),
        (described(cluster_id=None, tags={"streamkap:cdc": "disabled"}), "instance w1 does not"),
        (described(cluster_id="c1", tags=OPTED_IN, writer_tags=OPTED_IN), None),
        (described(cluster_id="c1", tags=OPTED_IN, writer_tags={}), "its writer instance w1 does not"),
        (described(cluster_id="c1", tags={}, writer_tags=OPTED_IN), "cluster c1 does not"),
        (described(cluster_id="c1"), "cluster c1 and its writer instance w1 do not carry"),
    ],
)
def test_a_tagged_deployment_refuses_a_target_without_the_opt_in_tag(monkeypatch, info, refused):
    monkeypatch.setenv("TARGET_SCOPE", "tagged")
    found = not_opted_in(info)
    if refused is None:
        assert found == []
    else:
        [message] = found
        assert message.startswith(refused)
        assert "opt-in tag streamkap:cdc=enabled" in message and "target_scope=account" in message


def test_an_account_wide_deployment_checks_no_tag(monkeypatch):
    monkeypatch.setenv("TARGET_SCOPE", "account")
    assert not_opted_in(described(cluster_id="c1")) == []
