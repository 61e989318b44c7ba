"""Policy as data: the shipped versions load, the one in force is found by day, and a
policy that would compute nonsense is refused when the service starts."""

import json
from datetime import date, timedelta

import pytest

from services.incubation import operations, policy, views
from shared.errors import Conflict
from tests.incubation.conftest import (
    HUB_STAFF,
    assessment,
    incubating,
    read,
    social_credit_code,
    today,
    transition,
    write,
)


def test_the_shipped_policies_load_and_the_versions_in_force_are_found_by_day():
    documents = policy.documents()
    assert [p.version for p in documents["grading"]] == [1]
    assert policy.in_force("rules", date(2000, 1, 1)).version == 1  # before all: the first
    assert policy.version("grading", 1)["valid_years"] == 5


def test_a_grading_policy_whose_weights_or_bands_are_wrong_is_refused(tmp_path):
    body = json.loads((policy.DEFAULTS_DIR / "grading-1.json").read_text())
    broken = dict(body, indicators=[dict(body["indicators"][0], weight="0.5")]
                  + body["indicators"][1:])
    with pytest.raises(Exception, match="add up to 1"):
        policy.load("grading", broken)
    unordered = dict(body, bands=list(reversed(body["bands"])))
    with pytest.raises(Exception, match="highest grade down"):
        policy.load("grading", unordered)
    (tmp_path / "grading-1.json").write_text(json.dumps(broken))
    (tmp_path / "rules-1.json").write_text((policy.DEFAULTS_DIR / "rules-1.json").read_text())
    with pytest.raises(ValueError, match="grading-1.json is not a valid grading policy"):
        policy.documents.__wrapped__(tmp_path)


def test_a_rules_policy_needs_every_gate():
    body = json.loads((policy.DEFAULTS_DIR / "rules-1.json").read_text())
    del body["gates"]["referral"]
    with pytest.raises(Exception, match="referral"):
        policy.load("rules", body)


@pytest.fixture
def version_2(tmp_path, monkeypatch):
    """The shipped policies with a version 2 of grading and rules published ten days ago:
    higher bands, and graduation needing 4A."""
    for name in ("grading-1.json", "rules-1.json"):
        (tmp_path / name).write_text((policy.DEFAULTS_DIR / name).read_text())
    since = today() - timedelta(days=10)
    grading = json.loads((policy.DEFAULTS_DIR / "grading-1.json").read_text())
    grading.update(version=2, effective_from=since.isoformat(), bands=[
        {"grade": "5A", "min": "95"}, {"grade": "4A", "min": "85"},
        {"grade": "3A", "min": "75"}, {"grade": "2A", "min": "65"},
        {"grade": "1A", "min": "55"}])
    rules = json.loads((policy.DEFAULTS_DIR / "rules-1.json").read_text())
    rules.update(version=2, effective_from=since.isoformat(),
                 graduation={"registered": True, "min_grade": "4A"})
    (tmp_path / "grading-2.json").write_text(json.dumps(grading))
    (tmp_path / "rules-2.json").write_text(json.dumps(rules))
    published = policy.documents.__wrapped__(tmp_path)
    monkeypatch.setattr(policy, "documents", lambda: published)
    return since


def test_a_new_policy_version_applies_to_new_assessments_only(db, version_2):
    before = incubating(db, name="甲机构")
    old = write(db, operations.record_assessment, before["id"],
                assessment(80, version_2 - timedelta(days=10)), HUB_STAFF)
    after = incubating(db, name="乙机构")
    new = write(db, operations.record_assessment, after["id"], assessment(80), HUB_STAFF)
    assert (old["grade"], old["band_min"], old["policy_version"]) == ("4A", "80", 1)
    assert (new["grade"], new["band_min"], new["policy_version"]) == ("3A", "75", 2)
    # the old assessment keeps how it was computed, and its grade
    [kept] = read(db, views.list_assessments, before["id"], {"cursor": None, "limit": 5},
                  HUB_STAFF)["items"]
    assert (kept["grade"], kept["band_min"], kept["total"], kept["policy_version"]) == (
        "4A", "80", "80.00", 1)
    assert read(db, views.get_organization, before["id"], HUB_STAFF)["grade"]["grade"] == "4A"
    # graduation today is judged by rules version 2, which the refusal names
    write(db, operations.update_organization, after["id"],
          {"credit_code": social_credit_code(after["id"])}, HUB_STAFF)
    write(db, operations.change_stage, after["id"], transition("assessed"), HUB_STAFF)
    with pytest.raises(Conflict) as refused:
        write(db, operations.change_stage, after["id"], transition("graduated"), HUB_STAFF)
    assert refused.value.details == {"rule": "graduation.min_grade", "requires": "4A",
                                     "holds": "3A", "policy_version": 2}
    assert [item["version"] for item in views.policies({"cursor": None, "limit": 10})[
        "items"]] == [1, 2, 1, 2]
