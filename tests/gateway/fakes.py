"""An in-memory stand-in for the registry's RPC interface, for the gateway's own tests.

Small Longgang tree (codes as the registry writes them)::

    longgang                    龙岗区总工会
    ├── longgang.bantian        坂田街道总工会
    │   ├── longgang.bantian.nankeng   南坑社区工联会   enterprise NK_ENTERPRISE
    │   └── longgang.bantian.yangmei   杨美社区工联会
    └── longgang.yuanshan       园山街道总工会
        └── longgang.yuanshan.zhangbei 嶂背社区工联会  enterprise ZB_ENTERPRISE

Only the shapes and the errors matter here; the registry's rules are tested with the
registry, and tests/gateway/test_with_registry.py runs the two services together.
"""

import copy

from shared.errors import Conflict, InvalidInput, NotFound
from shared.paging import sequence_page

DISTRICT = "longgang"
BANTIAN = "longgang.bantian"
YUANSHAN = "longgang.yuanshan"
NANKENG = "longgang.bantian.nankeng"
YANGMEI = "longgang.bantian.yangmei"
ZHANGBEI = "longgang.yuanshan.zhangbei"
NK_ENTERPRISE = "91440300MA5NK0001F"
ZB_ENTERPRISE = "91440300MA5YB00016"

_TREE = [
    (DISTRICT, "龙岗区总工会", "district_federation", None),
    (BANTIAN, "坂田街道总工会", "street_federation", DISTRICT),
    (YUANSHAN, "园山街道总工会", "street_federation", DISTRICT),
    (NANKENG, "南坑社区工联会", "community_federation", BANTIAN),
    (YANGMEI, "杨美社区工联会", "community_federation", BANTIAN),
    (ZHANGBEI, "嶂背社区工联会", "community_federation", YUANSHAN),
]
_TIERS = {"district_federation": "district", "street_federation": "street",
          "community_federation": "community", "park_federation": "community",
          "industry_union": "street", "enterprise_union": "enterprise"}


