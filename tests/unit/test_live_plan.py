"""The plan's notes on live objects: which changes alter what a streaming connector receives."""

from lambdas.logic.database_plan import Change
from lambdas.logic.preflight import with_live_notes
from lambdas.shared.models import SetupInput

SETUP = SetupInput(db_instance_identifier="orders-prod", schemas=["public"])
CHANGES = [
    Change("grant SELECT on 1 table to streamkap_role", ("GRANT SELECT ON TABLE x TO r",)),
    Change("set REPLICA IDENTITY FULL on public.a", ('ALTER TABLE "public"."a" REPLICA IDENTITY FULL',)),
    Change("add 2 tables to publication streamkap_pub", ('ALTER PUBLICATION "streamkap_pub" ADD TABLE a, "b,c"',)),
]


def test_without_a_reader_the_plan_is_the_changes():
    assert with_live_notes(CHANGES, SETUP, None) == [c.description for c in CHANGES]


def test_with_a_reader_each_change_to_what_it_receives_is_followed_by_a_note():
    live = f"read by an active slot {SETUP.slot_name} (pid 42)"
    assert with_live_notes(CHANGES, SETUP, 42) == [
        CHANGES[0].description,
        CHANGES[1].description,
        f"publication streamkap_pub is {live}: with REPLICA IDENTITY FULL on 1 table(s), their UPDATE and DELETE "
        "carry whole old rows to the running connector",
        CHANGES[2].description,
        f"publication streamkap_pub is {live}: adding 2 table(s) changes what the running connector receives",
    ]
