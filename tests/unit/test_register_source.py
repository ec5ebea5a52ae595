"""RegisterSource's parts without a database: the API config from the `.tf.json`'s attributes, the
API client's named errors against the local stand-in (no connectors), and the wait for Active."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambdas.dal.streamkap import Source, StreamkapApi
from lambdas.logic import register
from lambdas.logic.report import connector_of
from lambdas.logic.terraform import API_CONFIG_KEYS, api_source_config, csv_tables, source_attributes
from lambdas.shared.errors import (
    InvalidInput,
    NotOwned,
    StreamkapApiFailed,
    StreamkapAuthFailed,
    StreamkapConflict,
    TransientFailure,
)
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


# ---- register_source's ownership rules, over a fake API and record (mutmut: make mutate) ------------


class FakeApi:
    """Streamkap's API as register_source calls it: `existing` is the source found by name, if any."""

    def __init__(self, existing: Source | None = None) -> None:
        self.existing = existing
        self.calls: list[tuple] = []

    def keep_out_of_messages(self, secret: str) -> None:
        self.calls.append(("keep out", secret))

    def authenticate(self, client_id: str, client_secret: str) -> None:
        self.calls.append(("authenticate", client_id, client_secret))

    def find_source(self, name: str) -> Source | None:
        self.calls.append(("find", name))
        return self.existing

    def create_source(self, name: str, connector: str, config: dict) -> Source:
        self.calls.append(("create", name, connector, config))
        return Source(id="src-new", name=name, connector=connector, connector_status="Active", config=config)

    def get_source(self, source_id: str) -> Source:
        self.calls.append(("get", source_id))
        return Source(id=source_id, name=NAME, connector="postgresql", connector_status="Active", config={})

    def update_source(self, source_id: str, name: str, connector: str, config: dict) -> Source:
        self.calls.append(("update", source_id, name, connector, config))
        return Source(id=source_id, name=name, connector=connector, connector_status="Active", config=config)


class FakeRecord:
    def __init__(self, recorded: str | None = None) -> None:
        self.recorded = recorded
        self.calls: list[tuple] = []

    def recorded_source(self, secret_arn: str) -> str | None:
        self.calls.append(("read", secret_arn))
        return self.recorded

    def record_source(self, secret_arn: str, source_id: str) -> None:
        self.calls.append(("record", secret_arn, source_id))


NAME = "orders-prod/orders"


def expected_config() -> dict:
    connector = connector_of(SETUP, TARGET, CONFIGURED)
    return api_source_config(SETUP, connector, csv_tables(CONFIGURED.tables_csv or ""), PASSWORD)


def registered(api: FakeApi, record: FakeRecord, **setup):
    given = SETUP.model_copy(update=setup)
    return register.register_source(
        api, record, setup=given, target=TARGET, configured=CONFIGURED, api_credentials=("id", "secret"),
        password=PASSWORD, sleep=lambda seconds: None,
    )  # fmt: skip


def existing(source_id: str = "src-7", connector: str = "postgresql", **config) -> Source:
    return Source(
        id=source_id, name=NAME, connector=connector, connector_status="Active", config=expected_config() | config
    )


def test_no_source_of_that_name_is_created_recorded_as_ours_and_reported():
    api, record = FakeApi(), FakeRecord()
    result = registered(api, record)
    assert api.calls == [
        ("keep out", PASSWORD), ("authenticate", "id", "secret"), ("find", NAME),
        ("create", NAME, "postgresql", expected_config()),
    ]  # fmt: skip
    assert record.calls == [("record", CONFIGURED.secret_arn, "src-new")]
    assert (result.id, result.name, result.connector_status) == ("src-new", NAME, "Active")
    assert result.changes == [f"registered Streamkap source {NAME} (src-new)"]


def test_our_source_unchanged_is_left_alone_and_a_difference_is_updated_naming_the_keys():
    api, record = FakeApi(existing()), FakeRecord(recorded="src-7")
    assert registered(api, record).changes == [] and [c[0] for c in api.calls] == ["keep out", "authenticate", "find"]
    assert record.calls == [("read", CONFIGURED.secret_arn)]
    stale = FakeApi(existing(**{"slot.name": "old_slot", "publication.name": "old_pub"}))
    result = registered(stale, FakeRecord(recorded="src-7"))
    assert stale.calls[-1] == ("update", "src-7", NAME, "postgresql", expected_config())
    assert result.changes == [f"updated Streamkap source {NAME} (src-7): publication.name, slot.name"]


