"""Typed execution input (seed defaults), each step's input and output, and the workflow state.

The state machine passes the whole state to every task; each task adds its own key (ResultPath).
Each step parses its own `<Step>Input`: the keys it reads, required where every path of
statemachine/cdc_setup.asl.json that reaches the step has them (tests/unit/test_step_inputs.py
checks each against the ASL, tests/workflow/test_step_inputs.py against real runs). Only Report
reads the whole `WorkflowState`, whose results are optional: which are there depends on its path."""

from __future__ import annotations

import json
import math
import re
import ssl
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from lambdas.shared import names
from lambdas.shared.cidrs import normalize_cidrs
from lambdas.shared.ownership import AdoptKind

MAX_IDENTIFIER_BYTES = 63  # PostgreSQL NAMEDATALEN - 1
INSTANCE_ID = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{0,62}(?<!-)$")
HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^[0-9A-Fa-f:.]{2,45}$")
SLOT_NAME = re.compile(r"^[a-z0-9_]{1,63}$")  # PostgreSQL's own rule for slot names
WAL_KEEP_UNBOUNDED = -1  # max_slot_wal_keep_size_mb: no bound, as PostgreSQL's own -1
SIGNAL_TABLE = "streamkap_signal"  # the seed's name; the connector reads its signals there
HEARTBEAT_TABLE = "streamkap_heartbeat"
HeartbeatMode = Literal["table", "message", "off"]
# Step Functions fails an execution whose state or output exceeds 256 KiB (States.DataLimitExceeded).
# Per-table data in the state is kept within these budgets, whatever the number of tables.
STATE_LIMIT_BYTES = 256 * 1024
TABLES_INPUT_LIMIT_BYTES = 80 * 1024  # the input's `tables` list, as JSON
TABLES_CSV_INLINE_LIMIT_BYTES = 80 * 1024  # a larger tables CSV is left out of the state and output
# A self-managed server's CA certificates (PEM), in the input and again in the target: a few fit.
CA_CERTIFICATE_LIMIT_BYTES = 16 * 1024
# Step Functions fails an execution whose history passes 25,000 events, and no Catch sees it (no
# notification, no named error). poll_seconds x max_wait_minutes is bounded so that a run's worst
# case stays within HISTORY_EVENT_BUDGET (a 20% margin, which also absorbs retried Lambda attempts,
# 3 events each, and states added later). tests/workflow/test_bounds.py measures the figures below
# on the real ASL and checks them.
HISTORY_EVENT_LIMIT = 25_000
HISTORY_EVENT_BUDGET = 20_000
EVENTS_PER_POLL = 9  # Wait (entered, exited) + Lambda Task (entered, scheduled, started, succeeded, exited) + Choice
POLL_LOOPS = 3  # WaitForClusterWriter, WaitForTarget, WaitForReboot: each runs up to max_wait_minutes on its own
RUN_EVENTS = 400  # at least the longest path through the ASL without its loops (tests check it)


def poll_count(poll_seconds: int, max_wait_minutes: int) -> int:
    """How many times a wait loop polls before it gives up (RebootTimeout, TargetNotAvailable)."""
    return max(1, math.ceil(max_wait_minutes * 60 / poll_seconds))


def worst_case_history_events(poll_seconds: int, max_wait_minutes: int) -> int:
    """Every loop polling to its limit (ReadTriggerTags polls once more than the others), then the rest."""
    return RUN_EVENTS + POLL_LOOPS * (poll_count(poll_seconds, max_wait_minutes) + 1) * EVENTS_PER_POLL


def largest_max_wait_minutes(poll_seconds: int) -> int:
    """The largest max_wait_minutes whose worst case fits HISTORY_EVENT_BUDGET with this poll_seconds."""
    polls = (HISTORY_EVENT_BUDGET - RUN_EVENTS) // (POLL_LOOPS * EVENTS_PER_POLL) - 1
    return polls * poll_seconds // 60


