"""RegisterSource's parts without a database: the API config from the `.tf.json`'s attributes, the
API client's named errors against the local stand-in (no connectors), and the wait for Active."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambdas.dal.streamkap import Source, StreamkapApi
from lambdas.logic import register
from lambdas.logic.report import connector_of
from lambdas.logic.terraform import API_CONFIG_KEYS, api_source_config, source_attributes
from lambdas.shared.errors import StreamkapApiFailed, StreamkapAuthFailed, StreamkapConflict, TransientFailure
from lambdas.shared.models import ConfigureResult, SetupInput, Target
from local.streamkap_api import CLIENT_ID, CLIENT_SECRET, StreamkapStandIn

PASSWORD = "pw-only-in-the-lambda"
SETUP = SetupInput(db_instance_identifier="orders-prod", database="orders", schemas=["public"])
TARGET = Target(
    instance_id="orders-prod",
    engine="postgres",
    engine_version="16.3",
    major_version=16,
    status="available",
    parameter_group="g",
    parameter_group_family="postgres16",
    parameter_apply_status="in-sync",
    host="orders-prod.abc.us-east-1.rds.amazonaws.com",
    port=5432,
    database="orders",
    master_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1",
)
CONFIGURED = ConfigureResult(
    changes=[],
    secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:rds-cdc-setup/orders-prod/streamkap_user",
    user_tables=2,
    published_tables=4,
    tables_csv="public.orders\npublic.items\n",
)


def test_the_api_config_is_the_terraform_attributes_through_the_providers_field_mapping():
    connector = connector_of(SETUP, TARGET, CONFIGURED)
    tables = ["public.orders", "public.items"]

    config = api_source_config(SETUP, connector, tables, PASSWORD)

    attributes = source_attributes(SETUP, connector, tables, PASSWORD)
    assert config == {API_CONFIG_KEYS[name]: value for name, value in attributes.items() if name != "name"}
    assert config["database.hostname.user.defined"] == TARGET.host
    assert config["database.port.user.defined"] == 5432
    assert config["database.password"] == PASSWORD
    assert config["table.include.list.user.defined"] == "public.orders,public.items"
    assert config["slot.name"] == "streamkap_pgoutput_slot"
    assert config["publication.name"] == "streamkap_pub"


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StreamkapStandIn]:
    with StreamkapStandIn(server=None) as api:
        yield api


def client(stand_in: StreamkapStandIn, timeout: float = 5) -> StreamkapApi:
    api = StreamkapApi(stand_in.url, timeout_seconds=timeout)
    api.authenticate(CLIENT_ID, CLIENT_SECRET)
    return api


def test_wrong_client_credentials_are_streamkap_auth_failed_without_the_secret(stand_in):
    with pytest.raises(StreamkapAuthFailed) as refused:
        StreamkapApi(stand_in.url, timeout_seconds=5).authenticate(CLIENT_ID, "not-the-secret")
    assert "HTTP 401" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, StreamkapAuthFailed), (403, StreamkapAuthFailed), (409, StreamkapConflict), (500, StreamkapApiFailed)],
)
def test_api_errors_get_their_names_and_keep_the_password_out_of_the_message(stand_in, status, error):
    api = client(stand_in)
    api.keep_out_of_messages(PASSWORD)
    stand_in.fail_next(status, f"rejected database.password {PASSWORD}", on="POST /api/sources")

    with pytest.raises(error) as failed:
        api.create_source("orders-prod/orders", "postgresql", {"database.password": PASSWORD})

    assert f"HTTP {status}" in str(failed.value)
    assert PASSWORD not in str(failed.value)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_throttling_and_gateway_failures_are_transient(stand_in, status):
    api = client(stand_in)
    stand_in.fail_next(status, on="GET /api/sources")
    with pytest.raises(TransientFailure):
        api.find_source("orders-prod/orders")


def test_an_api_that_does_not_answer_in_time_is_transient(stand_in):
    api = client(stand_in, timeout=0.2)
    stand_in.hang_next(1.0)
    with pytest.raises(TransientFailure, match="did not answer GET /sources within 0.2s"):
        api.find_source("orders-prod/orders")


def test_a_source_is_found_by_its_exact_name_only(stand_in):
    api = client(stand_in)
    config = {"database.hostname.user.defined": "h", "database.user": "u", "database.password": "p", "slot.name": "s"}
    longer = api.create_source("exact-name/orders-2", "postgresql", config)
    assert api.find_source("exact-name/orders") is None  # partial_name matches it; the name does not
    exact = api.create_source("exact-name/orders", "postgresql", config)
    assert api.find_source("exact-name/orders").id == exact.id != longer.id


class Statuses:
    """An API whose source answers these statuses, one per get_source."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)

    def get_source(self, source_id: str) -> Source:
        return Source(id=source_id, name="s", connector="postgresql", connector_status=self.statuses.pop(0), config={})


def source(status: str) -> Source:
    return Source(id="src-1", name="s", connector="postgresql", connector_status=status, config={})


def test_a_starting_source_is_waited_for_until_active():
    api = Statuses("Starting", "Unassigned", "Active")
    assert register.wait_until_active(api, source("Starting"), sleep=lambda _: None) == "Active"  # type: ignore[arg-type]
    assert api.statuses == []


@pytest.mark.parametrize("status", ["Broken", "Paused", "Stopped"])
def test_a_source_that_will_not_start_by_itself_is_streamkap_api_failed(status):
    with pytest.raises(StreamkapApiFailed, match=f"is {status}, not Active"):
        register.wait_until_active(Statuses(status), source("Starting"), sleep=lambda _: None)  # type: ignore[arg-type]


def test_a_source_still_starting_at_the_bound_is_transient(monkeypatch):
    monkeypatch.setattr(register, "SOURCE_ACTIVE_SECONDS", 0)
    with pytest.raises(TransientFailure, match="still Starting"):
        register.wait_until_active(Statuses(), source("Starting"), sleep=lambda _: None)  # type: ignore[arg-type]
