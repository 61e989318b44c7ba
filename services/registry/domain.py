"""Registry rules as plain Python: the organization tree, enterprises, credit codes, counts.

Nothing here touches a database or nameko. ``operations`` loads rows, asks these
functions whether a change is allowed and what it changes, then writes.

The tree (DOMAIN.md section 1)::

    district_federation 区总工会                    tier district
    ├── street_federation 街道总工会                 tier street
    │   ├── community_federation 社区工联会          tier community
    │   │   └── enterprise_union 企业工会             tier enterprise (of one enterprise)
    │   └── park_federation 园区工联会                tier community
    └── industry_union 行业工会                       tier street

Enterprises sit in a community or park federation. Their counts (enterprises, workers,
own union, covered) add up along the path district .. community.

What a well-formed code or credit code is (GB 32100-2015 check digit) is part of the RPC
contract, ``shared/api/registry.py``: the gateway checks it too.
"""

from dataclasses import dataclass, replace

from shared.api.registry import code_problem
from shared.errors import InvalidInput

# --- organizations -------------------------------------------------------------------

@dataclass(frozen=True)
class KindRule:
    tier: str
    parents: tuple[str, ...]  # kinds the parent may have; () for the root
    party_kinds: tuple[str, ...]  # kinds of the supervising party organization
    party_required: bool  # 党管工会: every federation has its party organization


COMMUNITY_KINDS = ("community_federation", "park_federation")

KIND_RULES = {
    "district_federation": KindRule("district", (), ("district_committee",), True),
    "street_federation": KindRule(
        "street", ("district_federation",), ("street_working_committee",), True),
    "community_federation": KindRule(
        "community", ("street_federation",), ("community_party_committee",), True),
    "park_federation": KindRule(
        "community", ("street_federation",),
        ("park_party_organization", "community_party_committee"), True),
    "industry_union": KindRule(
        "street", ("district_federation",), ("industry_party_committee",), False),
    # Where an enterprise has no party branch, its union has no party organization.
    "enterprise_union": KindRule("enterprise", COMMUNITY_KINDS, ("enterprise_party_branch",),
                                 False),
}


def tier_of(kind: str) -> str:
    return KIND_RULES[kind].tier


@dataclass(frozen=True)
class Organization:
    code: str
    name: str
    kind: str
    parent_code: str | None
    path: tuple[str, ...]  # district .. itself
    party_organization: dict | None = None  # {"name", "kind"}
    enterprise_credit_code: str | None = None  # for an enterprise union
    contacts: tuple = ()

    @property
    def tier(self) -> str:
        return tier_of(self.kind)

    def snapshot(self) -> dict:
        """The organization as events and the API carry it."""
        return {
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "tier": self.tier,
            "parent_code": self.parent_code,
            "path": list(self.path),
            "party_organization": self.party_organization,
            "enterprise_credit_code": self.enterprise_credit_code,
        }


def placement_problems(kind: str, parent: Organization | None,
                       party_organization: dict | None) -> dict:
    """Why an organization of ``kind`` cannot sit under ``parent``; {} when it can."""
    rule = KIND_RULES[kind]
    problems = {}
    if not rule.parents:
        if parent is not None:
            problems["parent_code"] = [f"a {kind} is the root of the tree and has no parent"]
    elif parent is None:
        problems["parent_code"] = [
            f"a {kind} needs a parent ({' or '.join(rule.parents)})"]
    elif parent.kind not in rule.parents:
        problems["parent_code"] = [
            f"a {kind} sits under a {' or '.join(rule.parents)}, and {parent.code} is a "
            f"{parent.kind}"]
    if party_organization is None:
        if rule.party_required:
            problems["party_organization"] = [
                f"a {kind} is led by a party organization ({' or '.join(rule.party_kinds)})"]
    elif party_organization["kind"] not in rule.party_kinds:
        problems["party_organization"] = [
            f"a {kind} is supervised by a {' or '.join(rule.party_kinds)}, not a "
            f"{party_organization['kind']}"]
    return problems


def code_problems(code: str, parent: Organization | None, field: str = "code") -> dict:
    """A new organization's code is its parent's code and one more part
    (``longgang.bantian`` + ``.nankeng``), so the code alone says where it was placed and
    nobody places ``longgang.baolong.x`` under 坂田. (A move keeps the code it has.)"""
    if parent is not None and not code.startswith(parent.code + "."):
        return {field: [f"an organization under {parent.code} has a code beginning "
                         f"{parent.code}."]}
    return {}