def check_identifier(value: str, what: str) -> str:
    if not value or "\x00" in value:
        raise ValueError(f"{what} must be a non-empty name without NUL characters")
    if len(value.encode()) > MAX_IDENTIFIER_BYTES:
        raise ValueError(f"{what} {value!r} is {len(value.encode())} bytes; PostgreSQL names are at most 63 bytes")
    return value


def input_target_id(given: Mapping[str, Any]) -> str | None:
    """The target an input names (SetupInput, TeardownInput, or a raw one that failed validation):
    the Aurora cluster, the instance, or the self-managed server as host:port/database; None if none."""
    if given.get("host"):
        return f"{given['host']}:{given.get('port') or 5432}/{given.get('database') or 'postgres'}"
    return given.get("db_cluster_identifier") or given.get("db_instance_identifier") or None


def check_ca_certificate(value: str) -> str:
    """PEM CA certificates that the ssl module loads, within CA_CERTIFICATE_LIMIT_BYTES."""
    if len(value.encode()) > CA_CERTIFICATE_LIMIT_BYTES:
        raise ValueError(
            f"ca_certificate is {len(value.encode()) // 1024} KiB; at most {CA_CERTIFICATE_LIMIT_BYTES // 1024} KiB "
            "fit in the workflow's state: give only the CA (root or intermediate) that signed the server's certificate"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError
        context.load_verify_locations(cadata=value)
    except (ssl.SSLError, ValueError):
        raise ValueError(
            "ca_certificate must be PEM text (-----BEGIN CERTIFICATE----- ..., newlines as \\n in JSON) of the CA "
            "that signed the server's certificate"
        ) from None
    if not context.get_ca_certs():
        raise ValueError(
            "ca_certificate holds no CA certificate (basicConstraints CA:TRUE): give the CA's, not the server's"
        )
    return value


class SetupInput(BaseModel):
    """The execution input. Unknown keys are errors: a typo must not fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    db_instance_identifier: str | None = None
    db_cluster_identifier: str | None = None
    # Self-managed (non-RDS) PostgreSQL: host + port + master_secret_arn instead of an RDS identifier.
    host: str | None = None
    port: int | None = Field(None, ge=1, le=65535)  # with host; null: 5432
    database: str | None = None  # null: the instance's initial database (DBName), else "postgres"
    schemas: list[str] = Field(default_factory=lambda: ["public"], min_length=1)
    tables: list[str] | None = None  # "schema.table"; null: every table of `schemas`
    # What the publication names: `tables` an explicit list (the tables of `schemas`, or `tables`);
    # `schemas` FOR TABLES IN SCHEMA (PostgreSQL 15+); `all_tables` FOR ALL TABLES. The last two need a
    # master user the server lets create them (superuser; rds_superuser where RDS allows): Preflight tries.
    publication_mode: Literal["tables", "schemas", "all_tables"] = "tables"
    signal_table_schema: str = names.SIGNAL_TABLE_SCHEMA
    user_name: str = names.USER_NAME
    role_name: str = names.ROLE_NAME
    publication_name: str = names.PUBLICATION_NAME
    slot_name: str = names.SLOT_NAME
    master_secret_arn: str | None = None
    # Self-managed only: the PEM text of the CA(s) its certificate chains to, verified against instead
    # of the RDS CA bundle (verify-full either way). Public data, not a secret.
    ca_certificate: str | None = None
    reboot: Literal["immediate", "never"] = "immediate"
    replica_identity: Literal["check", "full", "ignore"] = "check"
    # table: the streamkap_heartbeat table Streamkap's connector updates; message (PostgreSQL 14+):
    # no table, heartbeats are logical messages (pg_logical_emit_message); off: none. true/false: table/off.
    # auto: Preflight chooses (lambdas/logic/preflight.py resolve_heartbeat): message on 14+, the table below
    # 14 or where an earlier setup made it; every later step sees the choice, never "auto".
    heartbeat: Literal["auto", "table", "message", "off"] = "auto"
    dry_run: bool = False
    poll_seconds: int = Field(30, ge=1, le=3600)
    max_wait_minutes: int = Field(60, ge=1, le=24 * 60)
    # CreateAlarms: CloudWatch alarms on the notification topic, thresholds in GiB.
    alarm_slot_lag_gib: float = Field(5, gt=0)  # OldestReplicationSlotLag above
    alarm_wal_disk_usage_gib: float = Field(10, gt=0)  # TransactionLogsDiskUsage above
    alarm_free_storage_gib: float = Field(5, gt=0)  # FreeStorageSpace below
    # PostgreSQL 13+: WAL (MB) a slot may hold back before it is invalidated. null: the group's own
    # value, else on RDS a default from the allocated storage (lambdas/logic/parameter_group.py);
    # -1: unbounded (PostgreSQL's own -1); otherwise at least 1024.
    max_slot_wal_keep_size_mb: int | None = Field(None, le=2**31 - 1)
    # PostgreSQL 17+, RDS instances and self-managed servers (not Aurora): the slot is created with
    # `failover` (an existing one of ours is altered), so a physical standby running
    # sync_replication_slots (an RDS read replica) keeps a synced copy a promotion takes over; the
    # parameter group gets the standby side's parameters (lambdas/logic/parameter_group.py).
    failover_slot: bool = False
    # Existing objects of these kinds that the workflow did not create are taken over (marked as its
    # own) instead of refused; the plan lists each adoption (lambdas/shared/ownership.py).
    adopt: list[AdoptKind] = Field(default_factory=list)
    # An existing CDC user of ours whose secret is gone gets a new password only when this is true.
    rotate_password: bool = False
    # RegisterSource: a Secrets Manager secret (named names.STREAMKAP_API_SECRET_PREFIX..., JSON with
    # client_id and client_secret) for Streamkap's API; null: the source is not registered (the step is
    # skipped). The API's base URL, Streamkap's public one unless given (a test stand-in, say).
    streamkap_api_secret_arn: str | None = None
    streamkap_api_url: str = names.STREAMKAP_API_URL
    # allow_cidrs wider than an IPv4 /8 or IPv6 /32 (0.0.0.0/0, ::/0) only when this is true (lambdas/shared/cidrs.py).
    allow_public_cidrs: bool = False
    # Streamkap's published addresses (or the SSH tunnel's), as CIDRs: a security group of the workflow's
    # with ingress on the database port from exactly these, added to the instance's (Aurora: the cluster's)
    # groups (lambdas/logic/security_group.py). null: network access is not managed by this run.
    allow_cidrs: list[str] | None = None

    @field_validator("db_instance_identifier", "db_cluster_identifier")
    @classmethod
    def _instance_id(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not INSTANCE_ID.match(value):
            raise ValueError(
                f"{info.field_name} {value!r} is not an RDS identifier "
                "(1-63 letters, digits or hyphens, starting with a letter)"
            )
        return value

    @field_validator("database", "signal_table_schema", "publication_name")
    @classmethod
    def _names(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_identifier(value, str(info.field_name))

    @field_validator("user_name", "role_name")
    @classmethod
    def _roles(cls, value: str, info: ValidationInfo) -> str:
        check_identifier(value, str(info.field_name))
        if value.lower().startswith("pg_") or value.lower() in ("public", "none", "current_user"):
            raise ValueError(f"{info.field_name} {value!r} is reserved by PostgreSQL")
        if value.lower().startswith("rds"):
            raise ValueError(f"{info.field_name} {value!r}: names starting with 'rds' are reserved on RDS")
        return value

    @field_validator("heartbeat", mode="before")
    @classmethod
    def _heartbeat(cls, value: Any) -> Any:
        """true/false (the input before modes, and tags' "true"/"false") mean the table or none."""
        named = {True: "table", False: "off", "true": "table", "false": "off"}
        return named.get(value.lower() if isinstance(value, str) else value, value)

    @field_validator("schemas")
    @classmethod
    def _schemas(cls, value: list[str]) -> list[str]:
        for schema in value:
            check_identifier(schema, "schema")
        if len(set(value)) != len(value):
            raise ValueError("schemas contains duplicates")
        return value

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("tables must be null (all tables of the schemas) or a non-empty list")
        size = len(json.dumps(value).encode())
        if size > TABLES_INPUT_LIMIT_BYTES:
            raise ValueError(
                f"tables lists {len(value)} names ({size // 1024} KiB as JSON); at most "
                f"{TABLES_INPUT_LIMIT_BYTES // 1024} KiB fit in the workflow's state (Step Functions allows 256 KiB). "
                "Publish whole schemas instead: set tables to null and list the schemas"
            )
        for name in value:
            schema, dot, table = name.partition(".")
            if not dot:
                raise ValueError(f"table {name!r} must be written schema.table")
            check_identifier(schema, "schema")
            check_identifier(table, "table")
        return value

    @field_validator("slot_name")
    @classmethod
    def _slot(cls, value: str) -> str:
        if not SLOT_NAME.match(value):
            raise ValueError(
                f"slot_name {value!r} may contain only lower-case letters, digits and underscores (max 63)"
            )
        if value.startswith("rds"):
            raise ValueError(f"slot_name {value!r}: slot names starting with 'rds' are reserved on RDS")
        return value

    @field_validator("adopt")
    @classmethod
    def _adopt(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("allow_cidrs")
    @classmethod
    def _allow_cidrs(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is None:
            return None
        return normalize_cidrs(value, allow_public=bool(info.data.get("allow_public_cidrs")))

    @field_validator("max_slot_wal_keep_size_mb")
    @classmethod
    def _wal_keep(cls, value: int | None) -> int | None:
        if value is not None and value != WAL_KEEP_UNBOUNDED and value < 1024:
            raise ValueError(
                f"max_slot_wal_keep_size_mb {value} is too small: at least 1024 (MB), -1 for unbounded WAL, "
                "or null for the default"
            )
        return value

    @field_validator("ca_certificate")
    @classmethod
    def _ca_certificate(cls, value: str | None) -> str | None:
        return None if value is None else check_ca_certificate(value)

    @field_validator("streamkap_api_secret_arn")
    @classmethod
    def _streamkap_secret(cls, value: str | None) -> str | None:
        if value is not None and f":secret:{names.STREAMKAP_API_SECRET_PREFIX}" not in value:
            raise ValueError(
                f"streamkap_api_secret_arn {value!r} must be the ARN of a secret named "
                f"{names.STREAMKAP_API_SECRET_PREFIX}...: the workflow may read only those (JSON with client_id and "
                "client_secret)"
            )
        return value

    @field_validator("streamkap_api_url")
    @classmethod
    def _streamkap_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+(/[^\s?#]*)?$", value):
            raise ValueError(f"streamkap_api_url {value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not HOST.match(value):
            raise ValueError(f"host {value!r} is not a host name or IP address")
        return value

    @model_validator(mode="after")
    def _target(self) -> SetupInput:
        if self.host is not None:
            self._self_managed()
        elif self.port is not None:
            raise ValueError("port goes with host (self-managed PostgreSQL); RDS gives the endpoint's port itself")
        elif self.ca_certificate is not None:
            raise ValueError(
                "ca_certificate goes with host (self-managed PostgreSQL); RDS and Aurora certificates are verified "
                "against the RDS CA bundle the deployment ships (context rds_ca_bundle)"
            )
        elif not self.db_instance_identifier and not self.db_cluster_identifier:
            raise ValueError(
                "db_instance_identifier (RDS), db_cluster_identifier (Aurora) or host (self-managed) is required"
            )
        if self.db_instance_identifier and self.db_cluster_identifier:
            raise ValueError(
                "give db_instance_identifier (RDS) or db_cluster_identifier (Aurora), not both: "
                "an Aurora cluster is prepared through its writer, which the workflow finds itself"
            )
        if self.user_name == self.role_name:
            raise ValueError("user_name and role_name must differ")
        if self.tables is not None:
            outside = [t for t in self.tables if t.partition(".")[0] not in self.schemas]
            if outside:
                raise ValueError(f"tables {outside} are not in schemas {self.schemas}")
            if self.publication_mode != "tables":
                raise ValueError(
                    f"tables goes with publication_mode tables; publication_mode {self.publication_mode} publishes "
                    "whole schemas (or the whole database): set tables to null, or publication_mode to tables"
                )
        return self

    @model_validator(mode="after")
    def _history_bound(self) -> SetupInput:
        events = worst_case_history_events(self.poll_seconds, self.max_wait_minutes)
        if events > HISTORY_EVENT_BUDGET:
            largest = largest_max_wait_minutes(self.poll_seconds)
            raise ValueError(
                f"poll_seconds {self.poll_seconds} with max_wait_minutes {self.max_wait_minutes} could take "
                f"{events} execution history events, past Step Functions' limit of {HISTORY_EVENT_LIMIT:,} "
                f"(the workflow keeps {HISTORY_EVENT_BUDGET:,} for itself), which fails the run without a "
                f"notification; with poll_seconds {self.poll_seconds}, max_wait_minutes is at most {largest} "
                "(or poll less often)"
            )
        return self

    def _self_managed(self) -> None:
        if self.db_instance_identifier or self.db_cluster_identifier:
            raise ValueError(
                "host (self-managed PostgreSQL) excludes db_instance_identifier and db_cluster_identifier: "
                "for RDS or Aurora, name the instance or cluster and leave host out"
            )
        if not self.master_secret_arn:
            raise ValueError(
                "master_secret_arn is required with host: a Secrets Manager secret with the username and "
                "password of a superuser of the self-managed server"
            )
        if self.allow_cidrs is not None:
            raise ValueError(
                "allow_cidrs adds a security group to an RDS instance or Aurora cluster; a self-managed server has "
                "none the workflow could manage: allow Streamkap's addresses in its own firewall (security group, "
                "pg_hba.conf) yourself"
            )
        if self.max_slot_wal_keep_size_mb is not None:
            raise ValueError(
                "max_slot_wal_keep_size_mb sets an RDS parameter group; on self-managed PostgreSQL run "
                "ALTER SYSTEM SET max_slot_wal_keep_size = '<n>MB' and SELECT pg_reload_conf() yourself"
            )

    @property
    def self_managed(self) -> bool:
        return self.host is not None

    @property
    def server_port(self) -> int:
        return self.port or 5432

    @property
    def target_id(self) -> str:
        """The instance, the Aurora cluster or the self-managed server (host:port/database) this
        execution prepares (names its secrets, alarms, lock, notifications)."""
        return input_target_id(vars(self)) or ""

    def chosen_heartbeat(self) -> HeartbeatMode:
        """The heartbeat past Preflight, which resolves "auto" (with_preflight_choices)."""
        if self.heartbeat == "auto":
            raise ValueError("heartbeat 'auto' is resolved by Preflight: this step runs before it")
        return self.heartbeat

    @property
    def own_tables(self) -> list[str]:
        """The tables the workflow creates and publishes itself, in signal_table_schema."""
        self.chosen_heartbeat()
        return [SIGNAL_TABLE] + ([HEARTBEAT_TABLE] if self.heartbeat == "table" else [])

    @property
    def table_pairs(self) -> list[tuple[str, str]] | None:
        if self.tables is None:
            return None
        return [(s, t) for s, _, t in (name.partition(".") for name in self.tables)]


class Target(BaseModel):
    """What DescribeTarget learnt from the RDS API. Aurora: instance_id is the cluster's writer."""

    instance_id: str
    cluster_id: str | None = None
    engine: str
    engine_version: str
    major_version: int
    status: str
    parameter_group: str
    parameter_group_family: str
    parameter_apply_status: str
    host: str
    port: int
    database: str
    master_secret_arn: str
    master_username: str | None = None  # the instance's MasterUsername: never altered, adopted or dropped
    parameter_plan: list[str] = Field(default_factory=list)
    parameter_reboot_needed: bool = False
    attempt: int = 1  # polls so far while the instance is in a transient status
    self_managed: bool = False  # no RDS: no parameter group, no reboot, no RDS alarms
    ca_certificate: str | None = None  # self-managed: its CA (the input's), instead of the RDS CA bundle


class PreflightResult(BaseModel):
    server_version_num: int
    wal_level: str
    rds_roles: bool  # rds_replication exists: an RDS server (else self-managed PostgreSQL)
    plan: list[str]
    heartbeat: HeartbeatMode = "table"  # the input's, "auto" resolved


def with_preflight_choices(setup: SetupInput, preflight: PreflightResult | None) -> SetupInput:
    """The input as every step after Preflight must read it: heartbeat "auto" replaced by Preflight's choice."""
    if preflight is None or setup.heartbeat != "auto":
        return setup
    return setup.model_copy(update={"heartbeat": preflight.heartbeat})


class ParameterGroupResult(BaseModel):
    parameter_group: str
    changes: list[str]
    reboot_required: bool
    # The bound (MB) the group holds after the step; None: unbounded, PostgreSQL < 13. CreateAlarms
    # keeps the slot-lag alarm below it (lambdas/logic/monitoring.py).
    max_slot_wal_keep_size_mb: int | None = None


class RebootResult(BaseModel):
    changes: list[str]


class RebootStatus(BaseModel):
    ready: bool
    attempt: int
    status: str
    parameter_apply_status: str
    wal_level: str | None = None
    reboots: int = 0  # reboots CheckRebootStatus issued in this run (at most one beyond the first)
    waiting_because: str | None = None  # why it waits instead of rebooting again ("message" would clash in logs)


class ConfigureResult(BaseModel):
    """Counts, not names: 10,000 table names would not fit in the state (STATE_LIMIT_BYTES)."""

    changes: list[str]
    secret_arn: str
    user_tables: int  # user tables in the publication
    published_tables: int  # everything the publication holds, the signal (and heartbeat) table included
    tables_csv: str | None = None  # the user tables; None above TABLES_CSV_INLINE_LIMIT_BYTES


class SlotResult(BaseModel):
    changes: list[str]


class SecurityGroupResult(BaseModel):
    """EnsureSecurityGroup: the workflow's group admitting allow_cidrs, attached to the target."""

    group_name: str
    group_id: str | None = None
    changes: list[str]
    warnings: list[str] = Field(default_factory=list)  # e.g. a private instance Streamkap cannot reach


class VerifyResult(BaseModel):
    wal_level: str
    published_tables: int
    peek_ok: bool
    peeked_changes: int
    heartbeat_seen: bool | None = None
    heartbeat: HeartbeatMode = "table"  # how it was written: the table, a logical message, or none (off)
    # peek: the slot was idle and a bounded peek read it; live: a connector streams from it (a peek
    # would fail), and it confirmed the WAL past Verify's heartbeat (lambdas/logic/verify.py)
    proof: Literal["peek", "live"] = "peek"


class RegisteredSource(BaseModel):
    """RegisterSource: the Streamkap source of this target, as the API reports it after the step."""

    id: str
    name: str
    connector_status: str
    changes: list[str]


class SourceStreaming(BaseModel):
    """ConfirmSourceStreaming: the source's connector confirmed the slot past a fresh heartbeat."""

    slot_name: str
    heartbeat_lsn: str
    confirmed_flush_lsn: str


class StepError(BaseModel):
    Error: str
    Cause: str | None = None


class StepState(BaseModel):
    """What a state machine hands a task: the input plus one key per step run so far. A model
    declares the keys its step reads; the others (a later step's result, say) are ignored."""

    model_config = ConfigDict(extra="ignore")


class SetupInputState(StepState):
    """Any setup state past ValidateInput, whose ResultSelector makes it {input, execution_arn}:
    every later step only adds its own key, so `input` is always there, validated."""

    input: SetupInput


class SetupStepInput(SetupInputState):
    """What every setup step after ValidateInput is given, the execution's ARN included
    (the lock's holder; step() logs it as correlation_id)."""

    execution_arn: str


class AcquireLockInput(SetupStepInput):
    """The ASL's Parameters: exactly the input and the execution's ARN."""


class DescribeSelfManagedTargetInput(SetupStepInput):
    """The input alone: host, port, database, master secret."""


class DescribeTargetInput(SetupStepInput):
    target: Target | None = None  # the previous describe when WaitForTarget loops back; absent the first time


class TargetStepInput(SetupStepInput):
    """A step after DescribeTarget or DescribeSelfManagedTarget: every path to it has the target."""

    target: Target


class PlannedStepInput(TargetStepInput):
    """A step after Preflight: its input carries Preflight's choices (with_preflight_choices)."""

    preflight: PreflightResult

    @model_validator(mode="after")
    def _preflight_choices(self) -> PlannedStepInput:
        self.input = with_preflight_choices(self.input, self.preflight)
        return self


class PreflightInput(TargetStepInput):
    pass


class EnsureParameterGroupInput(PlannedStepInput):
    pass


class RebootInstanceInput(PlannedStepInput):
    pass


class CheckRebootStatusInput(PlannedStepInput):
    reboot: RebootResult  # RebootInstance runs before the first check
    reboot_status: RebootStatus | None = None  # the previous check; absent the first time


class ConfigureDatabaseInput(PlannedStepInput):
    pass


class CreateAlarmsInput(PlannedStepInput):
    # Only RDS targets get alarms (HasRdsMetrics), and on RDS every path ran EnsureParameterGroup
    parameter_group: ParameterGroupResult


class CreateSlotInput(PlannedStepInput):
    pass


class VerifyInput(PlannedStepInput):
    configure: ConfigureResult


class RegisterSourceInput(PlannedStepInput):
    configure: ConfigureResult


class ConfirmSourceStreamingInput(PlannedStepInput):
    configure: ConfigureResult
    source: RegisteredSource


class EnsureSecurityGroupInput(PlannedStepInput):
    pass


class EnsureCheckScheduleInput(PlannedStepInput):
    """After Verify, on the Ready path only."""


class CheckScheduleResult(BaseModel):
    """EnsureCheckSchedule (lambdas/logic/schedule.py): the schedule of the target, and what changed."""

    name: str
    changes: list[str]
    warnings: list[str] = Field(default_factory=list)  # no schedule made: why (lambdas/logic/schedule.py)


class ReleaseLockInput(StepState):
    """The ASL's Parameters: the whole state, whichever way out it took (its input names the lock),
    and the execution's ARN (the lock's holder)."""

    state: SetupInputState
    execution_arn: str


class FailureInput(StepState):
    """A failed run's state: the Catch's error on every path. `input` is as given: it may be the
    input that failed validation (or none, an EventBridge event), so it is read as raw JSON."""

    error: StepError
    input: Any = None


class NotifyFailureInput(FailureInput):
    # An EventBridge event's, when ReadTriggerTags failed before any input was made from it: raw,
    # as the failure notice must go out whatever the event held
    detail: Any = None
    resources: Any = None


class WorkflowState(SetupInputState):
    """The whole state, as Report gets it: every way there ran Preflight; which later steps ran, and
    so which results are there, depends on the path that ended (dry run, reboot pending, ready)."""

    target: Target
    preflight: PreflightResult
    parameter_group: ParameterGroupResult | None = None
    reboot: RebootResult | None = None
    reboot_status: RebootStatus | None = None
    configure: ConfigureResult | None = None
    slot: SlotResult | None = None
    verification: VerifyResult | None = None
    alarms: AlarmsResult | None = None
    security_group: SecurityGroupResult | None = None
    source: RegisteredSource | None = None
    source_streaming: SourceStreaming | None = None
    check_schedule: CheckScheduleResult | None = None

    @model_validator(mode="after")
    def _preflight_choices(self) -> WorkflowState:
        self.input = with_preflight_choices(self.input, self.preflight)
        return self


class Connector(BaseModel):
    """The Streamkap "Create Source" form, field by field."""

    hostname: str
    port: int
    database: str
    username: str
    password_secret_arn: str
    signal_table_schema: str
    replication_slot_name: str
    publication_name: str
    # Advanced Parameters: Streamkap's defaults (cli/form.py says where each comes from).
    snapshot_mode: Literal["When Needed"] = "When Needed"
    binary_handling_mode: Literal["bytes", "base64", "base64-url-safe", "hex"] = "bytes"
    snapshot_chunk_size: int = 1024
    max_batch_size: int = 2048


class SetupOutput(BaseModel):
    status: Literal["Ready", "DryRun", "RebootPending"]
    connector: Connector | None = None
    tables_csv: str | None = None  # None: too large for an execution output (see `message`)
    tables_count: int | None = None
    changes: list[str] = Field(default_factory=list)
    plan: list[str] | None = None
    verification: VerifyResult | None = None
    # The source as a Streamkap Terraform provider `.tf.json` (lambdas/logic/terraform.py); no password.
    terraform: dict[str, Any] | None = None
    # With streamkap_api_secret_arn: the source registered in Streamkap, and the slot it streams.
    source: RegisteredSource | None = None
    source_streaming: SourceStreaming | None = None
    message: str | None = None
    warnings: list[str] = Field(default_factory=list)  # worth acting on, not failing the run over


class SkippedOutput(BaseModel):
    """The execution output when an event names an instance or Aurora cluster that this execution
    does not set up: no opt-in tag, or an instance that is set up with its Aurora cluster.
    The target is named with the input's own key; the handler leaves out the one that is None."""

    status: Literal["Skipped"] = "Skipped"
    db_instance_identifier: str | None = None
    db_cluster_identifier: str | None = None
    message: str


class TriggerResult(BaseModel):
    """What ReadTriggerTags learnt: opted in? and the execution input the tags give."""

    instance_id: str | None = None  # the event's instance, or None when it names a cluster
    cluster_id: str | None = None  # the event's cluster, or the cluster of the event's instance
    opted_in: bool
    input: dict[str, Any] | None = None  # for ValidateInput; None when skipped
    skipped: SkippedOutput | None = None
    # An opted-in Aurora cluster without a writer yet (RDS-EVENT-0170 comes before the writer is
    # created): the ASL waits poll_seconds and reads again, `attempt` counting up to max_wait_minutes.
    waiting_for_writer: bool = False
    poll_seconds: int | None = None
    attempt: int = 1


class ReadTriggerTagsInput(StepState):
    """An EventBridge event (RDS instance or cluster event, or tag change) as the execution input:
    IsEventTrigger sends only an input with `source` and `detail` here."""

    source: str
    detail: dict[str, Any]
    resources: list[str] = Field(default_factory=list)
    trigger: TriggerResult | None = None  # the previous read, when waiting for an Aurora cluster's writer


class AlarmsResult(BaseModel):
    alarms: list[str]
    changes: list[str]
