"""The Lambda environment, read once through one typed model, and the timeouts, named here once.

The timeouts nest, so that the innermost one always fires first and reports by name:
  connect (DB_CONNECT_TIMEOUT_SECONDS: TCP + TLS + login)
  < the server-side waits (LOCK_TIMEOUT_MS for DDL; SLOT_TIMEOUT_MS, PEEK_TIMEOUT_MS as
    statement/lock timeouts of slot creation and Verify's peek): the server cancels the statement
    and says so (LongTransactionBlocking), never leaving it running behind a client that gave up
  < DB_SOCKET_TIMEOUT_SECONDS (every read from the server: only a lost network trips it)
  < the Lambda timeout (DATA_PLANE_LAMBDA_TIMEOUT_SECONDS, set by infra/functions.py), with room
    for CreateSlot's look for the slot over a new connection after a failure.
tests/unit/test_timeouts.py checks the order on the deployed values."""

import functools
import os
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lambdas.shared.names import (
    CHECK_SCHEDULE_GROUP,
    DEFAULT_OPT_IN_TAG,
    LOCK_TABLE_NAME,
    SECRET_NAME_PREFIX,
    STREAMKAP_API_URL,
)

# The Lambda timeouts infra/functions.py gives the functions: data plane (SQL, in the VPC) and control plane.
DATA_PLANE_LAMBDA_TIMEOUT_SECONDS = 120
CONTROL_PLANE_LAMBDA_TIMEOUT_SECONDS = 60
# What a data-plane step may need after its longest read gave up: a new connection and a few short
# statements (CreateSlot: end the stranded session, wait for it, look for the slot, drop it).
RECOVERY_SECONDS = 15

# The per-target lock (lambdas/logic/lock.py) is a lease that must outlast the longest run its holder
# can make, so that it never expires under a running execution; a lost one (its holder ended without
# releasing it) is taken over at once, since its holder is no longer running, and at the latest then.
# Longest run: every Lambda task of the ASL once (ReleaseLock twice), each with all its ASL retries,
# plus the poll loops that run under the lock (WaitForTarget, WaitForReboot; WaitForClusterWriter runs
# before it), each at its limit. tests/unit/test_lock.py checks these against the ASL files.
TASK_ATTEMPTS = 8  # the first + the ASL's Retry blocks: 3 Lambda.* and 4 TransientFailure retries
TASK_RETRY_WAIT_SECONDS = 2 + 4 + 8 + 4 * 30  # their backoff; TransientFailure's capped by MaxDelaySeconds
LONGEST_TASK_SECONDS = TASK_ATTEMPTS * DATA_PLANE_LAMBDA_TIMEOUT_SECONDS + TASK_RETRY_WAIT_SECONDS
LOCKED_TASK_RUNS = 30  # at least the Lambda task states of either ASL, plus one (the second release)
LOCKED_POLL_LOOPS = 2


def lock_lease_seconds(polls_per_loop: int = 0, poll_seconds: int = 0) -> int:
    """How long a lock is held at most: teardown (no poll loops) or setup (its input's poll bounds)."""
    loops = LOCKED_POLL_LOOPS * polls_per_loop * (poll_seconds + LONGEST_TASK_SECONDS) if polls_per_loop else 0
    return LOCKED_TASK_RUNS * LONGEST_TASK_SECONDS + loops


