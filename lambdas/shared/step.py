"""step(): what every handler in lambdas/handlers does around its logic, written once.

    @step(ConfigureDatabaseInput)
    def handler(state: ConfigureDatabaseInput) -> ConfigureResult:
        ...

gives Lambda (and local/workflow_runner.py, which calls it in-process) a `handler(event, context)` that
- logs with the Lambda context and the execution's ARN as correlation_id (the ASL passes
  `execution_arn` to every step after ValidateInput; ReadTriggerTags and the fleet's steps run
  before or outside one and log without it),
- traces the invocation without its response: responses hold hostnames, secret ARNs and a tables
  CSV of up to 80 KiB, none of which belongs in X-Ray (errors are still recorded),
- parses the event into `model` (the raw event where `model` is None), and dumps a returned model
  as JSON (a returned dict is passed through); `model` is the step's input model (models.py), which
  mypy holds the handler's parameter to, and INPUT_MODELS records it per handler module for the tests
  that check it against the ASL (tests/unit/test_step_inputs.py),
- publishes the step's metrics as CloudWatch EMF: Changes (the changes a step made), Failures
  (an invocation that raised), and whatever `measure` returns for the result (RebootWaitPolls,
  Verified), each with the step as dimension, under POWERTOOLS_METRICS_NAMESPACE.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.settings import environment

Handler = Callable[[Any, LambdaContext], Any]
Model = TypeVar("Model", bound=BaseModel)

# The model each handler module's step parses its event into (None: the raw event).
INPUT_MODELS: dict[str, type[BaseModel] | None] = {}

# The key the ASL passes the execution's ARN under ("execution_arn.$": "$$.Execution.Id").
EXECUTION_KEY = "execution_arn"


@overload
def step(
    model: type[Model],
    *,
    exclude_none: bool = False,
    measure: Callable[[Any], Mapping[str, float]] | None = None,
) -> Callable[[Callable[[Model], Any]], Handler]: ...


@overload
def step(
    model: None = None,
    *,
    exclude_none: bool = False,
    measure: Callable[[Any], Mapping[str, float]] | None = None,
) -> Callable[[Callable[[Any], Any]], Handler]: ...


def step(
    model: type[BaseModel] | None = None,
    *,
    exclude_none: bool = False,
    measure: Callable[[Any], Mapping[str, float]] | None = None,
) -> Callable[[Callable[[Any], Any]], Handler]:
    """The Lambda handler of one step; `exclude_none` as for model_dump, `measure` the step's own metrics."""

    def decorate(body: Callable[[Any], Any]) -> Handler:
        name = body.__module__.rpartition(".")[2]
        INPUT_MODELS[body.__module__] = model

        @functools.wraps(body)
        def run(event: Any, context: LambdaContext) -> Any:
            logger.set_correlation_id(execution_id(event))
            try:
                result = body(model.model_validate(event) if model is not None else event)
            except Exception:
                publish(name, {"Failures": 1})
                raise
            values = dict(measure(result)) if measure else {}
            changes = getattr(result, "changes", None)
            if isinstance(changes, list):
                values["Changes"] = len(changes)
            publish(name, values)
            if isinstance(result, BaseModel):
                return result.model_dump(mode="json", exclude_none=exclude_none)
            return result

        traced = tracer.capture_lambda_handler(run, capture_response=False)
        return logger.inject_lambda_context(traced)

    return decorate


def execution_id(event: Any) -> str | None:
    """The ARN of the execution running the step, where the ASL passed it."""
    value = event.get(EXECUTION_KEY) if isinstance(event, dict) else None
    return value if isinstance(value, str) else None


def publish(step_name: str, values: Mapping[str, float]) -> None:
    """One EMF record of the step's metrics on stdout (CloudWatch Logs turns it into metrics); none if empty."""
    if not values or is_metrics_disabled():  # disabled: Powertools would keep them, never flushed
        return
    metrics.provider.namespace = environment().metrics_namespace
    metrics.add_dimension(name="step", value=step_name)
    for metric, value in values.items():
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()
