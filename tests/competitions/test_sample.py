"""The 2016 sample edition: asked for by ``gonghui up``, loaded once the registry's sample
district is in the read model (here applied from the registry's own outbox, as its
events would arrive), 200+ street finalists through every round."""

from datetime import datetime

import pytest

from services.competitions import readmodel, sample, views
from services.competitions.service import MIGRATIONS
from services.registry.sample import load_sample
from services.registry.service import MIGRATIONS as REGISTRY_MIGRATIONS
from shared.caller import Caller
from shared.testing import outbox_envelopes
from shared.timeutil import now_utc

ADMIN = Caller("admin", "admin", "longgang")


@pytest.fixture(scope="module")
def registry_events(tmp_path_factory):
    """The registry sample's events, made once for the module."""
    from shared.db import open_database

    url = f"sqlite:///{tmp_path_factory.mktemp('registry')}/registry.db"
    db = open_database(url, "registry", REGISTRY_MIGRATIONS)
    try:
        load_sample(db)
        return outbox_envelopes(db)
    finally:
        db.engine.dispose()


def apply(db, envelopes):
    with db.unit_of_work() as uow:
        for body in envelopes:
            kind = "organization" if body["type"].startswith("organization") else "enterprise"
            as_of = datetime.fromisoformat(body["time"])
            if body["type"] == "organization_contacts_changed":
                continue
            if body["type"] == "enterprise_batch_imported":  # the sample is an import
                readmodel.registry.apply_enterprises(uow.session, body["data"]["enterprises"],
                                                     as_of)
                continue
            apply_ = getattr(readmodel.registry, f"apply_{kind}")
            apply_(uow.session, body["data"], as_of)


def test_the_sample_waits_for_the_registry_then_loads_the_2016_edition(
        sqlite_url, database_factory, registry_events):
    db = database_factory(sqlite_url, "competitions", MIGRATIONS)
    assert sample.request(db) is True and sample.request(db) is False
    assert sample.load_if_ready(db) is None  # nothing from the registry yet
    organizations = [e for e in registry_events if e["type"].startswith("organization")]
    industry = [e for e in organizations if e["data"].get("kind") == "industry_union"]
    apply(db, [e for e in organizations if e not in industry])
    assert sample.load_if_ready(db) is None  # streets, but no enterprises yet
    apply(db, [e for e in registry_events if e["type"].startswith("enterprise")])
    # The industry unions (judges come from them) are events of their own queue: the
    # sample waits for them rather than stopping part-way
    assert industry and sample.load_if_ready(db) is None
    apply(db, industry)

    summary = sample.load_if_ready(db)
    assert summary["finalists"] >= 200 and summary["refused"] >= 1
    assert sample.load_if_ready(db) is None  # once
    with db.session() as session:
        stats = views.statistics(session, "2016", ADMIN, None)
        results = views.public_results(session, "2016", now_utc())
        pingdi = [r for r in views.edition_view(session, "2016")["rounds"]
                  if r["organization_code"] == "longgang.pingdi"][0]
        ranking = views.ranking_view(session, pingdi["id"], ADMIN)
    assert stats["finalists"] >= 200
    assert len(stats["by_street"]) == 11
    assert stats["refused"] == summary["refused"] and stats["disqualified"] == 1
    assert stats["stars_later_honoured"] == 4
    assert results["notice"]["status"] == "closed"
    assert all(w["status"] == "final" for g in results["groups"] for w in g["winners"])
    assert sum(len(g["winners"]) for g in results["groups"]) == 21
    names = [e["name"] for g in ranking["groups"] for e in g["entries"]]
    assert "刘军" in names
    assert pingdi["opened_at"].date().isoformat() == "2016-04-07"
    # one judge of each street final comes from a finalist's employer: excluded there
    excluded = [line for g in ranking["groups"] for e in g["entries"] for line in e["judges"]
                if (line["note"] or "").startswith("excluded")]
    assert excluded
