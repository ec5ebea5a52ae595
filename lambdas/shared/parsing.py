"""Input models parsed into named errors: pydantic's complaints, one line, as InvalidInput."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lambdas.shared.errors import InvalidInput

Model = TypeVar("Model", bound=BaseModel)


def problems(error: ValidationError, prefix: str = "", known: Iterable[str] = ()) -> str:
    """One line. An unknown top-level key names the closest of `known` (the model's keys): keys only,
    never a value, which could be a secret."""
    keys = list(known)
    found = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "input"
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown key"
            close = difflib.get_close_matches(str(e["loc"][-1]), keys, n=1) if len(e["loc"]) == 1 else []
            if close:
                message += f"; did you mean {prefix}{close[0]}?"
        found.append(f"{prefix}{where}: {message}")
    return "; ".join(found)


def parse_or_reject(model: type[Model], data: Any, rejected: str) -> Model:
    """`rejected`: the message's first sentence, e.g. "Teardown input rejected, nothing was changed."."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(f"{rejected} {problems(error, known=model.model_fields)}") from None
