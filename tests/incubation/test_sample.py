"""The sample hub reproduces the district's figures through the service's own statistics:
41 incubated organizations, 1,000+ activities reaching 100,000+ workers, the hub 4A and
its 300,000 yuan from the provincial special fund."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from services.incubation import readmodel, sample, views
from services.incubation.models import organizations
from services.incubation.service import MIGRATIONS
from shared.caller import Caller

VIEWER = Caller("区总工会观察员", "viewer", sample.DISTRICT)


def sample_places(session):
    """The registry's events for the places the sample uses (district, streets, them)."""
    readmodel.apply_organization(session, {
        "code": sample.DISTRICT, "name": "龙岗区总工会", "kind": "district_federation",
        "tier": "district", "parent_code": None, "path": [sample.DISTRICT]}, None)
    for code in sample.PLACES:
        street = ".".join(code.split(".")[:2])
        readmodel.apply_organization(session, {
            "code": street, "name": f"{street}街道总工会", "kind": "street_federation",
            "tier": "street", "parent_code": sample.DISTRICT,
            "path": [sample.DISTRICT, street]}, None)
        readmodel.apply_organization(session, {
            "code": code, "name": f"{code}工联会", "kind": "community_federation",
            "tier": "community", "parent_code": street,
            "path": [sample.DISTRICT, street, code]}, None)


@pytest.fixture
def loaded(db_url, database_factory):
    db = database_factory(db_url, "incubation", MIGRATIONS)
    sample.request(db)
    assert sample.load_if_ready(db) is None, "the places have not arrived yet"
    with db.unit_of_work() as uow:
        sample_places(uow.session)
    summary = sample.load_if_ready(db)
    assert summary is not None
    assert sample.load_if_ready(db) is None, "loaded once"
    return db


def test_the_statistics_reproduce_the_hubs_three_years_and_its_ledgers_balance(loaded):
    with loaded.session() as session:
        figures = views.statistics(session, sample.DISTRICT, "all", VIEWER)
        hub_id = session.execute(select(organizations.c.id).where(
            organizations.c.hub.is_(True))).scalar()
        hub = views.get_organization(session, hub_id, VIEWER)
    assert figures["organizations"]["by_stage"]["graduated"] == 41
    assert figures["organizations"]["hubs"] == 1
    assert figures["activities"]["activities"] >= 1000
    assert figures["activities"]["workers_reached"] >= 100_000
    # distinct people, fewer than the beneficiary rows (regulars come again)
    assert figures["activities"]["workers_reached"] < figures["activities"]["beneficiaries"]
    assert (hub["name"], hub["grade"]["grade"]) == (sample.HUB_NAME, "4A")
    assert figures["organizations"]["by_grade"]["4A"] >= 1
    assert sum(figures["organizations"]["by_grade"].values()) >= 42  # every graduate 3A+
    assert figures["funds"]["awarded"] >= Decimal("300000.00")
    assert sum(row["workers_reached"] for row in figures["below"]) >= \
        figures["activities"]["workers_reached"]
    # by kind of activity: distinct people again, each at most all of them, together at
    # least all of them (a worker reached by two kinds counts in both)
    by_kind = [kind["workers_reached"] for kind in figures["by_kind"].values()]
    assert len(by_kind) > 1 and all(0 < count <= figures["activities"]["workers_reached"]
                                    for count in by_kind)
    assert sum(by_kind) >= figures["activities"]["workers_reached"]

    # the hub won 300,000 from the provincial special fund; every ledger balances
    with loaded.session() as session:
        page = views.list_funds(session, {"code": sample.DISTRICT, "cursor": None,
                                          "limit": 10}, VIEWER)
        provincial = next(f for f in page["items"] if f["name"] == "广东省省级社会组织专项资金")
        assert views.fund_ledger(session, provincial["id"], VIEWER)["balanced"]
        assert provincial["awarded"] == sample.PROVINCIAL_AWARD
        for fund in page["items"]:
            ledger = views.fund_ledger(session, fund["id"], VIEWER)
            assert ledger["balanced"] and ledger["agrees"]
        hub_ledger = views.organization_ledger(session, hub_id, VIEWER)
        assert hub_ledger["accounts"]["granted"] == -sample.PROVINCIAL_AWARD
        assert hub_ledger["balanced"] and hub_ledger["agrees"]


def test_prepare_asks_for_the_sample_once(tmp_path):
    url = f"sqlite:///{tmp_path}/incubation.db"
    assert "requested" in " ".join(sample.prepare(url, MIGRATIONS))
    assert "not requested again" in " ".join(sample.prepare(url, MIGRATIONS))