def move_problems(organization: Organization, parent: Organization) -> dict:
    if organization.kind == "enterprise_union":
        return {"code": ["an enterprise union moves with its enterprise: use move_enterprise"]}
    if organization.code in parent.path:
        return {"parent_code": [f"{parent.code} is inside {organization.code}'s own subtree"]}
    return placement_problems(organization.kind, parent, organization.party_organization)


def enterprise_union_code(community_code: str, credit_code: str) -> str:
    """The code given to an enterprise's own union when none is named."""
    return f"{community_code}.{credit_code.lower()}"


# --- counts ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Counts:
    """What one organization's subtree holds: the figures of ``statistics``."""

    enterprises: int = 0
    workers: int = 0
    own_union: int = 0
    covered: int = 0

    def __add__(self, other):
        return Counts(self.enterprises + other.enterprises, self.workers + other.workers,
                      self.own_union + other.own_union, self.covered + other.covered)

    def __sub__(self, other):
        return Counts(self.enterprises - other.enterprises, self.workers - other.workers,
                      self.own_union - other.own_union, self.covered - other.covered)

    def __bool__(self):
        return bool(self.enterprises or self.workers or self.own_union or self.covered)

    def values(self) -> tuple[int, int, int, int]:
        return (self.enterprises, self.workers, self.own_union, self.covered)

    @property
    def establishment_rate(self) -> float:
        """建会率 = (own + covered) / enterprises, 0.0 where there are no enterprises."""
        if not self.enterprises:
            return 0.0
        return round((self.own_union + self.covered) / self.enterprises, 4)


ZERO = Counts()


class StatsDeltas:
    """Changes to the per-organization counts, summed before they are written.

    An enterprise counts in every organization on its community's path, so a change
    adds (or removes) its counts along that path; a batch of changes collapses into
    one delta per organization touched. (Summed per path first, spread along the paths
    at the end: an import adds once per row, not once per ancestor.)
    """

    def __init__(self):
        self._by_path: dict[tuple, Counts] = {}

    def add(self, path, counts: Counts):
        if counts:
            path = tuple(path)
            self._by_path[path] = self._by_path.get(path, ZERO) + counts

    def remove(self, path, counts: Counts):
        self.add(path, ZERO - counts)

    def items(self):
        """(code, delta) pairs that change something, in code order (a fixed lock order)."""
        deltas = {}
        for path, counts in self._by_path.items():
            for code in path:
                deltas[code] = deltas.get(code, ZERO) + counts
        return [(code, delta) for code, delta in sorted(deltas.items()) if delta]

    def __bool__(self):
        return bool(self.items())


# --- enterprises -----------------------------------------------------------------------

MIN_HEADCOUNT_FOR_OWN_UNION = 25
KEY_ENTERPRISE_HEADCOUNT = 500

# What update_enterprise may change (community: move_enterprise; status: close_enterprise).
ENTERPRISE_FIELDS = ("name", "address", "headcount", "union_status", "union_code",
                     "key_enterprise", "assigned_leader")


@dataclass(frozen=True)
class Enterprise:
    credit_code: str
    name: str
    community_code: str
    headcount: int
    union_status: str = "none"
    union_code: str | None = None
    key_enterprise: bool = False
    assigned_leader: dict | None = None  # {"name", "title", "phone"}
    address: str | None = None
    status: str = "active"
    closed_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"

    def counts(self) -> Counts:
        if not self.active:
            return ZERO
        return Counts(1, self.headcount, int(self.union_status == "own"),
                      int(self.union_status == "covered"))

    def snapshot(self, path) -> dict:
        return {
            "credit_code": self.credit_code,
            "name": self.name,
            "address": self.address,
            "community_code": self.community_code,
            "path": list(path),
            "headcount": self.headcount,
            "union_status": self.union_status,
            "union_code": self.union_code,
            "key_enterprise": self.key_enterprise,
            "assigned_leader": self.assigned_leader,
            "status": self.status,
        }


