"""The pure rules: grading and rewards as data (``policy``), the standard process, amounts,
receipt codes, tokens and sealed identities (``domain``). No database."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from marshmallow import ValidationError

from services.disputes import domain, policy
from shared import pii
from shared.caller import Caller
from shared.errors import Conflict, Forbidden, InvalidInput

GRADING = policy.load("grading", policy.default_body("grading"))
REWARDS = policy.load("rewards", policy.default_body("rewards"))


def facts(**overrides):
    values = {"category": "unpaid_wages", "workers_affected": 5, "amount_owed": Decimal("20000")}
    values.update(overrides)
    return policy.GradingFacts(**values)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, ("routine", "routine.default")),
    ({"workers_affected": 12}, ("serious", "serious.workers_10")),
    ({"amount_owed": Decimal("150000")}, ("serious", "serious.amount_100k")),
    ({"irregular_findings": 1}, ("serious", "serious.irregular_visit")),
    ({"workers_affected": 30}, ("urgent", "urgent.workers_30")),
    ({"key_enterprise": True}, ("urgent", "urgent.key_enterprise")),
    ({"prior_disputes": 2}, ("urgent", "urgent.prior_disputes")),
    ({"category": "closure", "days_until_expected": 3}, ("urgent", "urgent.imminent_closure")),
    ({"category": "closure", "days_until_expected": 30}, ("routine", "routine.default")),
    ({"workers_affected": 100}, ("major", "major.workers_100")),
    ({"amount_owed": Decimal("1000000")}, ("major", "major.amount_1m")),
    ({"category": "boss_absconded", "workers_affected": 1}, ("major", "major.boss_absconded")),
    ({"category": "collective_petition", "workers_affected": 30},
     ("major", "major.collective_petition_30")),
])
def test_the_first_rule_that_holds_decides_the_grade_and_is_named(overrides, expected):
    assert policy.grade(GRADING, facts(**overrides)) == expected


def test_a_grading_policy_must_end_with_a_rule_for_everything_else():
    body = policy.default_body("grading")
    body["rules"] = body["rules"][:-1]
    with pytest.raises(ValidationError) as error:
        policy.load("grading", body)
    assert "last rule must have no conditions" in str(error.value.messages)


def test_a_grading_rule_with_an_unknown_condition_or_grade_is_rejected():
    body = policy.default_body("grading")
    body["rules"][0] = {"id": "x", "grade": "catastrophic", "when": {"moon_phase": "full"}}
    with pytest.raises(ValidationError) as error:
        policy.load("grading", body)
    assert set(error.value.messages["rules"][0]) == {"grade", "when"}


def test_a_reward_policy_needs_amounts_for_every_stage():
    body = policy.default_body("rewards")
    del body["amounts"]["resolved"]
    with pytest.raises(ValidationError) as error:
        policy.load("rewards", body)
    assert "resolved" in str(error.value.messages)


def credit(report_id, received, expected=None, body=REWARDS, version=1):
    return policy.ReportCredit(report_id=report_id, informant_id=f"I-{report_id}",
                               received_at=received, expected_at=expected, policy=body,
                               policy_version=version)


T0 = datetime(2025, 3, 1, tzinfo=UTC)


def test_a_single_report_earns_the_amount_for_its_grade_and_category():
    [line] = policy.reward_lines("verified", "major", "boss_absconded", [credit("a", T0)])
    assert line.amount == Decimal("1500.00")  # 1000 x 1.5
    assert line.explanation == ["verified.major: 1000.00", "category boss_absconded x1.5"]


def test_the_first_reporter_takes_half_and_the_others_share_the_rest():
    lines = policy.reward_lines("resolved", "serious", "unpaid_wages",
                                [credit("a", T0), credit("b", T0 + timedelta(hours=1)),
                                 credit("c", T0 + timedelta(hours=2))])
    assert [line.amount for line in lines] == [Decimal("75.00"), Decimal("37.50"),
                                               Decimal("37.50")]
    assert "shared credit (first_reporter, 3 reports)" in lines[1].explanation[1]


def test_an_early_warning_earns_a_bonus_at_verification_only():
    early = credit("a", T0, expected=T0 + timedelta(days=10))
    late = credit("a", T0, expected=T0 + timedelta(days=6))
    [verified] = policy.reward_lines("verified", "routine", "closure", [early])
    [resolved] = policy.reward_lines("resolved", "routine", "closure", [early])
    [not_early] = policy.reward_lines("verified", "routine", "closure", [late])
    assert verified.amount == Decimal("300.00")  # 100 + 200 bonus
    assert resolved.amount == Decimal("50.00")
    assert not_early.amount == Decimal("100.00")


def test_each_report_is_paid_under_its_own_policy_version():
    richer = policy.load("rewards", dict(policy.default_body("rewards"),
                                         sharing={"mode": "equal"}))
    richer["amounts"]["verified"]["routine"] = Decimal("400")
    lines = policy.reward_lines("verified", "routine", "other",
                                [credit("a", T0), credit("b", T0, body=richer, version=2)])
    assert [(line.amount, line.policy_version) for line in lines] == [
        (Decimal("50.00"), 1), (Decimal("200.00"), 2)]


def test_the_monthly_cap_cuts_what_does_not_fit_and_says_so():
    assert policy.apply_cap(Decimal("500"), Decimal("1000"), Decimal("3000")) == (
        Decimal("500"), None)
    amount, why = policy.apply_cap(Decimal("500"), Decimal("2800"), Decimal("3000"))
    assert amount == Decimal("200.00")
    assert why == "monthly cap 3000.00: 500.00 cut to 200.00"
    assert policy.apply_cap(Decimal("500"), Decimal("3200"), Decimal("3000"))[0] == 0


# --- the rules of the process and of informants -----------------------------------------

def test_a_case_moves_one_step_along_the_standard_process_only():
    domain.check_step("reported", "verified")
    domain.check_step("handling", "resolved")
    with pytest.raises(Conflict) as error:
        domain.check_step("verified", "closed")
    assert error.value.message == "a verified case cannot become closed; next: handling"
    assert error.value.details == {"status": "verified", "allowed": ["handling"]}
    with pytest.raises(Conflict, match="it is finished"):
        domain.check_step("closed", "verified")


def test_a_grade_rises_but_never_falls():
    assert domain.grade_rises("serious", "major")
    assert not domain.grade_rises("major", "urgent")
    assert not domain.grade_rises("urgent", "urgent")


def test_amounts_are_kept_in_fen_and_names_matched_without_spaces_or_case():
    assert domain.to_fen("86000.5") == 8600050
    assert domain.from_fen(8600050) == "86000.50"
    assert domain.from_fen(None) is None
    assert domain.name_key(" 南坑五金 制品厂\t") == "南坑五金制品厂"
    assert domain.name_key("Nankeng  HARDWARE") == "nankenghardware"


def test_only_an_admin_reveals_and_says_why():
    staff = Caller("staff@nankeng", "staff", "longgang.bantian.nankeng")
    admin = Caller("admin@longgang", "admin", "longgang")
    with pytest.raises(Forbidden):
        domain.check_reveal(staff, "支付奖励 #1")
    with pytest.raises(InvalidInput):
        domain.check_reveal(admin, " ab ")
    assert domain.check_reveal(admin, "  支付奖励 #1 ") == "支付奖励 #1"


def test_receipt_codes_and_tokens_are_random_and_only_their_hashes_are_kept():
    code = domain.new_receipt_code()
    assert len(code) == 16 and code.isdigit()
    assert domain.format_receipt("1234567890123456") == "1234 5678 9012 3456"
    token = domain.new_token()
    assert token.startswith("ghi_") and domain.token_hash(token) != token
    assert len(domain.argon2(code, b"s" * 16)) == 64
    assert domain.new_pseudonym("R")[:2] == "R-"


def test_an_identity_sealed_for_one_informant_opens_for_them_only():
    keys = domain.load_keys({domain.ENV: "d1" * 32})
    sealed = domain.seal_identity(keys, "I-K7P2QX9M", "王秀英", "13912345678")
    assert b"13912345678" not in sealed
    assert domain.open_identity(keys, "I-K7P2QX9M", sealed) == {
        "real_name": "王秀英", "phone": "13912345678"}
    with pytest.raises(pii.WrongKey):
        domain.open_identity(keys, "I-OTHER000", sealed)
