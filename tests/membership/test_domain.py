"""The membership rules on their own: no broker, no database."""

from dataclasses import replace
from datetime import date, timedelta

import pytest

from services.membership import domain
from shared.api.membership import RATE_LIMITS
from shared.config import SETTINGS
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.pii import WrongKey
from shared.ratelimit import limits_from
from tests.membership.conftest import ADMIN, NANKENG, NANKENG_STAFF, NANKENG_VIEWER, id_number


def test_a_valid_id_number_passes_and_one_mistyped_digit_is_caught():
    good = id_number(123)
    assert domain.id_number_problem(good) is None
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    assert "check digit" in domain.id_number_problem(wrong_check)
    swapped = good[:15] + good[16] + good[15] + good[17]  # "...123X" -> "...132X"
    assert swapped != good and domain.id_number_problem(swapped) is not None


def test_the_gb11643_check_digit_of_a_published_example():
    # The standard's own worked example: 11010519491231002X.
    assert domain.id_number_problem("11010519491231002X") is None
    assert domain.id_check_digit("11010519491231002") == "X"


@pytest.mark.parametrize("value, problem", [
    ("4403071990010112", "18 characters"),
    ("440307189001011234", "18 characters"),  # born in the 1800s
    ("440307199002301234", "not a real date"),
    ("440307199002291234", "not a real date"),  # 1990 is not a leap year
])
def test_malformed_id_numbers_are_rejected_without_repeating_the_number(value, problem):
    message = domain.id_number_problem(value)
    assert problem in message
    assert value not in message


def test_phones_must_be_mainland_mobiles():
    assert domain.phone_problem("13800138000") is None
    for bad in ("12800138000", "1380013800", "+8613800138000", "0755-8888888"):
        assert domain.phone_problem(bad)


def test_masks_keep_only_the_ends():
    assert domain.mask_id_number("11010519491231002X") == "110***********002X"
    assert domain.mask_phone("13800138000") == "138****8000"


@pytest.mark.parametrize("status, action, after", [
    ("pending", "approve", "active"),
    ("pending", "reject", "rejected"),
    ("active", "transfer", "transferred"),
    ("active", "lapse", "lapsed"),
    ("active", "leave", "left"),
])
def test_the_allowed_status_changes(status, action, after):
    assert domain.next_status(status, action, reason="因为") == after


@pytest.mark.parametrize("status, action", [
    ("pending", "transfer"), ("pending", "leave"), ("active", "approve"),
    ("active", "reject"), ("rejected", "approve"), ("left", "approve"),
    ("lapsed", "leave"), ("transferred", "transfer"),
])
def test_every_other_status_change_is_a_conflict(status, action):
    with pytest.raises(Conflict, match=f"a {status} membership cannot {action}"):
        domain.next_status(status, action, reason="因为")


def test_rejecting_leaving_and_lapsing_need_a_reason():
    for status, action in (("pending", "reject"), ("active", "leave"), ("active", "lapse")):
        with pytest.raises(InvalidInput, match="needs a reason"):
            domain.next_status(status, action, reason="  ")


def test_card_numbers_are_random_16_digits_with_a_luhn_check():
    numbers = {domain.new_card_number() for _ in range(2000)}
    assert len(numbers) == 2000
    assert all(domain.card_number_well_formed(n) for n in numbers)
    ordered = sorted(int(n) for n in numbers)
    assert min(b - a for a, b in zip(ordered, ordered[1:], strict=False)) > 1  # not sequential
    number = numbers.pop()
    typo = number[:5] + str((int(number[5]) + 1) % 10) + number[6:]
    assert not domain.card_number_well_formed(typo)


def test_a_card_reads_valid_expired_or_unknown_only():
    today = date(2026, 1, 1)
    card = {"status": "active", "valid_until": today + timedelta(days=1)}
    assert domain.card_verdict(card, True, today) == "valid"
    assert domain.card_verdict(None, True, today) == "unknown"
    assert domain.card_verdict(card | {"valid_until": today - timedelta(days=1)}, True,
                               today) == "expired"
    assert domain.card_verdict(card | {"status": "replaced"}, True, today) == "expired"
    assert domain.card_verdict(card, False, today) == "expired"  # no longer a member


