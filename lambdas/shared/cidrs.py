"""allow_cidrs: the addresses Streamkap connects from, parsed and judged before anything is opened.

Wider than one organisation's network is refused unless `allow_public_cidrs` says it is meant:
0.0.0.0/0 and ::/0, and anything broader than the widest block one organisation holds: an IPv4 /8
(IANA's largest allocation, e.g. 10.0.0.0/8 for a private network) or an IPv6 /32 (the RIRs'
smallest allocation to an ISP). A wider range spans many organisations, however it is written
(0.0.0.0/1 and 128.0.0.0/1 are the whole internet in two rules), so checking /0 alone would not do.
Streamkap publishes single addresses; a tunnel is one host."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

BROADEST_PREFIX = {4: 8, 6: 32}
# An EC2 security group holds at most 60 inbound rules per address family (the default quota).
MAX_CIDRS = 50
# Addresses that never come over the internet: RFC 1918, carrier-grade NAT, unique local IPv6,
# loopback, link-local. Anything else (documentation ranges included, which stand for public
# addresses in examples) reaches the database from outside its VPC.
PRIVATE_RANGES = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
)


def parse_cidr(value: str) -> Network:
    """One CIDR (a bare address is a /32 or /128); host bits set is a mistake, not a network."""
    text = value.strip()
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"allow_cidrs: {value!r} is not an IPv4 or IPv6 CIDR (e.g. 203.0.113.0/24)") from None
        raise ValueError(
            f"allow_cidrs: {value!r} has host bits set: did you mean {loose} (the network) or "
            f"{text.partition('/')[0]}/{loose.max_prefixlen} (one host)?"
        ) from None
    return network


def too_broad(network: Network) -> bool:
    return network.prefixlen < BROADEST_PREFIX[network.version]


def is_public(network: Network) -> bool:
    """Reaches the database over the internet: no part of a private range."""
    return not any(
        network.version == private.version and network.subnet_of(private)  # type: ignore[arg-type]
        for private in PRIVATE_RANGES
    )


def normalize_cidrs(values: list[str], *, allow_public: bool) -> list[str]:
    """The CIDRs in canonical form (ipaddress's), in the given order without duplicates; ValueError
    naming every problem."""
    if not values:
        raise ValueError(
            "allow_cidrs must list at least one CIDR, or be null (access is not managed); to remove the access "
            "rule setup made, run the teardown with drop_security_group"
        )
    networks: list[Network] = []
    problems: list[str] = []
    for value in values:
        try:
            network = parse_cidr(value)
        except ValueError as error:
            problems.append(str(error))
            continue
        if network not in networks:
            networks.append(network)
    broad = [str(n) for n in networks if too_broad(n)]
    if broad and not allow_public:
        problems.append(
            f"allow_cidrs {broad} would open the database port to "
            f"{'the whole internet' if any(n.prefixlen == 0 for n in networks if str(n) in broad) else 'much of it'}"
            f" (wider than an IPv4 /{BROADEST_PREFIX[4]} or IPv6 /{BROADEST_PREFIX[6]}): list Streamkap's published "
            "addresses or your tunnel's, or set allow_public_cidrs true if that is really meant"
        )
    if len(networks) > MAX_CIDRS:
        problems.append(
            f"allow_cidrs lists {len(networks)} CIDRs; at most {MAX_CIDRS} (a security group holds 60 inbound "
            "rules per address family)"
        )
    if problems:
        raise ValueError("; ".join(problems))
    return [str(network) for network in networks]


@dataclass(frozen=True, order=True)
class Rule:
    """One inbound rule of a security group: TCP on the database port from one CIDR."""

    cidr: str
    port: int
    protocol: str = "tcp"

    @property
    def network(self) -> Network:
        return ipaddress.ip_network(self.cidr, strict=False)

    def same_as(self, other: Rule) -> bool:
        return (self.protocol, self.port, self.network) == (other.protocol, other.port, other.network)
