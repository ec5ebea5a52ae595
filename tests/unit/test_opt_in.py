"""ReadTriggerTags over a fake RDS port: which instance or Aurora cluster, opted in or skipped,
settings from tags (an allow-list: never a target, secret, name or opt-in), Aurora members
skipped, a new cluster waited for until it has a writer."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

from lambdas.dal.clients import client
from lambdas.dal.tags import RdsTags
from lambdas.handlers.validate_input import parse_input
from lambdas.logic import opt_in
from lambdas.logic.opt_in import TAG_SETTINGS, event_target, read_trigger, settings_from_tags
from lambdas.shared.errors import InvalidInput, TargetNotAvailable, TargetNotFound
from lambdas.shared.models import ReadTriggerTagsInput, SetupInput, TriggerResult

ARN = "arn:aws:rds:us-east-1:123456789012:db:orders-prod"
CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:orders-aurora"
OPT_IN = "streamkap:cdc=enabled"


class FakeTags:
    def __init__(
        self, tags: dict[str, str], *, instance_cluster: str | None = None, cluster_has_writer: bool = True
    ) -> None:
        self._tags = tags
        self._instance_cluster = instance_cluster
        self._cluster_has_writer = cluster_has_writer
        self.asked: list[str] = []

    def tags(self, arn: str) -> dict[str, str]:
        self.asked.append(arn)
        return self._tags

    def instance_cluster(self, instance_id: str) -> str | None:
        self.asked.append(f"cluster of {instance_id}")
        return self._instance_cluster

    def cluster_has_writer(self, cluster_id: str) -> bool:
        self.asked.append(f"writer of {cluster_id}")
        return self._cluster_has_writer


def rds_event(**detail: str) -> ReadTriggerTagsInput:
    return ReadTriggerTagsInput.model_validate(
        {"source": "aws.rds", "detail-type": "RDS DB Instance Event", "resources": [ARN], "detail": detail}
    )


def cluster_created(previous: TriggerResult | None = None) -> ReadTriggerTagsInput:
    """RDS-EVENT-0170 as the state machine gets it; `previous`: ReadTriggerTags' last result (a wait loop)."""
    event = {
        "source": "aws.rds",
        "detail-type": "RDS DB Cluster Event",
        "resources": [CLUSTER_ARN],
        "detail": {"SourceArn": CLUSTER_ARN, "SourceIdentifier": "orders-aurora", "EventID": "RDS-EVENT-0170"},
    }
    if previous:
        event["trigger"] = previous.model_dump(mode="json", exclude_none=True)
    return ReadTriggerTagsInput.model_validate(event)


def test_untagged_instance_is_skipped_with_a_message_naming_the_tag():
    result = read_trigger(FakeTags({"team": "orders"}), rds_event(EventID="RDS-EVENT-0005"), OPT_IN)

    assert not result.opted_in and result.input is None
    assert result.skipped is not None and result.skipped.status == "Skipped"
    assert result.skipped.db_instance_identifier == "orders-prod"
    assert result.skipped.db_cluster_identifier is None
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
            "streamkap:cdc/replica_identity": "full",
            "streamkap:other": "ignored",
        }
    )

    result = read_trigger(tags, rds_event(SourceArn=ARN), OPT_IN)

    assert tags.asked == ["cluster of orders-prod", ARN]  # tags are read live, not taken from the event
    assert result.opted_in and result.skipped is None and not result.waiting_for_writer
    assert result.input == {
        "db_instance_identifier": "orders-prod",
        "database": "orders",
        "schemas": ["public", "inventory"],
        "replica_identity": "full",
    }


def test_a_configured_opt_in_tag_also_names_the_settings_prefix():
    settings = settings_from_tags({"cdc": "yes", "cdc/tables": "public.a public.b", "streamkap:cdc/x": "1"}, "cdc")
    assert settings == {"tables": ["public.a", "public.b"]}


# ---- the tag allow-list: tags tune the run on the event's target, never choose what it touches ----

