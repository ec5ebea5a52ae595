"""`make demo`, the main job, run as it runs: the sample database on an RDS-like server, one execution
of the real ASL, the Streamkap form, the proof, what to run next, and nothing left behind."""

from __future__ import annotations

import re
import socket

import pytest

from cli.form import STREAMKAP_FORM, STREAMKAP_GUIDE
from local import demo

pytestmark = pytest.mark.workflow


def test_the_demo_takes_the_rds_path_proves_the_slot_and_ends_with_the_next_steps(capsys):
    assert demo.main() == 0
    printed = capsys.readouterr().out

    # The server plays RDS: the replication right comes from rds_replication, not the attribute.
    assert "  - grant rds_replication to streamkap_role\n" in printed
    assert "REPLICATION attribute" not in printed
    assert "Waits are shortened here" in printed and "(reboots: 1)" in printed
    # The access rule: Streamkap's addresses let in to the port by the workflow's own security group.
    assert re.search(
        r"  - allowed 203\.0\.113\.0/24 on port \d+ in security group rds-cdc-setup-orders-prod-streamkap", printed
    )
    assert "  - added security group rds-cdc-setup-orders-prod-streamkap to instance orders-prod" in printed

    # The form as the CLI prints it, each label once, in Streamkap's order, with its value.
    form = printed.split("Streamkap: Sources > Create New > PostgreSQL\n", 1)[1].splitlines()[: len(STREAMKAP_FORM) + 1]
    form.remove("  Advanced Parameters")
    values = {line[:36].strip(): line[36:].split("  ")[0].strip() for line in form}
    assert list(values) == list(STREAMKAP_FORM)
    assert values["Replication Slot Name"] == "streamkap_pgoutput_slot" and values["Snapshot Chunk Size"] == "1024"
    # heartbeat "auto": a logical message on 14+ (no table: 3 + the signal table), the table below 14
    major = int(re.match(r"PostgreSQL (\d+)", printed)[1])
    if major >= 14:
        assert "4 tables published (3 to capture, as in the tables CSV, + the workflow's signal table)" in printed
        assert "heartbeat (logical message, no table) seen in the slot: True" in printed
    else:
        assert "5 tables published (3 to capture, as in the tables CSV, + the workflow's signal and" in printed
    assert re.search(r"INSERT public\.orders \(id='1001'", printed)
    # The chosen publication mode, and the source as Streamkap's Terraform provider takes it (no password).
    assert "publication_mode tables: the captured schemas' tables, listed" in printed
    assert 'streamkap_source_postgresql "orders-prod_orders"' in printed
    assert re.search(r'table_include_list +"inventory\.stock,public\.order_events,public\.orders"', printed)
    assert re.search(r'database_password +"\$\{jsondecode\(data\.aws_secretsmanager_secret_version\.', printed)
    # Then registered in Streamkap's stand-in, whose connector advanced the slot.
    assert re.search(r"Streamkap source orders-prod/orders \(src-1\): Active\n  its connector confirmed slot", printed)

    # Day two: a table the application added is a finding, changing nothing; policy publish adds it; clean again.
    day_two = printed[printed.index("Day two: the application adds public.returns.") :]
    assert "  check, report (the default): orders-prod: 1 finding(s): unpublished_table 1.\n" in day_two
    assert "    unpublished_table public.returns\n" in day_two
    assert "    changed: add 1 tables to publication streamkap_pub\n" in day_two
    assert "  check, again: orders-prod: no findings; nothing was changed.\n" in day_two
    assert day_two.index("report (the default)") < day_two.index("policy publish") < day_two.index("again")

    # It says its server is gone, and where to go from here.
    tail = printed[printed.index("The database is ready for Streamkap.") :]
    for next_step in (
        "cli setup --local",
        "cdk deploy",
        "cli check -i",
        "aws secretsmanager get-secret-value",
        STREAMKAP_GUIDE,
    ):
        assert next_step in tail
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(values["Port"])), timeout=2):
        pass
