"""The RDS emulator wraps moto's model properties: it finds their getters, or says moto changed."""

from __future__ import annotations

import pytest
from moto.rds.models import DBCluster, DBInstance

from local.rds_emulator import property_getter


def test_the_getter_of_a_moto_property_is_the_function_behind_it() -> None:
    assert property_getter(DBInstance, "address") is DBInstance.__dict__["address"].fget
    assert property_getter(DBCluster, "endpoint").__name__ == "endpoint"


def test_a_moto_method_that_is_no_longer_a_property_is_named() -> None:
    with pytest.raises(TypeError, match=r"moto's DBInstance.db_parameter_groups is no longer a property"):
        property_getter(DBInstance, "db_parameter_groups")
