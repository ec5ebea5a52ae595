"""ReadTriggerTags over a fake tags port: which instance, opted in or skipped, settings from tags."""

from __future__ import annotations

import pytest

from lambdas.logic.opt_in import read_trigger, settings_from_tags
from lambdas.shared.errors import InvalidInput
from lambdas.shared.models import TriggerEvent

ARN = "arn:aws:rds:us-east-1:123456789012:db:orders-prod"
OPT_IN = "streamkap:cdc=enabled"


class FakeTags:
    def __init__(self, tags: dict[str, str]) -> None:
        self._tags = tags
        self.asked: list[str] = []

    def tags(self, arn: str) -> dict[str, str]:
        self.asked.append(arn)
        return self._tags


def rds_event(**detail: str) -> TriggerEvent:
    return TriggerEvent.model_validate(
        {"source": "aws.rds", "detail-type": "RDS DB Instance Event", "resources": [ARN], "detail": detail}
    )


def test_untagged_instance_is_skipped_with_a_message_naming_the_tag():
    result = read_trigger(FakeTags({"team": "orders"}), rds_event(EventID="RDS-EVENT-0005"), OPT_IN)

    assert not result.opted_in and result.input is None
    assert result.skipped is not None and result.skipped.status == "Skipped"
    assert result.skipped.db_instance_identifier == "orders-prod"
    assert "no streamkap:cdc tag" in result.skipped.message and OPT_IN in result.skipped.message


def test_a_different_value_is_not_an_opt_in():
    result = read_trigger(FakeTags({"streamkap:cdc": "Enabled"}), rds_event(), OPT_IN)
    assert not result.opted_in and "streamkap:cdc=Enabled" in result.skipped.message


def test_opted_in_instance_gets_an_input_from_the_event_and_its_setting_tags():
    tags = FakeTags(
        {
            "streamkap:cdc": "enabled",
            "streamkap:cdc/database": "orders",
            "streamkap:cdc/schemas": "public  inventory",
            "streamkap:cdc/dry-run": "true",
            "streamkap:other": "ignored",
        }
    )

    result = read_trigger(tags, rds_event(SourceArn=ARN), OPT_IN)

    assert tags.asked == [ARN]  # tags are read live, not taken from the event
    assert result.opted_in and result.skipped is None
    assert result.input == {
        "db_instance_identifier": "orders-prod",
        "database": "orders",
        "schemas": ["public", "inventory"],
        "dry_run": "true",
    }


def test_a_configured_opt_in_tag_also_names_the_settings_prefix():
    settings = settings_from_tags({"cdc": "yes", "cdc/tables": "public.a public.b", "streamkap:cdc/x": "1"}, "cdc")
    assert settings == {"tables": ["public.a", "public.b"]}


def test_the_instance_comes_from_resources_when_the_detail_has_no_arn():
    event = TriggerEvent.model_validate(
        {"source": "aws.tag", "resources": [ARN], "detail": {"tags": {"streamkap:cdc": "enabled"}}}
    )
    result = read_trigger(FakeTags({"streamkap:cdc": "enabled"}), event, OPT_IN)
    assert result.input == {"db_instance_identifier": "orders-prod"}


def test_an_event_without_an_instance_arn_is_invalid_input():
    event = TriggerEvent.model_validate(
        {"source": "aws.rds", "resources": ["arn:aws:rds:us-east-1:123456789012:cluster:c1"], "detail": {}}
    )
    with pytest.raises(InvalidInput, match="names no RDS instance"):
        read_trigger(FakeTags({}), event, OPT_IN)
