"""Input models parsed into named errors: pydantic's complaints, one line, as InvalidInput."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lambdas.shared.errors import InvalidInput

Model = TypeVar("Model", bound=BaseModel)


def problems(error: ValidationError, prefix: str = "") -> str:
    return "; ".join(
        f"{prefix}{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg'].removeprefix('Value error, ')}"
        for e in error.errors()
    )


def parse_or_reject(model: type[Model], data: Any, rejected: str) -> Model:
    """`rejected`: the message's first sentence, e.g. "Teardown input rejected, nothing was changed."."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(f"{rejected} {problems(error)}") from None
