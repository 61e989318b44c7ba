"""The registry read model: snapshots in any order, and the chain worked out from it."""

from datetime import timedelta

from services.notifications import readmodel
from tests.notifications.conftest import (
    COMMUNITY,
    DISTRICT,
    KEY_ENTERPRISE,
    ORGANIZATIONS,
    PATH,
    STREET,
    T0,
    registry_event,
    seed_chain,
)

ENTERPRISE = {"credit_code": None, "name": "某厂", "community_code": COMMUNITY, "path": PATH,
              "key_enterprise": False}


def test_the_chain_runs_from_the_community_up_to_the_district_with_party_organizations(
        database):
    with database.unit_of_work() as uow:
        seed_chain(uow.session, webhooks={STREET: "http://bantian.example/hook"})
        links = readmodel.chain(uow.session, ENTERPRISE)
    assert [(link.tier, link.code, link.name, link.party_name) for link in links] == [
        ("community", COMMUNITY, "南坑社区工联会", "南坑社区综合党委"),
        ("street", STREET, "坂田街道总工会", "坂田街道党工委"),
        ("district", DISTRICT, "龙岗区总工会", "中共龙岗区委"),
    ]
    assert links[1].webhooks == ("http://bantian.example/hook",)


def test_the_chain_exists_from_the_case_alone_before_the_registry_has_spoken(database):
    with database.session() as session:
        links = readmodel.chain(session, ENTERPRISE)
    assert [(link.tier, link.code, link.name) for link in links] == [
        ("community", COMMUNITY, None), ("street", STREET, None), ("district", DISTRICT, None)]


def test_an_older_snapshot_arriving_late_never_overwrites_a_newer_one(database):
    street = dict(ORGANIZATIONS[1])
    renamed = dict(street, name="坂田街道总工会（新）", changed=["name"])
    with database.unit_of_work() as uow:
        readmodel.apply_organization(uow.session, *registry_event(
            "organization_updated", renamed, T0 + timedelta(seconds=5)))
        readmodel.apply_organization(uow.session, *registry_event(
            "organization_registered", street, T0))
        links = readmodel.chain(uow.session, ENTERPRISE)
    assert [link.name for link in links if link.code == STREET] == ["坂田街道总工会（新）"]


def test_a_key_enterprise_s_leader_comes_from_the_registry(database):
    case_enterprise = dict(ENTERPRISE, credit_code=KEY_ENTERPRISE["credit_code"],
                           key_enterprise=True)
    with database.unit_of_work() as uow:
        assert readmodel.leader(uow.session, case_enterprise) is None
        readmodel.apply_enterprise(uow.session, *registry_event("enterprise_registered",
                                                                KEY_ENTERPRISE))
        leader = readmodel.leader(uow.session, case_enterprise)
        demoted = dict(KEY_ENTERPRISE, key_enterprise=False, assigned_leader=None,
                       changed=["key_enterprise"], previous={"key_enterprise": True})
        readmodel.apply_enterprise(uow.session, *registry_event(
            "enterprise_updated", demoted, T0 + timedelta(seconds=1)))
        after = readmodel.leader(uow.session, case_enterprise)
    assert (leader.name, leader.title) == ("李挂点", "坂田街道副主任")
    assert after is None