# Every input key a tag may not set, as a tag would spell it. The test below ties this to SetupInput:
# a new input key fails it until it is put in TAG_SETTINGS or here, deliberately.
FORBIDDEN_TAGS = {
    "db_instance_identifier": "db-instance-identifier",
    "db_cluster_identifier": "db-cluster-identifier",
    "host": "host",
    "port": "port",
    "master_secret_arn": "master-secret-arn",
    "ca_certificate": "ca-certificate",
    "user_name": "user-name",
    "role_name": "role_name",  # underscores are read too, and refused as well
    "publication_name": "publication-name",
    "slot_name": "slot-name",
    "signal_table_schema": "signal-table-schema",
    "adopt": "adopt",
    "rotate_password": "rotate-password",
    "dry_run": "dry-run",
    "publication_mode": "publication-mode",  # all_tables would publish every table of the database
    "streamkap_api_secret_arn": "streamkap-api-secret-arn",  # a secret, and a registration somewhere else
    "streamkap_api_url": "streamkap-api-url",  # would send the database password to another host
    # Who may tag an instance must not open its database port to the internet.
    "allow_cidrs": "allow-cidrs",
    "allow_public_cidrs": "allow-public-cidrs",
    # Alters an existing slot and sets hot_standby_feedback (a replica then holds back VACUUM): a hand start's choice.
    "failover_slot": "failover-slot",
}
ALLOWED_VALUES = {
    "database": ("orders", "orders"),
    "schemas": ("public inventory", ["public", "inventory"]),
    "tables": ("public.orders  inventory.stock", ["public.orders", "inventory.stock"]),
    "reboot": ("never", "never"),
    "replica_identity": ("full", "full"),
    "heartbeat": ("false", "false"),
    "poll_seconds": ("10", "10"),
    "max_wait_minutes": ("5", "5"),
    "alarm_slot_lag_gib": ("2", "2"),
    "alarm_wal_disk_usage_gib": ("20", "20"),
    "alarm_free_storage_gib": ("1.5", "1.5"),
    "max_slot_wal_keep_size_mb": ("4096", "4096"),
}


def test_every_input_key_is_either_allowed_on_a_tag_or_refused():
    assert set(ALLOWED_VALUES) == TAG_SETTINGS
    assert set(SetupInput.model_fields) == TAG_SETTINGS | FORBIDDEN_TAGS.keys()
    assert not TAG_SETTINGS & FORBIDDEN_TAGS.keys()


def test_each_allow_listed_setting_tag_is_parsed_and_valid_input():
    tags = {f"streamkap:cdc/{name.replace('_', '-')}": raw for name, (raw, _) in ALLOWED_VALUES.items()}

    settings = settings_from_tags({"streamkap:cdc": "enabled", **tags}, "streamkap:cdc")

    assert settings == {name: parsed for name, (_, parsed) in ALLOWED_VALUES.items()}
    SetupInput.model_validate({"db_instance_identifier": "orders-prod", **settings})  # ValidateInput takes them


@pytest.mark.parametrize("setting", [*FORBIDDEN_TAGS.values(), "databse", "Database"])
def test_a_setting_tag_outside_the_allow_list_is_refused_naming_the_tag(setting: str):
    # Given an opted-in instance with a tag that would choose the target, a name, a secret, an opt-in, or a typo
    tag_key = f"streamkap:cdc/{setting}"
    port = FakeTags({"streamkap:cdc": "enabled", "streamkap:cdc/database": "orders", tag_key: "orders-prod-2"})

    # Then ReadTriggerTags fails, naming the tag as written and the settings a tag may set
    with pytest.raises(InvalidInput) as refused:
        read_trigger(port, rds_event(SourceArn=ARN), OPT_IN)
    message = str(refused.value)
    assert f"Refused setting tags: {tag_key}." in message
    assert "streamkap:cdc/<setting> for: alarm-free-storage-gib, alarm-slot-lag-gib," in message
    assert "tables" in message and "max-slot-wal-keep-size-mb" in message
    assert "orders-prod-2" not in message  # tag values are not echoed
    assert port.asked == ["cluster of orders-prod", ARN]


def test_all_refused_tags_are_named_at_once():
    tags = {
        "streamkap:cdc": "enabled",
        "streamkap:cdc/db-instance-identifier": "orders-prod",
        "streamkap:cdc/User_Name": "postgres",
        "streamkap:cdc/schemas": "public",
    }
    with pytest.raises(InvalidInput) as refused:
        settings_from_tags(tags, "streamkap:cdc")
    # The whole message: what was refused, what tags may set, and why the rest is given only by hand
    allowed = ", ".join(sorted(name.replace("_", "-") for name in TAG_SETTINGS))
    assert str(refused.value) == (
        "Refused setting tags: streamkap:cdc/User_Name, streamkap:cdc/db-instance-identifier. The event names the "
        f"instance or cluster; tags may set only streamkap:cdc/<setting> for: {allowed}. Remove the refused tags: "
        "a target, host, port, secret, user, role or object name, adopt, rotate_password or dry_run is given only "
        "when starting the workflow by hand; nothing was changed."
    )


