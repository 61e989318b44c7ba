"""Member cards and merchants: issuing and replacing cards, what a check tells, member
prices."""


import pytest

from services.membership import operations, views
from shared.errors import Conflict, NotFound
from shared.testing import outbox_envelopes as events
from tests.membership.conftest import (
    ADMIN,
    NANKENG,
    NANKENG_STAFF,
    SMALL,
    join,
)


def test_a_lost_card_is_replaced_and_the_old_one_reads_expired(sqlite_district, keys):
    db = sqlite_district
    member = join(db, keys)
    with pytest.raises(Conflict, match="already has a card"):
        with db.unit_of_work() as uow:
            operations.request_card(uow, keys, member["worker_id"], False, NANKENG_STAFF)
    with db.unit_of_work() as uow:
        new = operations.request_card(uow, keys, member["worker_id"], True, NANKENG_STAFF)
    with db.session() as session:
        assert views.card_verdict(session, keys, member["card"]["number"]) == "expired"
        assert views.card_verdict(session, keys, new["number"]) == "valid"
        assert views.card_verdict(session, keys, "1234 5678 9012 3456") == "unknown"
        assert views.card_verdict(session, keys, "not a card") == "unknown"
    assert events(db)[-1]["data"]["replaces_lost_card"] is True


def test_a_merchant_gives_its_discount_only_for_a_valid_card(sqlite_district, keys):
    db = sqlite_district
    card = join(db, keys)["card"]["number"]
    with db.unit_of_work() as uow:
        barber = operations.register_merchant(uow, {
            "name": "南坑理发店", "organization_code": SMALL,
            "rule": {"kind": "percent_off", "percent_off": 20}}, NANKENG_STAFF)
        market = operations.register_merchant(uow, {
            "name": "南坑爱心超市", "organization_code": NANKENG,
            "rule": {"kind": "cost_plus", "markup_fen": 100}}, NANKENG_STAFF)
    with db.session() as session:
        assert views.check_purchase(session, keys, barber["merchant_id"], card, 3000, None) == {
            "card": "valid", "discount_applied": True, "price_fen": 3000, "pay_fen": 2400}
        assert views.check_purchase(session, keys, market["merchant_id"], card, 1500,
                                  1000)["pay_fen"] == 1100
        stranger = views.check_purchase(session, keys, market["merchant_id"],
                                      "4000 0000 0000 0002", 1500, 1000)
        assert stranger == {"card": "unknown", "discount_applied": False, "price_fen": 1500,
                            "pay_fen": 1500}
        assert [m["name"] for m in views.list_merchants(session, NANKENG)["items"]] == [
            "南坑理发店", "南坑爱心超市"]
    with pytest.raises(NotFound, match="not known to the registry"):
        with db.unit_of_work() as uow:
            operations.register_merchant(uow, {"name": "x", "organization_code": "91440300NOPE",
                                        "rule": {"kind": "cost_plus", "markup_fen": 100}},
                                  ADMIN)