class FakeRegistry:
    def __init__(self):
        self.organizations = {}
        self.contacts = {}
        self.enterprises = {}
        self.writes = []  # (method, key) of every change, to prove refused calls changed nothing
        for code, name, kind, parent in _TREE:
            self._add_organization({"code": code, "name": name, "kind": kind,
                                    "parent_code": parent})
        self.contacts[NANKENG] = [{"name": "李主席", "role": "工联会主席",
                                   "phone": "13800000001", "email": None,
                                   "webhook_url": None}]
        self.contacts[ZHANGBEI] = [{"name": "王主席", "role": "工联会主席",
                                    "phone": "13800000002", "email": None,
                                    "webhook_url": None}]
        for credit_code, name, community in ((NK_ENTERPRISE, "南坑电子厂", NANKENG),
                                             (ZB_ENTERPRISE, "嶂背五金厂", ZHANGBEI)):
            self._add_enterprise({"credit_code": credit_code, "name": name,
                                  "community_code": community, "headcount": 120,
                                  "union_status": "covered", "union_code": community,
                                  "key_enterprise": False})

    # --- internals ----------------------------------------------------------------------

    def _add_organization(self, data):
        parent = data.get("parent_code")
        path = [*self.organizations[parent]["path"], data["code"]] if parent else [data["code"]]
        organization = {"code": data["code"], "name": data["name"], "kind": data["kind"],
                        "tier": _TIERS[data["kind"]], "parent_code": parent, "path": path,
                        "party_organization": data.get("party_organization"),
                        "enterprise_credit_code": data.get("enterprise_credit_code")}
        self.organizations[data["code"]] = organization
        return copy.deepcopy(organization)

    def _add_enterprise(self, data):
        enterprise = {"address": None, "assigned_leader": None, "status": "active",
                      "union_code": None, "key_enterprise": False, **data,
                      "path": list(self.organization(data["community_code"])["path"])}
        self.enterprises[data["credit_code"]] = enterprise
        return copy.deepcopy(enterprise)

    def organization(self, code):
        try:
            return self.organizations[code]
        except KeyError:
            raise NotFound(f"no organization {code}", {"code": code}) from None

    def enterprise(self, credit_code):
        try:
            return self.enterprises[credit_code]
        except KeyError:
            raise NotFound(f"no enterprise {credit_code}") from None

    # --- the RPC interface ----------------------------------------------------------------

    def get_organization(self, code):
        # The registry's view carries the contacts; the gateway must not leak them.
        return {**copy.deepcopy(self.organization(code)),
                "contacts": copy.deepcopy(self.contacts.get(code, []))}

    def list_children(self, code, cursor=None, limit=100):
        self.organization(code)
        return sequence_page([self.get_organization(org["code"])
                              for org in self.organizations.values()
                              if org["parent_code"] == code],
                             lambda org: (org["code"],), cursor, limit)

    def statistics(self, code):
        inside = [e for e in self.enterprises.values()
                  if code in e["path"] and e["status"] == "active"]
        own = sum(e["union_status"] == "own" for e in inside)
        covered = sum(e["union_status"] == "covered" for e in inside)
        self.organization(code)
        return {"code": code, "name": self.organization(code)["name"],
                "enterprises": len(inside),
                "workers": sum(e["headcount"] for e in inside), "own_union": own,
                "covered": covered,
                "establishment_rate": (own + covered) / len(inside) if inside else 0.0}

    def register_organization(self, data, caller=None):
        if data["code"] in self.organizations:
            raise Conflict(f"organization {data['code']} already exists")
        self.organization(data["parent_code"])
        self.writes.append(("register_organization", data["code"]))
        return self._add_organization(data)

    def update_organization(self, code, changes, caller=None):
        self.organization(code).update(changes)
        self.writes.append(("update_organization", code))
        return self.get_organization(code)

    def move_organization(self, code, parent_code, caller=None):
        organization, parent = self.organization(code), self.organization(parent_code)
        if code in parent["path"]:
            raise InvalidInput(f"{parent_code} is inside {code}'s own subtree")
        self.writes.append(("move_organization", code))
        old = organization["path"]
        for other in self.organizations.values():
            if other["path"][:len(old)] == old:
                other["path"] = parent["path"] + other["path"][len(old) - 1:]
        organization["parent_code"] = parent_code
        return self.get_organization(code)

    def get_contacts(self, code, caller=None):
        self.organization(code)
        return {"code": code, "contacts": copy.deepcopy(self.contacts.get(code, []))}

    def set_contacts(self, code, contacts, caller=None):
        self.organization(code)
        self.writes.append(("set_contacts", code))
        self.contacts[code] = [{"phone": None, "email": None, "webhook_url": None, **c}
                               for c in contacts]
        return self.get_contacts(code)

    def chain(self, code=None, credit_code=None, caller=None):
        enterprise = self.enterprise(credit_code) if credit_code else None
        path = enterprise["path"] if enterprise else self.organization(code)["path"]
        return {"code": code, "credit_code": credit_code,
                "enterprise": enterprise and {k: enterprise[k] for k in (
                    "credit_code", "name", "key_enterprise", "status")},
                "assigned_leader": enterprise and enterprise["assigned_leader"],
                "chain": [{"tier": org["tier"],
                           "union": {"code": org["code"], "name": org["name"],
                                     "kind": org["kind"]},
                           "party_organization": org["party_organization"],
                           "contacts": self.contacts.get(org["code"], [])}
                          for org in (self.organizations[c] for c in reversed(path))]}

    def get_enterprise(self, credit_code, caller=None):
        return copy.deepcopy(self.enterprise(credit_code))

    def list_enterprises(self, code, caller=None, cursor=None, limit=100):
        self.organization(code)
        inside = [e for e in self.enterprises.values() if code in e["path"]]
        return sequence_page(copy.deepcopy(inside), lambda e: (e["credit_code"],), cursor,
                             limit)

    def register_enterprise(self, data, caller=None):
        if data["credit_code"] in self.enterprises:
            raise Conflict(f"enterprise {data['credit_code']} already exists")
        self.writes.append(("register_enterprise", data["credit_code"]))
        return self._add_enterprise(data)

    def update_enterprise(self, credit_code, changes, caller=None):
        self.enterprise(credit_code).update(changes)
        self.writes.append(("update_enterprise", credit_code))
        return self.get_enterprise(credit_code)

    def move_enterprise(self, credit_code, community_code, caller=None):
        enterprise = self.enterprise(credit_code)
        enterprise["path"] = list(self.organization(community_code)["path"])
        enterprise["community_code"] = community_code
        self.writes.append(("move_enterprise", credit_code))
        return self.get_enterprise(credit_code)

    def close_enterprise(self, credit_code, reason, caller=None):
        enterprise = self.enterprise(credit_code)
        if enterprise["status"] == "closed":
            return self.get_enterprise(credit_code)  # as the registry: a retry is harmless
        enterprise["status"] = "closed"
        self.writes.append(("close_enterprise", credit_code))
        return self.get_enterprise(credit_code)

    def import_enterprises(self, rows, caller=None):
        """An upsert by credit code, as the registry's importer does it."""
        report = {"rows": len(rows), "created": 0, "updated": 0, "unchanged": 0,
                  "rejected": 0, "errors": []}
        for index, row in enumerate(rows, start=1):
            try:
                if row["credit_code"] in self.enterprises:
                    changes = {k: v for k, v in row.items() if k != "community_code"}
                    self.update_enterprise(row["credit_code"], changes)
                    if row.get("community_code"):
                        self.move_enterprise(row["credit_code"], row["community_code"])
                    report["updated"] += 1
                else:
                    self.register_enterprise(row)
                    report["created"] += 1
            except (NotFound, KeyError) as exc:
                report["rejected"] += 1
                report["errors"].append({"row": index, "credit_code": row.get("credit_code"),
                                         "reason": str(exc)})
        return report
