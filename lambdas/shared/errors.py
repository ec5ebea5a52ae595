"""Named errors. The class name is what Step Functions sees as the error name
(Lambda reports it as errorType), so Catch/Fail and the console show it as is."""


class WorkflowError(Exception):
    """Base class: a failure a DBA can act on. Messages say what, where and how to fix;
    they never contain secret values."""


class InvalidInput(WorkflowError):
    pass


class TargetNotFound(WorkflowError):
    pass


class UnsupportedEngine(WorkflowError):
    pass


class UnsupportedVersion(WorkflowError):
    pass


class ReadReplicaNotSupported(WorkflowError):
    pass


class TargetNotAvailable(WorkflowError):
    pass


class DatabaseUnreachable(WorkflowError):
    pass


class InsufficientPrivilege(WorkflowError):
    pass


class CapacityExhausted(WorkflowError):
    pass


class ReplicaIdentityMissing(WorkflowError):
    pass


class SlotConflict(WorkflowError):
    pass


class PublicationConflict(WorkflowError):
    pass


class LongTransactionBlocking(WorkflowError):
    pass


class RebootTimeout(WorkflowError):
    pass


class VerificationFailed(WorkflowError):
    pass


class ConcurrentExecution(WorkflowError):
    pass


class SlotInUse(WorkflowError):
    """Teardown: a connector is reading the slot; dropping it needs `force`."""


class DependentObjects(WorkflowError):
    """Teardown: the role still has privileges or objects the run may not remove."""
