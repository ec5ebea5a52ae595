"""One lock per target, shared by setup, teardown and fleet members (each a setup execution).

The lock is a lease on a DynamoDB item (lambdas/dal/locks.py) keyed by the normalised target: one
per RDS instance, Aurora cluster or self-managed server, not per database, since the roles the
workflow creates are server-wide and its parameter group and reboot are instance-wide. Taking it
is one conditional write, so two executions started together cannot both win (ListExecutions,
which the old check used, lags for just-started executions).

A lease whose holder no longer runs (it failed or was aborted without releasing: an abort runs
no Catch) is taken over at once; a lease outlives its holder's longest possible run
(lambdas/shared/settings.py lock_lease_seconds), so it never expires under a running holder,
and a lost one is freed at the latest when it expires."""

from __future__ import annotations

from typing import Literal, Protocol

from lambdas.dal.locks import Lease
from lambdas.shared.errors import ConcurrentExecution
from lambdas.shared.models import SetupInput, poll_count
from lambdas.shared.settings import lock_lease_seconds

Operation = Literal["setup", "teardown", "check"]
ATTEMPTS = 3  # write, read, take over: again only if the lease changed hands in between


class LockTable(Protocol):
    def put_unless_held(self, lease: Lease, now: int) -> bool: ...
    def take_over(self, lease: Lease, previous_holder: str) -> bool: ...
    def get(self, target: str) -> Lease | None: ...
    def release(self, target: str, holder: str) -> bool: ...


class ExecutionStatus(Protocol):
    def running(self, execution_arn: str) -> bool: ...


def target_key(setup: SetupInput) -> str:
    """The lock's key. RDS instance and cluster identifiers are case-insensitive (RDS stores them
    lowercased), and are separate namespaces; a host name is case-insensitive and may end in the
    root's dot; a server is a host and a port, whatever database the input names."""
    if setup.host is not None:
        return f"server:{setup.host.lower().rstrip('.')}:{setup.server_port}"
    if setup.db_cluster_identifier:
        return f"cluster:{setup.db_cluster_identifier.lower()}"
    return f"instance:{(setup.db_instance_identifier or '').lower()}"


def lease_seconds(setup: SetupInput, operation: Operation) -> int:
    """Setup waits in its poll loops up to its input's bounds; teardown and check have no loop."""
    if operation != "setup":
        return lock_lease_seconds()
    return lock_lease_seconds(poll_count(setup.poll_seconds, setup.max_wait_minutes), setup.poll_seconds)


def execution_name(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]


def acquire(
    locks: LockTable,
    executions: ExecutionStatus,
    *,
    target: str,
    holder: str,
    operation: Operation,
    now: int,
    lease_seconds: int,
) -> Lease:
    """Take the target's lock for `holder`, or raise ConcurrentExecution naming who holds it.
    Idempotent: the holder taking it again renews it."""
    lease = Lease(target, holder, operation, acquired_at=now, expires_at=now + lease_seconds)
    for _ in range(ATTEMPTS):
        if locks.put_unless_held(lease, now):
            return lease
        current = locks.get(target)
        if current is None:  # released in between: write again
            continue
        if executions.running(current.holder):
            raise ConcurrentExecution(_held_by(current))
        # Its holder ended without releasing it (aborted, or failed before its release step):
        # take it over, on condition that nobody else did first.
        if locks.take_over(lease, current.holder):
            return lease
    current = locks.get(target)
    if current is not None:
        raise ConcurrentExecution(_held_by(current))
    raise ConcurrentExecution(
        f"The lock on {target} kept changing hands; this execution stopped before changing anything. Start it again"
    )


def release(locks: LockTable, *, target: str, holder: str) -> bool:
    """Release the lock if `holder` holds it; never another execution's. False: not held (any more)."""
    return locks.release(target, holder)


def take_for(
    locks: LockTable, executions: ExecutionStatus, setup: SetupInput, holder: str, operation: Operation, now: int
) -> Lease:
    """AcquireLock / AcquireTeardownLock: the lock on the validated input's target."""
    return acquire(
        locks,
        executions,
        target=target_key(setup),
        holder=holder,
        operation=operation,
        now=now,
        lease_seconds=lease_seconds(setup, operation),
    )


def give_back_for(locks: LockTable, setup: SetupInput, holder: str) -> bool:
    """ReleaseLock / ReleaseTeardownLock, on every way out past the input's validation (a run whose
    input failed it goes to NotifyFailure directly: it took no lock). False: `holder` held none."""
    return release(locks, target=target_key(setup), holder=holder)


def _held_by(lease: Lease) -> str:
    return (
        f"Execution {execution_name(lease.holder)} ({lease.operation}) is already working on {lease.target}; "
        "this one stopped before changing anything. Wait for it to finish (its result says what it did), "
        "then start this one again"
    )