class Environment(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    notification_topic_arn: str | None = Field(None, alias="NOTIFICATION_TOPIC_ARN")
    # The CloudWatch namespace of the steps' metrics (lambdas/shared/step.py); infra/functions.py sets it.
    metrics_namespace: str = Field("RdsCdcSetup", alias="POWERTOOLS_METRICS_NAMESPACE")
    secret_name_prefix: str = Field(SECRET_NAME_PREFIX, alias="SECRET_NAME_PREFIX")
    # The DynamoDB table of per-target locks (infra/target_lock.py); only the lock steps get it.
    lock_table_name: str = Field(LOCK_TABLE_NAME, alias="LOCK_TABLE_NAME")
    secrets_kms_key_arn: str | None = Field(None, alias="SECRETS_KMS_KEY_ARN")
    # verify-full in AWS; "disable" only for the local emulated stack, whose server has no TLS.
    db_tls: Literal["verify-full", "disable"] = Field("verify-full", alias="DB_TLS")
    db_connect_timeout_seconds: int = Field(4, alias="DB_CONNECT_TIMEOUT_SECONDS", gt=0)
    # Every later read from the server; above every server-side timeout below (checked here).
    db_socket_timeout_seconds: int = Field(45, alias="DB_SOCKET_TIMEOUT_SECONDS", gt=0)
    # key=value an instance must carry for an EventBridge-started execution to set it up
    opt_in_tag: str = Field(DEFAULT_OPT_IN_TAG, alias="OPT_IN_TAG")
    # "tagged": the deployment's IAM lets the workflow modify and reboot only targets carrying the
    # opt-in tag (infra/permissions.py), so DescribeTarget refuses others before any change, by name.
    # The deployment always sets it; "account" where unset (the local stack, tests).
    target_scope: Literal["tagged", "account"] = Field("account", alias="TARGET_SCOPE")
    # Write transactions open this long are reported as blocking slot creation.
    long_transaction_seconds: int = Field(60, alias="LONG_TRANSACTION_SECONDS")
    # How long DDL and slot creation wait for a lock before giving up (never queue behind production).
    lock_timeout_ms: int = Field(5_000, alias="LOCK_TIMEOUT_MS", gt=0)
    slot_timeout_ms: int = Field(30_000, alias="SLOT_TIMEOUT_MS", gt=0)
    # Verify's bounded peek of the slot (statement_timeout).
    peek_timeout_ms: int = Field(30_000, alias="PEEK_TIMEOUT_MS", gt=0)
    # RegisterSource: each call to Streamkap's API gives up after this (a TransientFailure, retried).
    streamkap_api_timeout_seconds: float = Field(8, alias="STREAMKAP_API_TIMEOUT_SECONDS", gt=0)
    # The one Streamkap API a run may send the CDC password and the API credentials to. The deployment never
    # sets it (Streamkap's own); a test or the demo points it at the local stand-in. Not execution input:
    # whoever may start an execution must not be able to send the password to a host of their choosing.
    streamkap_api_url: str = Field(STREAMKAP_API_URL, alias="STREAMKAP_API_URL")
    # The check schedules (lambdas/logic/schedule.py): the template's schedule group, the check state
    # machine a schedule starts, the role Scheduler assumes to start it, and the deployment's rate
    # (context check_schedule; "off": the schedule is kept, disabled, as the record of the target).
    check_schedule_group: str = Field(CHECK_SCHEDULE_GROUP, alias="CHECK_SCHEDULE_GROUP")
    check_state_machine_arn: str | None = Field(None, alias="CHECK_STATE_MACHINE_ARN")
    check_scheduler_role_arn: str | None = Field(None, alias="CHECK_SCHEDULER_ROLE_ARN")
    check_schedule: str = Field("rate(1 hour)", alias="CHECK_SCHEDULE")
    # A check started by an RDS lifecycle event recreates a lost slot or publication only where the
    # deployment says so (context lifecycle_repair); otherwise it reports, loudly.
    lifecycle_repair: bool = Field(False, alias="LIFECYCLE_REPAIR")

    @property
    def longest_server_wait_ms(self) -> int:
        return max(self.lock_timeout_ms, self.slot_timeout_ms, self.peek_timeout_ms)

    @model_validator(mode="after")
    def _server_gives_up_first(self) -> Self:
        # A client that stops reading before the server cancels leaves the statement running
        # (issue 13: a slot created two seconds after its run had failed).
        socket_ms = self.db_socket_timeout_seconds * 1000
        if not (self.db_connect_timeout_seconds * 1000 < socket_ms and self.longest_server_wait_ms < socket_ms):
            raise ValueError(
                f"DB_SOCKET_TIMEOUT_SECONDS ({self.db_socket_timeout_seconds}) must exceed DB_CONNECT_TIMEOUT_SECONDS "
                f"({self.db_connect_timeout_seconds}) and every server-side timeout ({self.longest_server_wait_ms} ms)"
            )
        return self


# The variables Environment reads: a change to any of them (tests, the local runner) is seen at the next call.
_ALIASES = tuple(field.alias for field in Environment.model_fields.values() if field.alias)


def environment() -> Environment:
    """The Environment, parsed once per distinct set of its variables: a lookup of a dozen variables
    per call, validation only when one of them changed (tests and the local runner change them)."""
    return _parsed(tuple((name, os.environ.get(name) or None) for name in _ALIASES))


@functools.lru_cache(maxsize=8)
def _parsed(values: tuple[tuple[str, str | None], ...]) -> Environment:
    return Environment.model_validate({name: value for name, value in values if value is not None})


# The default max_slot_wal_keep_size on RDS PostgreSQL 13+ when the input leaves it unset
# (lambdas/logic/parameter_group.py): a tenth of the instance's AllocatedStorage, so that WAL held
# for a connector that never comes back can take at most a tenth of the disk (the rest stays for
# data growth and the FreeStorageSpace alarm); at least 2 GiB (a tenth of RDS's smallest 20 GiB
# disk; 128 WAL segments, far more than a connector restart or redeploy lets pile up at ordinary
# write rates); at most 100 GiB (a connector further behind than that takes about as long to catch
# up as a new snapshot, and the bound stays predictable on multi-TiB disks). It follows the storage
# allocated now, not MaxAllocatedStorage: storage autoscaling never shrinks, so a bound derived from
# its ceiling would let an absent connector grow the disk (and the bill) for good.
WAL_KEEP_DEFAULT_PERCENT = 10
WAL_KEEP_DEFAULT_MIN_MB = 2 * 1024
WAL_KEEP_DEFAULT_MAX_MB = 100 * 1024
