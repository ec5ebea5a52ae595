"""Where the local servers' folders go (local/postgres_server.py scratch_dir)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from local import postgres_server
from local.postgres_server import SCRATCH_MIN_FREE_BYTES, scratch_dir


def free_space(monkeypatch: pytest.MonkeyPatch, free_bytes: int) -> None:
    blocks = SimpleNamespace(f_bavail=free_bytes // 4096, f_frsize=4096)
    monkeypatch.setattr(postgres_server.os, "statvfs", lambda path: blocks)


def test_memory_is_used_only_with_room_for_many_servers(monkeypatch, tmp_path):
    monkeypatch.delenv("RDS_CDC_PG_SCRATCH", raising=False)
    free_space(monkeypatch, SCRATCH_MIN_FREE_BYTES)
    assert scratch_dir(str(tmp_path)) == str(tmp_path)
    free_space(monkeypatch, SCRATCH_MIN_FREE_BYTES - 4096)  # a container's 64 MB /dev/shm, say
    assert scratch_dir(str(tmp_path)) is None


def test_no_memory_folder_or_an_unwritable_one_falls_back_to_the_temp_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("RDS_CDC_PG_SCRATCH", raising=False)
    assert scratch_dir(str(tmp_path / "absent")) is None
    free_space(monkeypatch, SCRATCH_MIN_FREE_BYTES)
    monkeypatch.setattr(postgres_server.os, "access", lambda path, mode: mode != os.W_OK)
    assert scratch_dir(str(tmp_path)) is None


def test_the_environment_names_the_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("RDS_CDC_PG_SCRATCH", str(tmp_path))
    assert scratch_dir("/nonexistent") == str(tmp_path)
