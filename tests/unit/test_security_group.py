"""allow_cidrs: CIDRs parsed and refused, the inbound rule diff, the access plan over a fake EC2 port,
and the teardown's refusals. The real calls run in tests/workflow/test_security_group.py."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from lambdas.dal.security_groups import RULE_DESCRIPTION, TARGET_TAG_KEY, GroupInfo, InboundRule
from lambdas.logic.security_group import (
    drop_security_group,
    ensure_security_group,
    group_description,
    plan_access,
    plan_removal,
    rule_diff,
    unreachable_warning,
)
from lambdas.shared.cidrs import MAX_CIDRS, Rule, is_public, normalize_cidrs, parse_cidr
from lambdas.shared.errors import InvalidInput, NotOwned
from lambdas.shared.models import SetupInput, Target
from lambdas.shared.teardown_models import TeardownInput
from tests.unit.test_steps import FakeRds, instance

NAME = "rds-cdc-setup-orders-prod-streamkap"
AURORA_NAME = "rds-cdc-setup-orders-aurora-streamkap"
OURS = {"created-by": "rds-cdc-setup", TARGET_TAG_KEY: "orders-prod"}


# ---- CIDRs ----------------------------------------------------------------------------------------


def test_cidrs_are_normalized_deduplicated_and_a_bare_address_is_one_host():
    given = ["203.0.113.0/24", "198.51.100.7", "2001:DB8:0::/48", "203.0.113.0/24"]
    assert normalize_cidrs(given, allow_public=False) == ["203.0.113.0/24", "198.51.100.7/32", "2001:db8::/48"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("203.0.113.5/24", "did you mean 203.0.113.0/24 (the network) or 203.0.113.5/32 (one host)"),
        ("orders.example.com", "is not an IPv4 or IPv6 CIDR"),
        ("10.0.0.0/33", "is not an IPv4 or IPv6 CIDR"),
    ],
)
def test_a_bad_cidr_is_refused_saying_what_was_probably_meant(value, says):
    with pytest.raises(ValueError, match=r"allow_cidrs") as refused:
        normalize_cidrs([value], allow_public=False)
    assert says in str(refused.value)


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0", "0.0.0.0/1", "128.0.0.0/1", "8.0.0.0/7", "2000::/3"])
def test_the_internet_or_much_of_it_is_refused_unless_allow_public_cidrs(cidr):
    with pytest.raises(ValueError, match="allow_public_cidrs true"):
        normalize_cidrs([cidr], allow_public=False)
    assert normalize_cidrs([cidr], allow_public=True) == [cidr]


def test_the_widest_block_one_organisation_holds_is_allowed():
    assert normalize_cidrs(["10.0.0.0/8", "2001:db8::/32"], allow_public=False) == ["10.0.0.0/8", "2001:db8::/32"]


def test_an_empty_list_and_more_cidrs_than_a_security_group_holds_are_refused():
    with pytest.raises(ValueError, match="drop_security_group"):
        normalize_cidrs([], allow_public=False)
    many = [f"198.51.100.{i}" for i in range(MAX_CIDRS + 1)]
    with pytest.raises(ValueError, match=f"at most {MAX_CIDRS}"):
        normalize_cidrs(many, allow_public=False)


def test_exactly_as_many_cidrs_as_a_group_may_take_are_accepted():
    assert len(normalize_cidrs([f"198.51.100.{i}" for i in range(MAX_CIDRS)], allow_public=False)) == MAX_CIDRS


def test_every_problem_is_named_in_one_refusal_whole_and_in_order():
    """The exact refusal: each bad value, then the broad ranges with how broad, joined by '; '."""
    with pytest.raises(ValueError) as refused:
        normalize_cidrs(["bogus", "203.0.113.5/24", "0.0.0.0/1", "10.0.0.0/8", "128.0.0.0/1"], allow_public=False)
    assert str(refused.value) == (
        "allow_cidrs: 'bogus' is not an IPv4 or IPv6 CIDR (e.g. 203.0.113.0/24); "
        "allow_cidrs: '203.0.113.5/24' has host bits set: did you mean 203.0.113.0/24 (the network) or "
        "203.0.113.5/32 (one host)?; "
        "allow_cidrs ['0.0.0.0/1', '128.0.0.0/1'] would open the database port to much of it (wider than an IPv4 /8 "
        "or IPv6 /32): list Streamkap's published addresses or your tunnel's, or set allow_public_cidrs true if that "
        "is really meant"
    )


def test_only_a_zero_length_prefix_is_called_the_whole_internet():
    for cidrs, said in ((["::/0", "0.0.0.0/1"], "the whole internet"), (["0.0.0.0/1"], "much of it")):
        with pytest.raises(ValueError) as refused:
            normalize_cidrs(cidrs, allow_public=False)
        assert f"would open the database port to {said} (wider" in str(refused.value), cidrs


def test_an_empty_list_says_how_to_remove_the_access_instead():
    with pytest.raises(ValueError) as refused:
        normalize_cidrs([], allow_public=False)
    assert str(refused.value) == (
        "allow_cidrs must list at least one CIDR, or be null (access is not managed); to remove the access rule "
        "setup made, run the teardown with drop_security_group"
    )


def test_too_many_cidrs_are_refused_with_the_count_and_the_limit():
    with pytest.raises(ValueError) as refused:
        normalize_cidrs([f"198.51.100.{i}" for i in range(MAX_CIDRS + 2)], allow_public=False)
    assert str(refused.value) == (
        f"allow_cidrs lists {MAX_CIDRS + 2} CIDRs; at most {MAX_CIDRS} (a security group holds 60 inbound rules per "
        "address family)"
    )


def test_public_means_reached_over_the_internet_documentation_ranges_included():
    assert is_public(parse_cidr("203.0.113.0/24")) and is_public(parse_cidr("2001:db8::/32"))
    assert not any(is_public(parse_cidr(c)) for c in ("10.1.0.0/16", "172.20.0.0/16", "100.64.1.0/24", "fd00::/8"))


def test_the_setup_input_normalizes_allow_cidrs_and_refuses_them_on_a_self_managed_server():
    setup = SetupInput(db_instance_identifier="orders-prod", allow_cidrs=["203.0.113.9"])
    assert setup.allow_cidrs == ["203.0.113.9/32"]
    assert SetupInput(db_instance_identifier="x", allow_public_cidrs=True, allow_cidrs=["0.0.0.0/0"]).allow_cidrs
    with pytest.raises(ValidationError, match="allow_public_cidrs"):
        SetupInput(db_instance_identifier="orders-prod", allow_cidrs=["0.0.0.0/0"])
    with pytest.raises(ValidationError, match="pg_hba.conf"):
        SetupInput(host="db.example.com", master_secret_arn="arn:secret", allow_cidrs=["203.0.113.0/24"])
    with pytest.raises(ValidationError, match="drop_security_group needs an RDS instance"):
        TeardownInput(host="db.example.com", master_secret_arn="arn:secret", drop_security_group=True)


# ---- the rule diff --------------------------------------------------------------------------------


def rule(cidr: str, port: int = 5432, *, ours: bool = True, protocol: str = "tcp") -> InboundRule:
    return InboundRule(protocol, port, port, cidr, RULE_DESCRIPTION if ours else "the team's VPN")


def test_the_diff_adds_the_missing_and_revokes_only_its_own_rules_no_longer_listed():
    existing = (rule("203.0.113.0/24"), rule("198.51.100.0/24"), rule("192.0.2.0/24", ours=False))
    add, revoke, already = rule_diff([Rule("203.0.113.0/24", 5432), Rule("2001:db8::/48", 5432)], existing)
    assert add == [Rule("2001:db8::/48", 5432)]
    assert revoke == [Rule("198.51.100.0/24", 5432)]  # never the team's 192.0.2.0/24
    assert already == []


def test_a_listed_cidr_someone_else_already_allows_is_neither_added_again_nor_taken_over():
    add, revoke, already = rule_diff([Rule("192.0.2.0/24", 5432)], (rule("192.0.2.0/24", ours=False),))
    assert (add, revoke, already) == ([], [], [Rule("192.0.2.0/24", 5432)])


def test_its_own_rule_on_another_port_is_replaced_and_equal_cidrs_compare_as_networks():
    add, revoke, _ = rule_diff([Rule("2001:db8::/48", 5433)], (rule("2001:0db8:0::/48", 5432),))
    assert add == [Rule("2001:db8::/48", 5433)] and revoke == [Rule("2001:0db8:0::/48", 5432)]
    assert rule_diff([Rule("2001:db8::/48", 5432)], (rule("2001:0db8:0::/48"),)) == ([], [], [])


# ---- the plan and its refusals, over a fake EC2 port ----------------------------------------------


class FakeGroups:
    def __init__(self, group: GroupInfo | None = None):
        self.group = group
        self.calls: list[tuple] = []
        self.descriptions: list[str] = []
        self.looked_in: list[str | None] = []
        self.deleted_names: list[str] = []

    def find(self, name, vpc_id):
        self.looked_in.append(vpc_id)
        return self.group if self.group and self.group.name == name and self.group.vpc_id == vpc_id else None

    def create(self, *, name, vpc_id, description, target_id):
        self.calls.append(("create", name, vpc_id, target_id))
        self.descriptions.append(description)
        return "sg-new"

    def tag(self, group_id, target_id):
        self.calls.append(("tag", group_id, target_id))

    def authorize(self, group_id, rules):
        self.calls.append(("authorize", group_id, [r.cidr for r in rules]))

    def revoke(self, group_id, rules):
        self.calls.append(("revoke", group_id, [r.cidr for r in rules]))

    def delete(self, group_id, name):
        self.calls.append(("delete", group_id))
        self.deleted_names.append(name)


class FakeRdsWithGroups(FakeRds):
    def describe_instance(self, instance_id, cluster_id=None):
        self.described_as = (instance_id, cluster_id)
        return self.described

    def set_security_groups(self, instance_id, group_ids, *, cluster_id=None):
        self.calls.append(("set-groups", cluster_id or instance_id, list(group_ids)))


def in_vpc(public: bool = False, groups: tuple[str, ...] = ("sg-team",)):
    return replace(instance(), vpc_id="vpc-1", security_group_ids=groups, publicly_accessible=public)


def group(tags: dict[str, str], *inbound: InboundRule) -> GroupInfo:
    return GroupInfo("sg-ours", NAME, "vpc-1", "d", tags, tuple(inbound))


def setup(*cidrs: str, **kwargs) -> SetupInput:
    return SetupInput(db_instance_identifier="orders-prod", allow_cidrs=list(cidrs), **kwargs)


TARGET = Target(
    instance_id="orders-prod", engine="postgres", engine_version="15.4", major_version=15, status="available",
    parameter_group="g", parameter_group_family="postgres15", parameter_apply_status="in-sync", host="h",
    port=5432, database="orders", master_secret_arn="arn:secret",
)  # fmt: skip


def test_a_first_run_creates_the_tagged_group_allows_the_cidrs_and_adds_it_keeping_the_other_groups():
    rds, ec2 = FakeRdsWithGroups(described=in_vpc(public=True)), FakeGroups()
    result = ensure_security_group(rds, ec2, TARGET, setup("203.0.113.0/24"))  # type: ignore[arg-type]
    assert ec2.calls == [("create", NAME, "vpc-1", "orders-prod"), ("authorize", "sg-new", ["203.0.113.0/24"])]
    assert rds.calls == [("set-groups", "orders-prod", ["sg-team", "sg-new"])]
    assert result.changes[-1] == f"added security group {NAME} to instance orders-prod, keeping ['sg-team']"
    assert result.warnings == []


def test_a_converged_group_changes_nothing():
    rds = FakeRdsWithGroups(described=in_vpc(groups=("sg-team", "sg-ours")))
    ec2 = FakeGroups(group(OURS, rule("203.0.113.0/24")))
    plan = plan_access(ec2, rds.described, setup("203.0.113.0/24"))  # type: ignore[arg-type]
    assert plan.describe("instance orders-prod") == [
        f"security group {NAME} already allows exactly allow_cidrs on port 5432",
        "warning: instance orders-prod is not publicly accessible, so Streamkap cannot reach it from 203.0.113.0/24 "
        "over the internet: connect Streamkap through an SSH tunnel (bastion) or AWS PrivateLink and list the "
        "tunnel's address in allow_cidrs, or make the instance publicly accessible",
    ]
    assert ensure_security_group(rds, ec2, TARGET, setup("203.0.113.0/24")).changes == []  # type: ignore[arg-type]
    assert ec2.calls == [] and rds.calls == []


@pytest.mark.parametrize("tags", [{}, {"created-by": "rds-cdc-setup", TARGET_TAG_KEY: "another-db"}])
def test_a_group_with_the_workflows_name_but_not_its_tags_is_refused_unless_adopted(tags):
    rds, ec2 = FakeRdsWithGroups(described=in_vpc()), FakeGroups(group(tags, rule("192.0.2.0/24", ours=False)))
    with pytest.raises(NotOwned, match=r"adopt: \['security_group'\]"):
        ensure_security_group(rds, ec2, TARGET, setup("203.0.113.0/24"))  # type: ignore[arg-type]
    assert ec2.calls == [] and rds.calls == []
    ensure_security_group(rds, ec2, TARGET, setup("203.0.113.0/24", adopt=["security_group"]))  # type: ignore[arg-type]
    assert ec2.calls == [("tag", "sg-ours", "orders-prod"), ("authorize", "sg-ours", ["203.0.113.0/24"])]


def test_the_warning_names_only_public_cidrs_of_a_private_instance():
    assert unreachable_warning(in_vpc(public=False), ["10.0.0.0/8"]) == []
    assert unreachable_warning(in_vpc(public=True), ["203.0.113.0/24"]) == []
    assert "203.0.113.0/24" in unreachable_warning(in_vpc(public=False), ["10.0.0.0/8", "203.0.113.0/24"])[0]


def test_an_instance_without_a_vpc_is_invalid_input():
    with pytest.raises(InvalidInput, match="no VPC"):
        plan_access(FakeGroups(), instance(), setup("203.0.113.0/24"))  # type: ignore[arg-type]


# ---- teardown -------------------------------------------------------------------------------------


def teardown(**kwargs) -> TeardownInput:
    return TeardownInput(db_instance_identifier="orders-prod", drop_security_group=True, **kwargs)


def test_teardown_detaches_and_deletes_its_group_keeping_the_others():
    rds = FakeRdsWithGroups(described=in_vpc(groups=("sg-team", "sg-ours")))
    plan = plan_removal(rds, FakeGroups(group(OURS, rule("203.0.113.0/24"))), teardown(), TARGET)  # type: ignore[arg-type]
    assert plan.changes == [
        f"remove security group {NAME} from instance orders-prod, keeping ['sg-team']",
        f"delete security group {NAME} (sg-ours)",
    ]


def test_teardown_refuses_a_foreign_group_or_one_holding_rules_it_did_not_add():
    rds = FakeRdsWithGroups(described=in_vpc(groups=("sg-team", "sg-ours")))
    with pytest.raises(NotOwned, match="not created by rds-cdc-setup"):
        plan_removal(rds, FakeGroups(group({})), teardown(), TARGET)  # type: ignore[arg-type]
    mixed = FakeGroups(group(OURS, rule("203.0.113.0/24"), rule("192.0.2.0/24", ours=False)))
    with pytest.raises(NotOwned, match="tcp port 5432 from 192.0.2.0/24"):
        plan_removal(rds, mixed, teardown(), TARGET)  # type: ignore[arg-type]
    assert len(plan_removal(rds, mixed, teardown(adopt=["security_group"]), TARGET).changes) == 2  # type: ignore[arg-type]


def test_teardown_will_not_leave_an_instance_without_any_security_group():
    rds = FakeRdsWithGroups(described=in_vpc(groups=("sg-ours",)))
    with pytest.raises(InvalidInput, match="only security group"):
        plan_removal(rds, FakeGroups(group(OURS)), teardown(), TARGET)  # type: ignore[arg-type]


# ---- every line the plan and the changes say, and the teardown's calls (mutmut: make mutate) --------


def test_the_plan_lists_each_change_in_order_with_the_warning_last():
    rds = FakeRdsWithGroups(described=in_vpc(groups=("sg-team",)))
    existing = group(OURS, rule("198.51.100.0/24"), rule("192.0.2.0/24", ours=False))
    plan = plan_access(FakeGroups(existing), rds.described, setup("203.0.113.0/24", "192.0.2.0/24"))  # type: ignore[arg-type]
    assert plan.describe("instance orders-prod") == [
        f"allow 203.0.113.0/24 on port 5432 in security group {NAME}",
        f"revoke 198.51.100.0/24 on port 5432 from security group {NAME} (no longer in allow_cidrs)",
        f"192.0.2.0/24 on port 5432 is already allowed by a rule of security group {NAME} that rds-cdc-setup did "
        "not add: left as it is",
        f"add security group {NAME} to instance orders-prod, keeping its other groups ['sg-team']",
        "warning: instance orders-prod is not publicly accessible, so Streamkap cannot reach it from 203.0.113.0/24, "
        "192.0.2.0/24 over the internet: connect Streamkap through an SSH tunnel (bastion) or AWS PrivateLink and "
        "list the tunnel's address in allow_cidrs, or make the instance publicly accessible",
    ]


def test_the_plan_says_it_creates_or_adopts_the_group_and_a_refusal_says_only_why():
    public = in_vpc(public=True)
    created = plan_access(FakeGroups(), public, setup("203.0.113.0/24"))  # type: ignore[arg-type]
    assert created.describe("instance orders-prod")[0] == (
        f"create security group {NAME} in vpc-1 (tagged created-by=rds-cdc-setup)"
    )
    foreign = FakeGroups(group({}))
    adopted = plan_access(foreign, public, setup("203.0.113.0/24", adopt=["security_group"]))  # type: ignore[arg-type]
    assert adopted.describe("instance orders-prod")[0] == (
        f"adopt security group {NAME} (sg-ours): tag it as rds-cdc-setup's"
    )
    refused = plan_access(foreign, public, setup("203.0.113.0/24"))  # type: ignore[arg-type]
    assert refused.describe("instance orders-prod") == [
        f"refused (a real run stops here): Security group {NAME} (sg-ours) in vpc-1 exists but was not created by "
        "rds-cdc-setup for orders-prod (it lacks the tags created-by=rds-cdc-setup and "
        "rds-cdc-setup:target=orders-prod), so the workflow will not change it or attach it. Remove or rename it, "
        "or take it over deliberately with adopt: ['security_group'] (its rules stay; a dry run shows what "
        "adopting changes)"
    ]
    assert (refused.add, refused.revoke, refused.adopt) == ([], [], False)


def test_a_rule_someone_else_allows_beside_our_own_rules_is_left_to_them():
    existing = (rule("192.0.2.0/24", ours=False), rule("198.51.100.0/24"))
    assert rule_diff([Rule("192.0.2.0/24", 5432)], existing) == (
        [], [Rule("198.51.100.0/24", 5432)], [Rule("192.0.2.0/24", 5432)]
    )  # fmt: skip


def test_the_changes_name_what_was_created_allowed_revoked_adopted_and_added():
    rds = FakeRdsWithGroups(described=replace(in_vpc(public=True, groups=()), port=None))
    ec2 = FakeGroups()
    made = ensure_security_group(rds, ec2, TARGET, setup("203.0.113.0/24"))  # type: ignore[arg-type]
    assert made.changes == [
        f"created security group {NAME} (sg-new) in vpc-1",
        f"allowed 203.0.113.0/24 on port 5432 in security group {NAME}",  # no port reported: PostgreSQL's
        f"added security group {NAME} to instance orders-prod",  # nothing else kept
    ]
    assert (made.group_name, made.group_id) == (NAME, "sg-new")
    assert ec2.descriptions == [group_description("orders-prod")]
    rds = FakeRdsWithGroups(described=in_vpc(public=True, groups=("sg-ours",)))
    ec2 = FakeGroups(group({}, rule("198.51.100.0/24")))
    adopted = ensure_security_group(rds, ec2, TARGET, setup("203.0.113.0/24", adopt=["security_group"]))  # type: ignore[arg-type]
    assert adopted.changes == [
        f"adopted security group {NAME} (sg-ours): tagged as rds-cdc-setup's",
        f"allowed 203.0.113.0/24 on port 5432 in security group {NAME}",
        f"revoked 198.51.100.0/24 on port 5432 from security group {NAME}",
    ]
    assert ec2.calls[-1] == ("revoke", "sg-ours", ["198.51.100.0/24"]) and rds.calls == []


def test_teardown_detaches_then_deletes_its_group_and_without_one_does_nothing():
    rds = FakeRdsWithGroups(described=in_vpc(groups=("sg-team", "sg-ours")))
    ec2 = FakeGroups(group(OURS, rule("203.0.113.0/24")))
    assert drop_security_group(rds, ec2, teardown(), TARGET) == [  # type: ignore[arg-type]
        f"remove security group {NAME} from instance orders-prod, keeping ['sg-team']",
        f"delete security group {NAME} (sg-ours)",
    ]
    assert rds.calls == [("set-groups", "orders-prod", ["sg-team"])] and ec2.calls == [("delete", "sg-ours")]
    detached = FakeRdsWithGroups(described=in_vpc(groups=("sg-team",)))
    ec2 = FakeGroups(group(OURS))
    assert drop_security_group(detached, ec2, teardown(), TARGET) == [f"delete security group {NAME} (sg-ours)"]  # type: ignore[arg-type]
    assert detached.calls == [] and ec2.calls == [("delete", "sg-ours")]
    nothing = FakeRdsWithGroups(described=in_vpc())
    assert drop_security_group(nothing, FakeGroups(), teardown(), TARGET) == [] and nothing.calls == []  # type: ignore[arg-type]
    no_vpc = FakeRdsWithGroups(described=instance())
    assert plan_removal(no_vpc, FakeGroups(group(OURS)), teardown(), TARGET).group is None  # type: ignore[arg-type]


def test_the_teardown_refusals_say_why_and_what_to_do():
    rds = FakeRdsWithGroups(described=in_vpc(groups=("sg-team", "sg-ours")))
    with pytest.raises(NotOwned) as foreign:
        plan_removal(rds, FakeGroups(group({})), teardown(), TARGET)  # type: ignore[arg-type]
    assert str(foreign.value) == (
        f"Security group {NAME} (sg-ours) was not created by rds-cdc-setup for orders-prod (it lacks the tags "
        "created-by=rds-cdc-setup and rds-cdc-setup:target), so the teardown will not delete it. Remove it "
        "yourself, or delete it deliberately with adopt: ['security_group']"
    )
    mixed = FakeGroups(
        group(OURS, rule("203.0.113.0/24"), rule("192.0.2.0/24", ours=False), rule("198.51.100.9/32", ours=False))
    )
    with pytest.raises(NotOwned) as theirs:
        plan_removal(rds, mixed, teardown(), TARGET)  # type: ignore[arg-type]
    assert str(theirs.value).startswith(
        f"Security group {NAME} (sg-ours) holds inbound rules rds-cdc-setup did not add ("
    )
    assert "192.0.2.0/24; " in str(theirs.value) and str(theirs.value).endswith(
        "deleting the group would remove them. Move them to a group of your own, or delete them with the group "
        "deliberately with adopt: ['security_group']"
    )
    alone = FakeRdsWithGroups(described=in_vpc(groups=("sg-ours",)))
    with pytest.raises(InvalidInput) as last:
        plan_removal(alone, FakeGroups(group(OURS)), teardown(), TARGET)  # type: ignore[arg-type]
    assert str(last.value) == (
        f"Security group {NAME} is the only security group of instance orders-prod, which needs at least one: add "
        "another group to it, then run the teardown again"
    )


AURORA = TARGET.model_copy(update={"instance_id": "orders-aurora-1", "cluster_id": "orders-aurora"})


def test_on_aurora_the_writer_is_described_in_its_cluster_and_the_group_goes_on_the_cluster():
    writer = replace(
        in_vpc(public=False, groups=("sg-team",)), instance_id="orders-aurora-1", cluster_id="orders-aurora"
    )
    rds, ec2 = FakeRdsWithGroups(described=writer), FakeGroups()
    aurora = SetupInput(db_cluster_identifier="orders-aurora", allow_cidrs=["203.0.113.0/24"])
    made = ensure_security_group(rds, ec2, AURORA, aurora)  # type: ignore[arg-type]
    assert rds.described_as == ("orders-aurora-1", "orders-aurora")
    assert rds.calls == [("set-groups", "orders-aurora", ["sg-team", "sg-new"])]
    assert made.warnings and made.warnings[0].startswith("cluster orders-aurora is not publicly accessible")
    assert "Streamkap CDC access to orders-aurora (allow_cidrs)" in ec2.descriptions[0]
    torn = FakeRdsWithGroups(described=replace(writer, security_group_ids=("sg-team", "sg-ours")))
    ours = FakeGroups(
        replace(group({"created-by": "rds-cdc-setup", TARGET_TAG_KEY: "orders-aurora"}), name=AURORA_NAME)
    )
    removal = TeardownInput(db_cluster_identifier="orders-aurora", drop_security_group=True)
    drop_security_group(torn, ours, removal, AURORA)  # type: ignore[arg-type]
    assert torn.described_as == ("orders-aurora-1", "orders-aurora")
    assert torn.calls == [("set-groups", "orders-aurora", ["sg-team"])] and ours.deleted_names == [AURORA_NAME]


def test_without_a_vpc_no_group_is_looked_for_and_the_messages_say_why():
    ec2 = FakeGroups(group(OURS))
    assert plan_removal(FakeRdsWithGroups(described=instance()), ec2, teardown(), TARGET).group is None  # type: ignore[arg-type]
    assert ec2.looked_in == []
    with pytest.raises(InvalidInput) as no_vpc:
        plan_access(FakeGroups(), instance(), setup("203.0.113.0/24"))  # type: ignore[arg-type]
    assert str(no_vpc.value) == (
        "instance orders-prod reports no VPC (no DB subnet group): allow_cidrs needs the VPC its security groups "
        "live in"
    )
    with pytest.raises(ValueError, match="^plan_access needs allow_cidrs$"):
        plan_access(FakeGroups(), in_vpc(), SetupInput(db_instance_identifier="orders-prod"))  # type: ignore[arg-type]