def test_a_refused_tag_on_a_cluster_without_a_writer_fails_at_once_instead_of_waiting():
    port = FakeTags(
        {"streamkap:cdc": "enabled", "streamkap:cdc/db-instance-identifier": "orders-prod"}, cluster_has_writer=False
    )
    with pytest.raises(InvalidInput, match="streamkap:cdc/db-instance-identifier"):
        read_trigger(port, cluster_created(), OPT_IN)


def test_setting_tags_do_not_matter_without_the_opt_in():
    port = FakeTags({"streamkap:cdc": "disabled", "streamkap:cdc/user-name": "postgres"})
    result = read_trigger(port, rds_event(SourceArn=ARN), OPT_IN)
    assert not result.opted_in and result.input is None


@pytest.mark.parametrize(
    ("event", "key", "identifier"),
    [
        (rds_event(SourceArn=ARN), "db_instance_identifier", "orders-prod"),
        (cluster_created(), "db_cluster_identifier", "orders-aurora"),
    ],
    ids=["instance", "cluster"],
)
def test_the_event_names_the_target_even_if_the_allow_list_were_widened(
    monkeypatch: pytest.MonkeyPatch, event: ReadTriggerTagsInput, key: str, identifier: str
):
    # Given an allow-list that (wrongly) let a tag name the target: the event's identifier still wins
    monkeypatch.setattr(opt_in, "TAG_SETTINGS", TAG_SETTINGS | {key})
    port = FakeTags({"streamkap:cdc": "enabled", f"streamkap:cdc/{key}": "someone-else"})

    result = read_trigger(port, event, OPT_IN)

    assert result.input[key] == identifier


def test_the_instance_comes_from_resources_when_the_detail_has_no_arn():
    event = ReadTriggerTagsInput.model_validate(
        {"source": "aws.tag", "resources": [ARN], "detail": {"tags": {"streamkap:cdc": "enabled"}}}
    )
    result = read_trigger(FakeTags({"streamkap:cdc": "enabled"}), event, OPT_IN)
    assert result.input == {"db_instance_identifier": "orders-prod"}


@pytest.mark.parametrize(
    ("arn", "kind", "identifier"),
    [
        (ARN, "db", "orders-prod"),
        (CLUSTER_ARN, "cluster", "orders-aurora"),
        ("arn:aws-cn:rds:cn-north-1:123456789012:cluster:c1", "cluster", "c1"),
        ("arn:aws-us-gov:rds:us-gov-west-1:123456789012:db:orders-1", "db", "orders-1"),
    ],
)
def test_instance_and_cluster_arns_of_any_partition_name_the_target(arn: str, kind: str, identifier: str):
    target = event_target(ReadTriggerTagsInput.model_validate({"source": "aws.tag", "resources": [arn], "detail": {}}))
    assert (target.arn, target.kind, target.identifier) == (arn, kind, identifier)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:rds:us-east-1:123456789012:cluster-pg:orders-aurora-streamkap-cdc",
        "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:orders-aurora-2024-05-01",
        "arn:aws:rds:us-east-1:123456789012:snapshot:orders-prod-final",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-0000000aaaaaaaaaa",
    ],
    ids=["cluster-parameter-group", "cluster-snapshot", "snapshot", "ec2"],
)
def test_an_event_without_an_instance_or_cluster_arn_is_invalid_input(arn: str):
    event = ReadTriggerTagsInput.model_validate({"source": "aws.rds", "resources": [arn], "detail": {}})
    with pytest.raises(InvalidInput, match="names no RDS instance or Aurora cluster"):
        read_trigger(FakeTags({}), event, OPT_IN)


def test_a_tagged_cluster_gets_an_input_naming_the_cluster_and_its_setting_tags():
    tags = FakeTags({"streamkap:cdc": "enabled", "streamkap:cdc/database": "orders", "streamkap:cdc/reboot": "never"})

    result = read_trigger(tags, cluster_created(), OPT_IN)

    assert tags.asked == [CLUSTER_ARN, "writer of orders-aurora"]  # ListTagsForResource on the cluster's ARN
    assert result.opted_in and not result.waiting_for_writer
    assert (result.instance_id, result.cluster_id) == (None, "orders-aurora")
    assert result.input == {"db_cluster_identifier": "orders-aurora", "database": "orders", "reboot": "never"}


def test_an_untagged_cluster_is_skipped_naming_the_cluster_only():
    result = read_trigger(FakeTags({}), cluster_created(), OPT_IN)

    assert not result.opted_in and result.input is None
    skipped = result.skipped.model_dump(mode="json", exclude_none=True)  # as the handler returns it
    assert skipped == {
        "status": "Skipped",
        "db_cluster_identifier": "orders-aurora",
        "message": f"Aurora cluster orders-aurora has no streamkap:cdc tag; tag it {OPT_IN} to have it set up for CDC.",
    }


