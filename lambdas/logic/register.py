"""RegisterSource and ConfirmSourceStreaming: the prepared database as a source in Streamkap, through
the API Streamkap's Terraform provider uses, and proof that its connector streams the slot.

Ownership: Streamkap's API stores nothing the workflow can set and read back as a marker (the
provider's `created_from` is write-only), so the marker is on the workflow's side: the id of the
source it created, as a tag (names.STREAMKAP_SOURCE_TAG_KEY) on the CDC user's secret, which is the
workflow's own. A source with the workflow's name is updated only when its id is the recorded one;
any other is someone else's (NotOwned), unless `adopt` lists "streamkap_source" (then recorded).

The password and the API's client secret go from Secrets Manager to the API inside the Lambda only:
the result holds the source's id, name, status and the changes, never its config."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from lambdas.dal import sql
from lambdas.dal.database import Database
from lambdas.dal.streamkap import Source, StreamkapApi
from lambdas.logic.report import connector_of
from lambdas.logic.terraform import api_source_config, csv_tables, source_name
from lambdas.logic.verify import write_heartbeat
from lambdas.shared.errors import InvalidInput, NotOwned, StreamkapApiFailed, TransientFailure, VerificationFailed
from lambdas.shared.models import ConfigureResult, RegisteredSource, SetupInput, SourceStreaming, Target

CONNECTOR = "postgresql"  # the provider's connector code of streamkap_source_postgresql
ACTIVE = "Active"
# connector_status values (the provider's schema) that will not become Active without someone acting.
STOPPED = {"Broken", "Paused", "Stopped"}
# RegisterSource waits this long for Active, polling every SOURCE_POLL_SECONDS, well inside the
# control-plane Lambda's timeout (60 s) with room for the calls before it; a source still Starting is a
# TransientFailure, which the state machine retries (each retry finds the source equal: no update).
SOURCE_ACTIVE_SECONDS = 30
SOURCE_POLL_SECONDS = 1.0
# ConfirmSourceStreaming waits this long (data-plane Lambda: 120 s) for the connector to attach to the
# slot and confirm a fresh heartbeat.
STREAMING_CONFIRM_SECONDS = 60
STREAMING_POLL_SECONDS = 1.0


class SourceRecord(Protocol):
    """Where the id of the source the workflow created is kept (a tag on the CDC user's secret)."""

    def recorded_source(self, secret_arn: str) -> str | None: ...

    def record_source(self, secret_arn: str, source_id: str) -> None: ...


def check_api_url(setup: SetupInput, allowed: str) -> None:
    """The password and the API credentials go only to the deployment's Streamkap API (`allowed`): an
    execution input naming another host is refused before anything reads a secret or changes anything."""
    if setup.streamkap_api_secret_arn is not None and setup.streamkap_api_url != allowed.rstrip("/"):
        raise InvalidInput(
            f"streamkap_api_url {setup.streamkap_api_url!r} is not this deployment's Streamkap API ({allowed}): "
            "RegisterSource sends the CDC user's password and the API credentials there only. Leave "
            "streamkap_api_url out"
        )


def source_plan(setup: SetupInput, target: Target) -> list[str]:
    """The plan's line for RegisterSource (Preflight runs in the VPC: it cannot ask the API)."""
    if setup.streamkap_api_secret_arn is None:
        return []
    name = source_name(setup.target_id, target.database)
    line = (
        f"register Streamkap source {name} at {setup.streamkap_api_url} (create it, or update the one this workflow "
        "created), wait until it is Active and its connector confirms the slot past a heartbeat"
    )
    if "streamkap_source" in setup.adopt:
        line += f"; a source named {name} this workflow did not create is adopted (updated, recorded as its own)"
    return [line]


def register_source(
    api: StreamkapApi,
    record: SourceRecord,
    *,
    setup: SetupInput,
    target: Target,
    configured: ConfigureResult,
    api_credentials: tuple[str, str],
    password: str,
    sleep: Callable[[float], None] = time.sleep,
) -> RegisteredSource:
    if configured.tables_csv is None:
        raise InvalidInput(
            f"The {configured.user_tables} tables are more than the workflow's state carries, so RegisterSource "
            "cannot list them to Streamkap: register the source with the Terraform file of the output (it reads "
            "the tables CSV you export), and leave streamkap_api_secret_arn out"
        )
    connector = connector_of(setup, target, configured)
    name = source_name(setup.target_id, connector.database)
    config = api_source_config(setup, connector, csv_tables(configured.tables_csv), password)
    api.keep_out_of_messages(password)
    api.authenticate(*api_credentials)
    changes: list[str] = []
    found = api.find_source(name)
    if found is None:
        source = api.create_source(name, CONNECTOR, config)
        record.record_source(configured.secret_arn, source.id)
        changes.append(f"registered Streamkap source {name} ({source.id})")
    else:
        ours = record.recorded_source(configured.secret_arn) == found.id
        if not ours and "streamkap_source" not in setup.adopt:
            raise NotOwned(
                f"Streamkap already has a source named {name} ({found.id}) that this workflow did not create (its "
                "id is not the one recorded on the CDC user's secret), so it is left as it is. Rename or delete it "
                'in Streamkap, or take it over deliberately with adopt: ["streamkap_source"]'
            )
        if found.connector != CONNECTOR:
            raise StreamkapApiFailed(
                f"Streamkap source {name} ({found.id}) is a {found.connector or 'unknown'} source, not {CONNECTOR}"
            )
        if not ours:
            record.record_source(configured.secret_arn, found.id)
            changes.append(f"adopted Streamkap source {name} ({found.id})")
        differing = sorted(key for key, value in config.items() if found.config.get(key) != value)
        source = found
        if differing:
            source = api.update_source(found.id, name, CONNECTOR, config)
            changes.append(f"updated Streamkap source {name} ({found.id}): {', '.join(differing)}")
    status = wait_until_active(api, source, sleep=sleep)
    return RegisteredSource(id=source.id, name=name, connector_status=status, changes=changes)


def wait_until_active(api: StreamkapApi, source: Source, *, sleep: Callable[[float], None]) -> str:
    deadline = time.monotonic() + SOURCE_ACTIVE_SECONDS
    status = source.connector_status
    while status != ACTIVE:
        if status in STOPPED:
            raise StreamkapApiFailed(
                f"Streamkap source {source.name} ({source.id}) is {status}, not {ACTIVE}: see its errors in "
                "Streamkap's console (credentials, network access from Streamkap to the database), then start the "
                "execution again"
            )
        if time.monotonic() >= deadline:
            raise TransientFailure(
                f"Streamkap source {source.name} ({source.id}) is still {status or 'without a status'} after "
                f"{SOURCE_ACTIVE_SECONDS}s; retried"
            )
        sleep(SOURCE_POLL_SECONDS)
        current = api.get_source(source.id)
        if current is None:
            raise StreamkapApiFailed(f"Streamkap source {source.name} ({source.id}) disappeared while starting")
        status = current.connector_status
    return status


def confirm_streaming(
    db: Database, setup: SetupInput, *, sleep: Callable[[float], None] = time.sleep
) -> SourceStreaming:
    """A heartbeat now, then the slot's confirmed_flush_lsn past it: the source's connector reads the
    slot and confirms what it read (what keeps WAL from piling up)."""
    heartbeat = write_heartbeat(db, setup)
    lsn = heartbeat.lsn if heartbeat is not None else sql.current_wal_lsn(db)
    deadline = time.monotonic() + STREAMING_CONFIRM_SECONDS
    while True:
        progress = sql.slot_progress(db, setup.slot_name, lsn)
        if progress is None:
            raise VerificationFailed(f"Replication slot {setup.slot_name} disappeared while waiting for the connector")
        if progress.confirmed and progress.confirmed_flush_lsn is not None:
            return SourceStreaming(
                slot_name=setup.slot_name, heartbeat_lsn=lsn, confirmed_flush_lsn=progress.confirmed_flush_lsn
            )
        if time.monotonic() >= deadline:
            state = f"streamed by process {progress.pid}" if progress.active else "not streamed by any connector"
            raise VerificationFailed(
                f"Streamkap reports the source Active, but replication slot {setup.slot_name} is {state} and was not "
                f"confirmed past the heartbeat at {lsn} within {STREAMING_CONFIRM_SECONDS}s (confirmed_flush_lsn "
                f"{progress.confirmed_flush_lsn}). Check the source in Streamkap's console, then start again"
            )
        sleep(STREAMING_POLL_SECONDS)


def api_credentials(value: dict[str, Any], secret_arn: str) -> tuple[str, str]:
    client_id, client_secret = value.get("client_id"), value.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(client_secret, str) or not client_id or not client_secret:
        raise InvalidInput(f"Secret {secret_arn} is not JSON with 'client_id' and 'client_secret' keys")
    return client_id, client_secret