def merge_enterprise(existing: Enterprise | None, stated: dict) -> Enterprise:
    """The enterprise after applying the ``stated`` fields (absent keys: not stated).

    New enterprises take defaults; existing ones keep what is not stated, except where
    one stated value implies another:
    - union_code not stated: kept if union_status is unchanged, else the default for the
      new status (covered: its community; own: ``enterprise_union_code``; none: None);
    - key_enterprise not stated: kept; a new enterprise is key from 500 workers;
    - key_enterprise stated false clears the assigned leader (only key ones have one).
    """
    # The fields as a dict, made an Enterprise once: a frozen dataclass is slow to build,
    # and an import builds one per row.
    if existing is None:
        headcount = stated["headcount"]
        merged = {"credit_code": stated["credit_code"], "union_status": "none",
                  "union_code": None, "key_enterprise": headcount >= KEY_ENTERPRISE_HEADCOUNT,
                  "assigned_leader": None}
        status_changed = True
    else:
        merged = {name: getattr(existing, name) for name in (
            "credit_code", "community_code", "union_status", "union_code", "key_enterprise",
            "assigned_leader")}
        status_changed = (
            "union_status" in stated and stated["union_status"] != existing.union_status)
    merged.update({name: stated[name] for name in ("name", "address", "headcount",
                                                   "union_status", "community_code")
                   if name in stated})
    if "union_code" in stated and stated["union_code"] is not None:
        merged["union_code"] = stated["union_code"]
    elif "union_code" in stated or status_changed:
        merged["union_code"] = default_union_code(
            merged["union_status"], merged["community_code"], merged["credit_code"])
    key = stated.get("key_enterprise")
    if key is not None:
        merged["key_enterprise"] = key
    if "assigned_leader" in stated:
        merged["assigned_leader"] = stated["assigned_leader"]
    elif key is False:
        merged["assigned_leader"] = None
    return Enterprise(**merged) if existing is None else replace(existing, **merged)


def default_union_code(union_status, community_code, credit_code) -> str | None:
    if union_status == "covered":
        return community_code
    if union_status == "own":
        return enterprise_union_code(community_code, credit_code)
    return None


def moved_enterprise(enterprise: Enterprise, community_code: str) -> Enterprise:
    """Coverage by the old community federation follows the enterprise to the new one."""
    union_code = enterprise.union_code
    if enterprise.union_status == "covered" and union_code == enterprise.community_code:
        union_code = community_code
    return replace(enterprise, community_code=community_code, union_code=union_code)


def enterprise_problems(enterprise: Enterprise, community: Organization | None,
                        union: Organization | None) -> dict:
    """Why ``enterprise`` is not acceptable as it stands; {} if it is.

    ``union`` is the organization named by union_code (None if there is no such
    organization: for an own union that means it will be created).
    """
    problems = {}

    def add(field_name, message):
        problems.setdefault(field_name, []).append(message)

    if community is None:
        add("community_code", f"no organization has the code {enterprise.community_code!r}")
    elif community.kind not in COMMUNITY_KINDS:
        add("community_code", f"{community.code} is a {community.kind}; an enterprise sits "
                              "in a community_federation or park_federation")
    if enterprise.headcount < 0:
        add("headcount", "a headcount cannot be negative")
    status, code = enterprise.union_status, enterprise.union_code
    if status == "own":
        if enterprise.headcount < MIN_HEADCOUNT_FOR_OWN_UNION:
            add("union_status",
                f"an enterprise under {MIN_HEADCOUNT_FOR_OWN_UNION} workers (this one has "
                f"{enterprise.headcount}) cannot have its own union: use covered or none")
        if union is None:
            problem = code_problem(code)
            if problem:
                add("union_code", problem)
        elif (union.kind != "enterprise_union"
              or union.enterprise_credit_code != enterprise.credit_code):
            owner = union.enterprise_credit_code or union.kind
            add("union_code", f"{code} is not this enterprise's own union (it belongs to "
                              f"{owner})")
    elif status == "covered":
        if union is None:
            add("union_code", f"no organization has the code {code!r}")
        elif union.kind not in COMMUNITY_KINDS:
            add("union_code", f"an enterprise is covered by a community or park federation, "
                              f"and {code} is a {union.kind}")
    elif code is not None:
        add("union_code", "an enterprise without a union has no union_code")
    if enterprise.assigned_leader and not enterprise.key_enterprise:
        add("assigned_leader", "only a key enterprise has an assigned leader (挂点领导): "
                               "set key_enterprise too")
    return problems


def check(problems: dict, message: str):
    if problems:
        raise InvalidInput(message, problems)


def changed_fields(old, new, names) -> tuple[list[str], dict]:
    """Names of the fields that differ and their old values."""
    changed = [name for name in names if getattr(old, name) != getattr(new, name)]
    return changed, {name: getattr(old, name) for name in changed}


# --- the chain -------------------------------------------------------------------------

def chain_item(organization: Organization) -> dict:
    return {
        "tier": organization.tier,
        "union": {"code": organization.code, "name": organization.name,
                  "kind": organization.kind},
        "party_organization": organization.party_organization,
        "contacts": list(organization.contacts),
    }


def chain_of(path_organizations: list[Organization],
             own_union: Organization | None = None) -> list[dict]:
    """From the nearest organization up to the district: own union first, if any."""
    ordered = sorted(path_organizations, key=lambda org: len(org.path), reverse=True)
    if own_union is not None and own_union.code not in {org.code for org in ordered}:
        ordered.insert(0, own_union)
    return [chain_item(org) for org in ordered]