def test_the_union_supermarket_sells_to_members_at_cost_plus_one_yuan():
    rule = domain.SUPERMARKET_RULE
    assert domain.purchase(rule, "valid", price_fen=1500, cost_fen=1000)["pay_fen"] == 1100
    assert domain.purchase(rule, "valid", price_fen=1050, cost_fen=1000)["pay_fen"] == 1050
    assert domain.purchase(rule, "expired", price_fen=1500, cost_fen=1000) == {
        "card": "expired", "discount_applied": False, "price_fen": 1500, "pay_fen": 1500}
    with pytest.raises(InvalidInput, match="send cost_fen"):
        domain.purchase(rule, "valid", price_fen=1500, cost_fen=None)


def test_a_percentage_discount_applies_only_to_a_valid_card():
    rule = domain.check_rule({"kind": "percent_off", "percent_off": 15})
    assert domain.purchase(rule, "valid", 3333, None) == {
        "card": "valid", "discount_applied": True, "price_fen": 3333, "pay_fen": 2833}
    assert domain.purchase(rule, "unknown", 3333, None)["pay_fen"] == 3333
    with pytest.raises(InvalidInput):
        domain.check_rule({"kind": "percent_off", "percent_off": 0})
    with pytest.raises(InvalidInput):
        domain.check_rule({"kind": "free_lunch"})


def test_the_nankeng_join_rate_rounds_to_93_percent():
    rate = domain.JoinRate(NANKENG, 9525, 10200)
    assert rate.as_dict() == {"code": NANKENG, "members": 9525, "workers": 10200,
                              "join_rate": 0.9338, "join_rate_percent": 93}
    assert domain.JoinRate(NANKENG, 0, 0).as_dict()["join_rate"] is None


def test_workers_join_their_own_union_or_the_federation_covering_them():
    own = {"credit_code": "x", "status": "active", "union_code": "u", "community_code": "c"}
    assert domain.union_for(own) == "u"
    assert domain.union_for(own | {"union_code": None}) == "c"
    with pytest.raises(Conflict, match="closed"):
        domain.union_for(own | {"status": "closed"})


def test_personal_data_is_for_staff_over_the_member_only():
    path = ["longgang", "longgang.bantian", NANKENG]
    domain.require_personal_data_reader(NANKENG_STAFF, path)
    domain.require_personal_data_reader(ADMIN, path)
    with pytest.raises(Forbidden, match="may not read personal data"):
        domain.require_personal_data_reader(NANKENG_VIEWER, path)
    with pytest.raises(Forbidden, match="outside the subtree"):
        domain.require_personal_data_reader(
            replace(NANKENG_STAFF, organization_code="elsewhere"), path)


def test_service_requests_move_forward_only():
    assert domain.next_service_status("submitted", "accepted") == "accepted"
    assert domain.next_service_status("in_progress", "resolved") == "resolved"
    with pytest.raises(Conflict):
        domain.next_service_status("resolved", "in_progress")


def test_the_documented_card_check_limit_is_the_one_in_force():
    documented = next(s.default for s in SETTINGS if s.env == "MEMBERSHIP_RATE_LIMITS")
    assert limits_from("MEMBERSHIP_RATE_LIMITS", RATE_LIMITS, {},
                       {"MEMBERSHIP_RATE_LIMITS": documented}) == RATE_LIMITS
    assert limits_from("MEMBERSHIP_RATE_LIMITS", RATE_LIMITS, {},
                       {"MEMBERSHIP_RATE_LIMITS": "card_check=5/10"}) == {"card_check": (5, 10)}


# Sealed and hashed by the code before sealing moved to ``shared.pii`` (then
# services/membership/pii.py at 1063a9c): members' sealed data must stay readable.
SECRET = bytes(range(32))
SEALED = bytes.fromhex(
    "175011bd56385880335470627625c136940660daa09cada33aacfef25a5599ec918eef3fb77a84b3f6b5c0"
    "5d6d9391d3085d97076fa5bfda046d")
ID_HASH = "f6a04059fd199b0c2af8c16dc57fe393"


def test_data_sealed_before_the_move_still_opens_and_hashes_the_same():
    keys = domain.MemberKeys(SECRET)
    assert keys.unseal(SEALED) == {"id_number": "440300199001011234", "phone": "13912345678"}
    assert keys.lookup_hash("440300199001011234") == ID_HASH
    assert keys.unseal(keys.seal("440300199001011234", None))["phone"] is None


def test_the_key_comes_from_membership_pii_key_and_a_wrong_one_is_named():
    keys = domain.load_keys({"MEMBERSHIP_PII_KEY": "00" * 32}, env={})
    with pytest.raises(WrongKey, match="MEMBERSHIP_PII_KEY"):
        keys.unseal(SEALED)
    with pytest.raises(ValueError, match="MEMBERSHIP_PII_KEY"):
        domain.MemberKeys(b"short")
