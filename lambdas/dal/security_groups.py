"""The EC2 port: the workflow's security group (allow_cidrs) in the target's VPC, and its inbound rules.

The group carries the owner tag and a tag naming its target; each inbound rule the workflow adds
carries RULE_DESCRIPTION, so a rule someone else added to the group is told apart and left alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lambdas.dal.clients import client
from lambdas.shared.cidrs import Rule
from lambdas.shared.errors import TransientFailure
from lambdas.shared.ownership import OWNER_TAG, OWNER_TAG_KEY, OWNER_TAG_VALUE, marker

TARGET_TAG_KEY = "rds-cdc-setup:target"  # the instance or Aurora cluster the group admits Streamkap to
RULE_DESCRIPTION = marker("Streamkap access (allow_cidrs)")


@dataclass(frozen=True)
class InboundRule:
    """One source of an inbound permission: a CIDR, or (cidr None) another group or a prefix list."""

    protocol: str
    from_port: int | None
    to_port: int | None
    cidr: str | None
    description: str | None = None

    @property
    def ours(self) -> bool:
        return self.description == RULE_DESCRIPTION

    @property
    def rule(self) -> Rule | None:
        """As the workflow's Rule, where it is a single-port rule from a CIDR."""
        if self.cidr is None or self.from_port is None or self.from_port != self.to_port:
            return None
        return Rule(cidr=self.cidr, port=self.from_port, protocol=self.protocol)

    def __str__(self) -> str:
        ports = (
            "all ports"
            if self.from_port in (None, -1)
            else f"port {self.from_port}" + (f"-{self.to_port}" if self.to_port != self.from_port else "")
        )
        return f"{self.protocol if self.protocol != '-1' else 'all traffic'} {ports} from {self.cidr or 'a group'}"


@dataclass(frozen=True)
class GroupInfo:
    group_id: str
    name: str
    vpc_id: str
    description: str
    tags: dict[str, str] = field(default_factory=dict)
    inbound: tuple[InboundRule, ...] = ()

    def owned_for(self, target_id: str) -> bool:
        """Made (or adopted) by the workflow for this target: both tags."""
        return self.tags.get(OWNER_TAG_KEY) == OWNER_TAG_VALUE and self.tags.get(TARGET_TAG_KEY) == target_id

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> GroupInfo:
        rules = []
        for permission in raw.get("IpPermissions") or []:
            protocol = str(permission.get("IpProtocol", "-1"))
            ports = (permission.get("FromPort"), permission.get("ToPort"))
            sources = [(r["CidrIp"], r.get("Description")) for r in permission.get("IpRanges") or []]
            sources += [(r["CidrIpv6"], r.get("Description")) for r in permission.get("Ipv6Ranges") or []]
            sources += [(None, r.get("Description")) for r in permission.get("UserIdGroupPairs") or []]
            sources += [(None, r.get("Description")) for r in permission.get("PrefixListIds") or []]
            rules += [InboundRule(protocol, *ports, cidr, description) for cidr, description in sources]
        return cls(
            group_id=raw["GroupId"],
            name=raw["GroupName"],
            vpc_id=raw.get("VpcId", ""),
            description=raw.get("Description", ""),
            tags={tag["Key"]: tag["Value"] for tag in raw.get("Tags") or []},
            inbound=tuple(rules),
        )


def _permissions(rules: list[Rule], *, described: bool) -> list[dict[str, Any]]:
    """One IpPermission per port and protocol, IPv4 and IPv6 sources apart, as EC2 takes them."""
    by_port: dict[tuple[str, int], dict[str, Any]] = {}
    for rule in rules:
        permission = by_port.setdefault(
            (rule.protocol, rule.port),
            {"IpProtocol": rule.protocol, "FromPort": rule.port, "ToPort": rule.port, "IpRanges": [], "Ipv6Ranges": []},
        )
        description = {"Description": RULE_DESCRIPTION} if described else {}
        if rule.network.version == 4:
            permission["IpRanges"].append({"CidrIp": rule.cidr, **description})
        else:
            permission["Ipv6Ranges"].append({"CidrIpv6": rule.cidr, **description})
    return list(by_port.values())


class SecurityGroups:
    def __init__(self, ec2_client: Any | None = None) -> None:
        self._ec2 = ec2_client or client("ec2")

    def find(self, name: str, vpc_id: str) -> GroupInfo | None:
        """The group of that name in the VPC (names are unique per VPC), whoever made it."""
        found = self._ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc_id]}]
        )["SecurityGroups"]
        return GroupInfo.from_api(found[0]) if found else None

    def names(self, group_ids: list[str]) -> dict[str, str]:
        """Group id -> name, for the plan's and the changes' wording."""
        if not group_ids:
            return {}
        found = self._ec2.describe_security_groups(GroupIds=group_ids)["SecurityGroups"]
        return {raw["GroupId"]: raw["GroupName"] for raw in found}

    def create(self, *, name: str, vpc_id: str, description: str, target_id: str) -> str:
        """A new group with the owner and target tags (tagged as it is created: never untagged)."""
        tags = [OWNER_TAG, {"Key": TARGET_TAG_KEY, "Value": target_id}]
        made = self._ec2.create_security_group(
            GroupName=name,
            Description=description,
            VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
        )
        return str(made["GroupId"])

    def tag(self, group_id: str, target_id: str) -> None:
        """Adopt: the owner and target tags on an existing group."""
        self._ec2.create_tags(Resources=[group_id], Tags=[OWNER_TAG, {"Key": TARGET_TAG_KEY, "Value": target_id}])

    def authorize(self, group_id: str, rules: list[Rule]) -> None:
        self._ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=_permissions(rules, described=True))

    def revoke(self, group_id: str, rules: list[Rule]) -> None:
        self._ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=_permissions(rules, described=False))

    def delete(self, group_id: str, name: str) -> None:
        try:
            self._ec2.delete_security_group(GroupId=group_id)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            if code == "InvalidGroup.NotFound":
                return
            if code == "DependencyViolation":
                raise TransientFailure(
                    f"Security group {name} ({group_id}) is still in use: RDS removes it from the instance's network "
                    "interfaces within minutes of the detach. If another resource uses the group (or another group's "
                    "rule names it), remove it there; then run the teardown again"
                ) from None
            raise