@pytest.mark.parametrize("recorded", [None, "src-other"])
def test_a_source_of_that_name_this_workflow_did_not_create_is_refused_unless_adopted(recorded):
    api, record = FakeApi(existing(**{"slot.name": "theirs"})), FakeRecord(recorded=recorded)
    with pytest.raises(NotOwned) as refused:
        registered(api, record)
    assert str(refused.value) == (
        f"Streamkap already has a source named {NAME} (src-7) that this workflow did not create (its id is not the "
        "one recorded on the CDC user's secret), so it is left as it is. Rename or delete it in Streamkap, or take "
        'it over deliberately with adopt: ["streamkap_source"]'
    )
    assert [c[0] for c in api.calls] == ["keep out", "authenticate", "find"]
    assert record.calls == [("read", CONFIGURED.secret_arn)]
    adopting = FakeRecord(recorded=recorded)
    adopted = registered(api, adopting, adopt=["streamkap_source"])
    assert adopting.calls == [("read", CONFIGURED.secret_arn), ("record", CONFIGURED.secret_arn, "src-7")]
    assert adopted.changes == [
        f"adopted Streamkap source {NAME} (src-7)",
        f"updated Streamkap source {NAME} (src-7): slot.name",
    ]


def test_a_source_of_that_name_for_another_database_kind_is_streamkap_api_failed_even_if_ours():
    api = FakeApi(existing(connector="mysql"))
    with pytest.raises(StreamkapApiFailed) as refused:
        registered(api, FakeRecord(recorded="src-7"))
    assert str(refused.value) == f"Streamkap source {NAME} (src-7) is a mysql source, not postgresql"
    assert not any(call[0] in ("create", "update") for call in api.calls)
    with pytest.raises(StreamkapApiFailed, match=r"is a unknown source, not postgresql$"):
        registered(FakeApi(existing(connector="")), FakeRecord(recorded="src-7"))


def test_a_source_still_starting_is_polled_with_the_given_sleep_until_active():
    starting = existing()
    starting = Source(
        id="src-7", name=NAME, connector="postgresql", connector_status="Starting", config=starting.config
    )
    api, slept = FakeApi(starting), []
    given = SETUP.model_copy()
    result = register.register_source(
        api, FakeRecord(recorded="src-7"), setup=given, target=TARGET, configured=CONFIGURED,
        api_credentials=("id", "secret"), password=PASSWORD, sleep=slept.append,
    )  # fmt: skip
    assert result.connector_status == "Active" and api.calls[-1] == ("get", "src-7")
    assert slept == [register.SOURCE_POLL_SECONDS]


def test_tables_too_many_for_the_state_are_refused_before_any_call():
    api, too_many = FakeApi(), CONFIGURED.model_copy(update={"tables_csv": None})
    with pytest.raises(InvalidInput) as refused:
        register.register_source(
            api, FakeRecord(), setup=SETUP, target=TARGET, configured=too_many,
            api_credentials=("id", "secret"), password=PASSWORD,
        )  # fmt: skip
    assert api.calls == []
    assert str(refused.value) == (
        f"The {CONFIGURED.user_tables} tables are more than the workflow's state carries, so RegisterSource cannot "
        "list them to Streamkap: register the source with the Terraform file of the output (it reads the tables CSV "
        "you export), and leave streamkap_api_secret_arn out"
    )


def test_the_plan_line_names_the_source_and_an_adoption():
    with_api = SETUP.model_copy(
        update={"streamkap_api_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:streamkap-api/x"}
    )
    assert register.source_plan(SETUP, TARGET) == []
    assert register.source_plan(with_api, TARGET) == [
        f"register Streamkap source {NAME} at https://api.streamkap.com/api (create it, or update the one this "
        "workflow created), wait until it is Active and its connector confirms the slot past a heartbeat"
    ]
    adopting = with_api.model_copy(update={"adopt": ["streamkap_source"]})
    assert register.source_plan(adopting, TARGET)[0].startswith(f"register Streamkap source {NAME} at ")
    assert register.source_plan(adopting, TARGET)[0].endswith(
        f"; a source named {NAME} this workflow did not create is adopted (updated, recorded as its own)"
    )


@pytest.mark.parametrize(
    "value", [{}, {"client_id": "id"}, {"client_id": "", "client_secret": "s"}, {"client_id": 1, "client_secret": "s"}]
)
def test_api_credentials_need_both_keys_as_text(value):
    with pytest.raises(InvalidInput) as refused:
        register.api_credentials(value, "arn:secret")
    assert str(refused.value) == "Secret arn:secret is not JSON with 'client_id' and 'client_secret' keys"
    assert register.api_credentials({"client_id": "i", "client_secret": "s"}, "arn:secret") == ("i", "s")


def test_only_the_deployments_streamkap_api_may_receive_the_password():
    with_api = SETUP.model_copy(
        update={"streamkap_api_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:streamkap-api/x"}
    )
    register.check_api_url(with_api, "https://api.streamkap.com/api/")  # the default, trailing slash or not
    elsewhere = with_api.model_copy(update={"streamkap_api_url": "https://collector.example.com/api"})
    with pytest.raises(InvalidInput) as refused:
        register.check_api_url(elsewhere, "https://api.streamkap.com/api")
    assert str(refused.value) == (
        "streamkap_api_url 'https://collector.example.com/api' is not this deployment's Streamkap API "
        "(https://api.streamkap.com/api): RegisterSource sends the CDC user's password and the API credentials "
        "there only. Leave streamkap_api_url out"
    )
    register.check_api_url(elsewhere.model_copy(update={"streamkap_api_secret_arn": None}), "https://x")  # no sending