@pytest.mark.parametrize("instance_tags", [{}, {"streamkap:cdc": "enabled"}], ids=["untagged", "tagged"])
def test_an_aurora_member_instance_is_skipped_and_told_to_tag_its_cluster(instance_tags: dict[str, str]):
    # Given an instance that DescribeDBInstances shows in cluster orders-aurora, tagged or not
    tags = FakeTags(instance_tags, instance_cluster="orders-aurora")

    result = read_trigger(tags, rds_event(EventID="RDS-EVENT-0005", SourceArn=ARN), OPT_IN)

    # Then no instance setup: skipped, naming both, telling to tag the cluster by its ARN
    assert not result.opted_in and result.input is None
    assert result.skipped.db_instance_identifier == "orders-prod"
    assert result.skipped.db_cluster_identifier == "orders-aurora"
    assert "member of the Aurora cluster orders-aurora" in result.skipped.message
    assert f"Tag the cluster ({CLUSTER_ARN}) {OPT_IN}" in result.skipped.message
    assert tags.asked == ["cluster of orders-prod"]  # the instance's own tags do not matter


def test_a_tagged_cluster_without_a_writer_is_waited_for_with_its_poll_seconds():
    tags = FakeTags({"streamkap:cdc": "enabled", "streamkap:cdc/poll-seconds": "20"}, cluster_has_writer=False)

    first = read_trigger(tags, cluster_created(), OPT_IN)
    second = read_trigger(tags, cluster_created(previous=first), OPT_IN)

    assert first.opted_in and first.waiting_for_writer
    assert (first.poll_seconds, first.attempt) == (20, 1)
    assert second.waiting_for_writer and second.attempt == 2
    assert first.input == {"db_cluster_identifier": "orders-aurora", "poll_seconds": "20"}


def test_the_wait_ends_once_the_writer_exists():
    waiting = read_trigger(FakeTags({"streamkap:cdc": "enabled"}, cluster_has_writer=False), cluster_created(), OPT_IN)

    ready = read_trigger(FakeTags({"streamkap:cdc": "enabled"}), cluster_created(previous=waiting), OPT_IN)

    assert ready.opted_in and not ready.waiting_for_writer
    assert ready.input == {"db_cluster_identifier": "orders-aurora"}


def test_the_wait_for_a_writer_is_bounded_by_max_wait_minutes():
    # Given max_wait_minutes=1 and poll_seconds=30: two polls
    tags = {"streamkap:cdc": "enabled", "streamkap:cdc/max-wait-minutes": "1", "streamkap:cdc/poll-seconds": "30"}
    port = FakeTags(tags, cluster_has_writer=False)
    second = read_trigger(port, cluster_created(previous=read_trigger(port, cluster_created(), OPT_IN)), OPT_IN)
    assert second.waiting_for_writer and second.attempt == 2

    with pytest.raises(TargetNotAvailable, match="orders-aurora still has no writer instance after 1 minutes"):
        read_trigger(port, cluster_created(previous=second), OPT_IN)


def test_a_bad_setting_tag_is_not_waited_on_but_left_to_validate_input():
    port = FakeTags({"streamkap:cdc": "enabled", "streamkap:cdc/poll-seconds": "soon"}, cluster_has_writer=False)

    result = read_trigger(port, cluster_created(), OPT_IN)

    assert result.opted_in and not result.waiting_for_writer
    assert (result.instance_id, result.cluster_id) == (None, "orders-aurora")  # the run's target, for its notice
    assert result.input == {"db_cluster_identifier": "orders-aurora", "poll_seconds": "soon"}


# ---- the RDS port, over a stubbed client ---------------------------------------------------


def test_the_port_reads_cluster_membership_and_the_writer():
    rds = client("rds")
    with Stubber(rds) as stub:
        stub.add_response(
            "describe_db_instances",
            {"DBInstances": [{"DBInstanceIdentifier": "orders-aurora-1", "DBClusterIdentifier": "orders-aurora"}]},
        )
        stub.add_response("describe_db_instances", {"DBInstances": [{"DBInstanceIdentifier": "orders-prod"}]})
        stub.add_response(
            "describe_db_clusters",
            {
                "DBClusters": [
                    {
                        "DBClusterIdentifier": "orders-aurora",
                        "DBClusterMembers": [{"DBInstanceIdentifier": "orders-aurora-2", "IsClusterWriter": False}],
                    }
                ]
            },
        )
        stub.add_response("describe_db_clusters", {"DBClusters": [{"DBClusterIdentifier": "orders-aurora"}]})
        port = RdsTags(rds)

        assert port.instance_cluster("orders-aurora-1") == "orders-aurora"
        assert port.instance_cluster("orders-prod") is None
        assert port.cluster_has_writer("orders-aurora") is False  # a reader only
        assert port.cluster_has_writer("orders-aurora") is False  # no member yet


