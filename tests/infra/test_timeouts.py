"""The timeouts nest on the deployed values: connect < server-side waits < socket reads < Lambda.

Read from the synthesized template: each function's Timeout and the environment it gets (the
settings' defaults where the template sets nothing), so a change to either side is caught."""

from __future__ import annotations

import pytest

from lambdas.shared.names import handler_module
from lambdas.shared.settings import RECOVERY_SECONDS, Environment
from lambdas.shared.steps import STEPS
from tests.infra.synth import Synth

SPEAKS_SQL = {handler_module(step.name) for step in STEPS if step.in_vpc}


def test_sql_steps_are_known():
    assert {"create_slot", "verify", "check_reboot_status", "drop_user"} <= SPEAKS_SQL


def test_every_sql_function_has_timeouts_that_nest(default: Synth):
    checked = []
    for logical_id, function in default.resources("AWS::Lambda::Function").items():
        props = function["Properties"]
        module = str(props.get("Handler", "")).split(".")[-2] if props.get("Handler") else ""
        if module not in SPEAKS_SQL:
            continue
        variables = (props.get("Environment") or {}).get("Variables") or {}
        env = Environment.model_validate({k: v for k, v in variables.items() if isinstance(v, str)})
        connect_ms = env.db_connect_timeout_seconds * 1000
        socket_ms = env.db_socket_timeout_seconds * 1000
        lambda_ms = props["Timeout"] * 1000
        # Given the deployed values, Then each limit fires before the one outside it:
        assert connect_ms < env.lock_timeout_ms, logical_id  # a login never outlasts a lock wait
        assert env.lock_timeout_ms <= min(env.slot_timeout_ms, env.peek_timeout_ms), logical_id
        assert env.longest_server_wait_ms < socket_ms, logical_id  # the server cancels before the client gives up
        # and the Lambda outlives the longest read plus CreateSlot's look for its slot on a new connection.
        assert socket_ms + connect_ms + RECOVERY_SECONDS * 1000 <= lambda_ms, logical_id
        checked.append(module)
    assert set(checked) == SPEAKS_SQL


@pytest.mark.parametrize(
    ("variables", "fails"),
    [
        ({}, False),
        ({"SLOT_TIMEOUT_MS": "50000"}, True),  # the client would stop reading before the server cancels
        ({"DB_SOCKET_TIMEOUT_SECONDS": "20"}, True),
        ({"DB_SOCKET_TIMEOUT_SECONDS": "3", "DB_CONNECT_TIMEOUT_SECONDS": "3", "SLOT_TIMEOUT_MS": "1000"}, True),
        (
            {
                "DB_CONNECT_TIMEOUT_SECONDS": "1",
                "DB_SOCKET_TIMEOUT_SECONDS": "3",
                "LOCK_TIMEOUT_MS": "1000",
                "SLOT_TIMEOUT_MS": "1000",
                "PEEK_TIMEOUT_MS": "1000",
            },
            False,
        ),
    ],
)
def test_a_socket_timeout_below_a_server_side_timeout_is_refused(variables: dict[str, str], fails: bool):
    if fails:
        with pytest.raises(ValueError, match="DB_SOCKET_TIMEOUT_SECONDS"):
            Environment.model_validate(variables)
    else:
        Environment.model_validate(variables)
