"""Two synthesized stacks, made once per session: defaults, and a VPC with every option set."""

from __future__ import annotations

import pytest

from tests.infra.synth import VPC_CONTEXT, Synth, synthesize


@pytest.fixture(scope="session")
def default(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="session")
def with_vpc(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("vpc"), **VPC_CONTEXT)


@pytest.fixture(params=["default", "with_vpc"])
def synth(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(request.param)