def test_a_deleted_cluster_is_target_not_found():
    rds = client("rds")
    with Stubber(rds) as stub:
        stub.add_client_error("list_tags_for_resource", service_error_code="DBClusterNotFoundFault")
        with pytest.raises(TargetNotFound, match=f"The cluster {CLUSTER_ARN} of the event no longer exists"):
            RdsTags(rds).tags(CLUSTER_ARN)


def test_the_event_source_arn_names_the_target_before_the_resources():
    """An RDS event's detail.SourceArn is the instance it is about; `resources` may list more."""
    other = ARN.replace(":db:orders-prod", ":db:orders-other")
    event = ReadTriggerTagsInput.model_validate(
        {"source": "aws.rds", "resources": [other], "detail": {"SourceArn": ARN, "EventID": "RDS-EVENT-0005"}}
    )
    assert event_target(event).identifier == "orders-prod"
    alone = ReadTriggerTagsInput.model_validate({"source": "aws.rds", "resources": [], "detail": {"SourceArn": ARN}})
    assert (event_target(alone).kind, event_target(alone).identifier) == ("db", "orders-prod")


def test_an_event_naming_no_rds_arn_is_invalid_input_listing_its_resources():
    event = ReadTriggerTagsInput.model_validate(
        {"source": "aws.rds", "resources": ["arn:aws:s3:::bucket"], "detail": {}}
    )
    with pytest.raises(
        InvalidInput, match=r"names no RDS instance or Aurora cluster \(resources: \['arn:aws:s3:::bucket'\]\)"
    ):
        event_target(event)


# The trigger's result names the target for the lock and the notifications: instance or cluster, never both.


def test_an_opted_in_instance_is_named_as_an_instance():
    result = read_trigger(FakeTags({"streamkap:cdc": "enabled"}), rds_event(SourceArn=ARN), OPT_IN)
    assert (result.instance_id, result.cluster_id) == ("orders-prod", None)


def test_an_opted_in_cluster_is_named_as_a_cluster_and_its_writer_is_looked_up_by_name():
    tags = FakeTags({"streamkap:cdc": "enabled"})
    result = read_trigger(tags, cluster_created(), OPT_IN)
    assert (result.instance_id, result.cluster_id) == (None, "orders-aurora")
    assert tags.asked == [CLUSTER_ARN, "writer of orders-aurora"]


def test_a_cluster_still_without_writer_is_named_while_waiting():
    result = read_trigger(FakeTags({"streamkap:cdc": "enabled"}, cluster_has_writer=False), cluster_created(), OPT_IN)
    assert result.waiting_for_writer and (result.instance_id, result.cluster_id) == (None, "orders-aurora")


def test_a_skipped_instance_and_a_skipped_member_name_what_they_are():
    plain = read_trigger(FakeTags({}), rds_event(), OPT_IN)
    assert (plain.instance_id, plain.cluster_id) == ("orders-prod", None)
    member = read_trigger(FakeTags({}, instance_cluster="orders-aurora"), rds_event(), OPT_IN)
    assert (member.instance_id, member.cluster_id) == ("orders-prod", "orders-aurora")
    assert (member.skipped.db_instance_identifier, member.skipped.db_cluster_identifier) == (
        "orders-prod",
        "orders-aurora",
    )


def test_an_opt_in_value_may_itself_contain_an_equals_sign():
    result = read_trigger(FakeTags({"streamkap:cdc": "on=yes"}), rds_event(), "streamkap:cdc=on=yes")
    assert result.opted_in


def test_tags_whose_wait_would_overflow_the_history_are_not_waited_on_but_left_to_validate_input():
    # Given a cluster without a writer, tagged to poll every second for a day: 86,400 polls
    tags = {"streamkap:cdc": "enabled", "streamkap:cdc/poll-seconds": "1", "streamkap:cdc/max-wait-minutes": "1440"}

    result = read_trigger(FakeTags(tags, cluster_has_writer=False), cluster_created(), OPT_IN)

    # Then the execution does not loop: ValidateInput refuses the pair by name
    assert result.opted_in and not result.waiting_for_writer
    with pytest.raises(InvalidInput, match="poll_seconds 1 with max_wait_minutes 1440"):
        parse_input(result.input)
