"""Named errors. The class name is what Step Functions sees as the error name
(Lambda reports it as errorType), so Catch/Fail and the console show it as is.
TransientFailure is the one the ASL retries (jittered backoff) before its catch-all; every
other named error fails the run at once."""


def some(names: list[str], limit: int = 20) -> str:
    """The first `limit` names and how many more: an error message stays short at 10,000 tables."""
    extra = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {extra} more" if extra > 0 else "")


class WorkflowError(Exception):
    """Base class: a failure a DBA can act on. Messages say what, where and how to fix;
    they never contain secret values."""


class InvalidInput(WorkflowError):
    """The input, or what it names (database, schema, table, secret), is not usable."""


class TargetNotFound(WorkflowError):
    """No such RDS instance or Aurora cluster in this account and region."""


class UnsupportedEngine(WorkflowError):
    """Not PostgreSQL (postgres / aurora-postgresql)."""


class UnsupportedVersion(WorkflowError):
    """PostgreSQL older than 10: no pgoutput."""


class ReadReplicaNotSupported(WorkflowError):
    """A read replica: the setup belongs on the primary."""


class TargetNotAvailable(WorkflowError):
    """Stopped, failed, or stuck in a transient status past max_wait_minutes."""


class DatabaseUnreachable(WorkflowError):
    """No connection or no login (network, credentials)."""


class TlsFailure(WorkflowError):
    """The database's certificate could not be verified (verify-full): its CA is not among the trusted
    ones (the RDS CA bundle, or a self-managed target's ca_certificate), it does not name the host, it
    expired, the server refuses TLS, or the Lambda code lacks its RDS CA bundle. Never retried."""


class InsufficientPrivilege(WorkflowError):
    """The master user, or the workflow's IAM role, may not do what the plan needs."""


class CapacityExhausted(WorkflowError):
    """No free replication slot, WAL sender, connection, or room in the lock table."""


class ReplicaIdentityMissing(WorkflowError):
    """Published tables without key or replica identity would break UPDATE/DELETE."""


class SlotConflict(WorkflowError):
    """A slot with our name exists for another plugin or database."""


class PublicationConflict(WorkflowError):
    """A publication with our name holds tables this run would not publish, or was made in another
    publication_mode (a mode is not switched in place: teardown drops it, setup makes it again)."""


class PublicationModeNotAllowed(WorkflowError):
    """publication_mode schemas or all_tables: the master user may not create such a publication here
    (PostgreSQL allows it superusers only; RDS/Aurora's rds_superuser where the engine allows it),
    found by trying in a transaction that was rolled back."""


class LongTransactionBlocking(WorkflowError):
    """Open write transactions or held locks would make slot creation or DDL wait."""


class RebootTimeout(WorkflowError):
    """The reboot did not bring wal_level=logical within max_wait_minutes."""


class VerificationFailed(WorkflowError):
    """The new user cannot read the slot, or the publication is not as planned."""


class ConcurrentExecution(WorkflowError):
    """An earlier execution is already preparing the same target."""


class NotOwned(WorkflowError):
    """An object with a name the workflow uses exists without the workflow's marker (someone
    else's), or is one the workflow never touches (master, superuser, another team's group);
    the message names it and, where taking it over is allowed, the `adopt` kind that would."""


class SlotInUse(WorkflowError):
    """Teardown: a connector is reading the slot; dropping it needs `force`."""


class TransientFailure(WorkflowError):
    """AWS throttled or failed on its side (5xx), or a connection was refused, reset or timed out:
    likely gone on its own in seconds. Every Lambda task of the ASL retries it with jittered backoff;
    it fails a run only once those retries are spent. `database_not_ready`: the database refused
    connections while (re)starting, which CheckRebootStatus counts as a poll, not a failure."""

    def __init__(self, message: str, *, database_not_ready: bool = False) -> None:
        super().__init__(message)
        self.database_not_ready = database_not_ready


class DependentObjects(WorkflowError):
    """Teardown: the role still has privileges or objects the run may not remove."""


class StreamkapAuthFailed(WorkflowError):
    """RegisterSource: Streamkap's API refused the client id/secret or the token (HTTP 401/403)."""


class StreamkapConflict(WorkflowError):
    """RegisterSource: Streamkap's API answered 409 (a source of that name was made meanwhile, or the
    change collides with another): nothing was changed by the workflow; start the execution again."""


class StreamkapApiFailed(WorkflowError):
    """RegisterSource: Streamkap's API answered with an error that a retry will not mend (a 500, a
    rejected config), or the source it registered went Broken/Paused/Stopped instead of Active."""
