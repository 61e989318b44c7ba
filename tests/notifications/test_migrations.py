"""The migrations build exactly the tables models.py describes, 0002 (the kit's
registry read model) keeps what a database at 0001 holds, and 0003 tells the inbox
messages already there about cases from the incubation reminders."""

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.notifications import readmodel
from services.notifications.models import enterprises, inbox_messages, metadata, organizations
from shared.db import make_engine, migrate
from shared.testing import schema_differences
from tests.notifications.conftest import (
    COMMUNITY,
    DISTRICT,
    KEY_ENTERPRISE,
    MIGRATIONS,
    PATH,
    STREET,
    T0,
    registry_event,
)


def test_the_migrations_match_the_models(db_url):
    assert schema_differences(db_url, metadata, MIGRATIONS) == []


def test_the_kit_s_read_model_columns_are_added_and_filled_keeping_every_row(db_url):
    migrate(db_url, MIGRATIONS, revision="0001")
    engine = make_engine(db_url)
    old = sa.MetaData()
    old.reflect(engine)
    with engine.begin() as connection:
        connection.execute(old.tables["organizations"].insert(), [
            {"code": code, "name": name, "kind": "street_federation", "tier": tier,
             "parent_code": parent, "path": PATH[:depth], "party_name": f"{name}党委",
             "party_kind": None, "as_of": T0}
            for depth, (code, name, tier, parent) in enumerate((
                (DISTRICT, "龙岗区总工会", "district", None),
                (STREET, "坂田街道总工会", "street", DISTRICT),
                (COMMUNITY, "南坑社区工联会", "community", STREET)), start=1)])
        connection.execute(old.tables["organization_contacts"].insert(), {
            "code": STREET, "contacts": [{"name": "值班员", "webhook_url": "http://x/h"}],
            "as_of": T0})
        connection.execute(old.tables["enterprises"].insert(), {
            "credit_code": KEY_ENTERPRISE["credit_code"], "name": "南坑精密电子厂",
            "community_code": COMMUNITY, "path": PATH, "key_enterprise": True,
            "assigned_leader": {"name": "李挂点", "title": "坂田街道副主任"},
            "status": "active", "as_of": T0})
    engine.dispose()

    assert schema_differences(db_url, metadata, MIGRATIONS) == []  # migrates to the head
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = {row.code: row for row in connection.execute(sa.select(organizations))}
            [enterprise] = connection.execute(sa.select(enterprises)).all()
        assert {code: row.path_key for code, row in rows.items()} == {
            DISTRICT: "/longgang/", STREET: "/longgang/longgang.bantian/",
            COMMUNITY: "/longgang/longgang.bantian/longgang.bantian.nankeng/"}
        assert rows[STREET].party_name == "坂田街道总工会党委"
        assert rows[COMMUNITY].parent_code == STREET
        assert enterprise.path_key == rows[COMMUNITY].path_key
        assert (enterprise.headcount, enterprise.union_status, enterprise.union_code) == (
            0, "none", None)
        assert enterprise.assigned_leader["name"] == "李挂点"

        with Session(engine) as session, session.begin():
            # what was there before the migration still serves: the chain, the leader
            links = readmodel.chain(session, {"path": PATH, "community_code": COMMUNITY})
            assert [(link.code, link.name) for link in links][1] == (STREET, "坂田街道总工会")
            assert links[1].webhooks == ("http://x/h",)
            case_enterprise = {"credit_code": KEY_ENTERPRISE["credit_code"],
                               "key_enterprise": True}
            assert readmodel.leader(session, case_enterprise).name == "李挂点"
            # and the next snapshot of the enterprise fills in what the migration could not
            readmodel.apply_enterprise(session, *registry_event(
                "enterprise_updated", dict(KEY_ENTERPRISE, changed=["headcount"],
                                           previous={"headcount": 800}),
                T0 + timedelta(seconds=1)))
            row = session.execute(sa.select(enterprises)).one()
            assert (row.headcount, row.union_status) == (820, "own")
    finally:
        engine.dispose()


def test_inbox_messages_already_here_are_about_a_case_or_an_incubation_period(sqlite_url):
    migrate(sqlite_url, MIGRATIONS, revision="0002")
    engine = make_engine(sqlite_url)
    old = sa.MetaData()
    old.reflect(engine)
    with engine.begin() as connection:
        connection.execute(old.tables["inbox_messages"].insert(), [
            {"organization_code": DISTRICT, "recipient_kind": "union", "case_id": subject,
             "notification_id": f"n{number}", "message_kind": kind, "title": "t",
             "body": {}, "created_at": T0}
            for number, (subject, kind) in enumerate((
                ("9f" * 16, "notice"), ("incubation:7:2026-12-31", "reminder")))])
    engine.dispose()
    migrate(sqlite_url, MIGRATIONS)
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            kinds = dict(connection.execute(sa.select(
                inbox_messages.c.case_id, inbox_messages.c.subject_kind)).all())
    finally:
        engine.dispose()
    assert kinds == {"9f" * 16: "case", "incubation:7:2026-12-31": "incubation"}
