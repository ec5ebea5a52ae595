"""step(): the one wrapper of every handler: no response in X-Ray, the execution ARN on every log line,
parse and dump, and the steps' metrics as CloudWatch EMF."""

import io
import json
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
from pydantic import BaseModel

from lambdas.shared import observability
from lambdas.shared.step import step

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:cdc-setup:run-1"
HANDLERS = sorted(p for p in Path("lambdas/handlers").glob("*.py") if p.name != "__init__.py")


@dataclass
class FakeContext:
    function_name: str = "cdc-step"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:cdc-step"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class Given(BaseModel):
    name: str
    count: int = 1


class Made(BaseModel):
    changes: list[str]
    note: str | None = None


def emf_records(text: str) -> list[dict]:
    return [record for line in text.splitlines() if line.startswith("{") and "_aws" in (record := json.loads(line))]


@pytest.mark.parametrize("path", HANDLERS, ids=lambda p: p.stem)
def test_every_handler_is_a_step_and_stacks_no_powertools_decorator_itself(path):
    source = path.read_text()
    assert "@step(" in source
    assert "inject_lambda_context" not in source and "capture_lambda_handler" not in source


def test_the_response_is_not_traced():
    with mock.patch.object(observability.tracer, "capture_lambda_handler", wraps=lambda f, **_: f) as capture:

        @step(Given)
        def handler(given: Given) -> Made:
            return Made(changes=[])

    assert capture.call_args.kwargs["capture_response"] is False
    assert handler({"name": "x"}, FakeContext()) == {"changes": [], "note": None}


def test_the_event_is_parsed_into_the_model_and_the_result_dumped_as_json():
    seen = []

    @step(Given, exclude_none=True)
    def handler(given: Given) -> Made:
        seen.append(given)
        return Made(changes=[f"{given.name} x{given.count}"])

    assert handler({"name": "slot", "count": 2, "execution_arn": EXECUTION}, FakeContext()) == {"changes": ["slot x2"]}
    assert seen == [Given(name="slot", count=2)]


def test_without_a_model_the_raw_event_goes_in_and_a_dict_comes_out_unchanged():
    @step()
    def handler(event: dict) -> dict:
        return {"got": event}

    assert handler({"a": [1]}, FakeContext()) == {"got": {"a": [1]}}


def test_log_lines_carry_the_execution_arn_as_correlation_id():
    @step(Given)
    def handler(given: Given) -> Made:
        observability.logger.info("working")
        return Made(changes=[])

    def logged(event: dict) -> dict:
        stream, level = io.StringIO(), observability.logger.log_level
        previous = observability.logger.registered_handler.setStream(stream)
        observability.logger.setLevel("INFO")  # the tests run at WARNING
        try:
            handler(event, FakeContext())
        finally:
            observability.logger.registered_handler.setStream(previous)
            observability.logger.setLevel(level)
        return next(json.loads(line) for line in stream.getvalue().splitlines() if '"working"' in line)

    line = logged({"name": "x", "execution_arn": EXECUTION})
    assert line["correlation_id"] == EXECUTION
    assert line["function_request_id"] == "request-1"
    # the next invocation names none (ReadTriggerTags, the fleet's steps): no stale id from the last
    assert logged({"name": "x"}).get("correlation_id") is None


def test_changes_and_measured_values_are_published_as_metrics_of_the_step(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "CdcTest")

    @step(Given, measure=lambda made: {"RebootWaitPolls": 3})
    def handler(given: Given) -> Made:
        return Made(changes=["create slot", "create publication"])

    handler({"name": "x"}, FakeContext())
    [record] = emf_records(capsys.readouterr().out)
    [directive] = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "CdcTest"
    assert [d for d in directive["Dimensions"][0] if d != "service"] == ["step"]
    assert record["step"] == "test_step"  # the handler's module
    assert (record["Changes"], record["RebootWaitPolls"]) == ([2.0], [3.0])


def test_a_failed_invocation_is_counted_and_raised(capsys):
    @step(Given)
    def handler(given: Given) -> Made:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        handler({"name": "x"}, FakeContext())
    [record] = emf_records(capsys.readouterr().out)
    assert record["Failures"] == [1.0]


def test_a_step_with_nothing_to_count_publishes_nothing(capsys):
    @step()
    def handler(event: dict) -> dict:
        return {"released": True}

    handler({}, FakeContext())
    assert emf_records(capsys.readouterr().out) == []


def test_an_invalid_event_fails_as_validation_not_in_the_step():
    called = []

    @step(Given)
    def handler(given: Given) -> Made:
        called.append(given)
        return Made(changes=[])

    with pytest.raises(ValueError, match="name"):
        handler({"count": 2}, FakeContext())
    assert called == []


def test_disabled_metrics_print_nothing_and_pile_up_nowhere(capsys, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")  # as the local runner sets it

    @step()
    def handler(event: dict) -> Made:
        return Made(changes=["x"])

    handler({}, FakeContext())
    assert emf_records(capsys.readouterr().out) == []
    assert observability.metrics.metric_set == {}
