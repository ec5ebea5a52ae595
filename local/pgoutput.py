"""Just enough of the pgoutput binary protocol (v1) to show a change as a DBA reads it."""

from __future__ import annotations

import struct
from dataclasses import dataclass


@dataclass(frozen=True)
class RowChange:
    operation: str  # INSERT / UPDATE / DELETE
    table: str
    values: dict[str, str | None]

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{self.operation} {self.table} ({shown})"


def _cstring(data: bytes, at: int) -> tuple[str, int]:
    end = data.index(b"\x00", at)
    return data[at:end].decode(), end + 1


def _tuple(data: bytes, at: int) -> tuple[list[str | None], int]:
    (count,) = struct.unpack_from("!h", data, at)
    at += 2
    values: list[str | None] = []
    for _ in range(count):
        kind = data[at : at + 1]
        at += 1
        if kind == b"t":
            (length,) = struct.unpack_from("!i", data, at)
            values.append(data[at + 4 : at + 4 + length].decode())
            at += 4 + length
        else:  # n: null, u: unchanged TOAST
            values.append(None)
    return values, at


def decode(messages: list[bytes]) -> list[RowChange]:
    relations: dict[int, tuple[str, list[str]]] = {}
    changes: list[RowChange] = []
    for message in messages:
        kind = message[:1]
        if kind == b"R":
            (oid,) = struct.unpack_from("!I", message, 1)
            namespace, at = _cstring(message, 5)
            name, at = _cstring(message, at)
            at += 1  # replica identity
            (count,) = struct.unpack_from("!h", message, at)
            at += 2
            columns = []
            for _ in range(count):
                at += 1  # flags
                column, at = _cstring(message, at)
                columns.append(column)
                at += 8  # type oid, type modifier
            relations[oid] = (f"{namespace}.{name}", columns)
        elif kind in (b"I", b"U", b"D"):
            (oid,) = struct.unpack_from("!I", message, 1)
            at = 5
            old: list[str | None] = []
            if kind != b"I" and message[at : at + 1] in (b"K", b"O"):
                old, at = _tuple(message, at + 1)  # old key / old row
            values = old if kind == b"D" else _tuple(message, at + 1)[0]  # skip the 'N' tag
            table, columns = relations.get(oid, (f"oid {oid}", [f"col{i}" for i in range(len(values))]))
            operation = {b"I": "INSERT", b"U": "UPDATE", b"D": "DELETE"}[kind]
            changes.append(RowChange(operation, table, dict(zip(columns, values, strict=False))))
    return changes
