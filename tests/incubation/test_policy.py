"""Policy as data: the shipped versions load, the one in force is found by day, and a
policy that would compute nonsense is refused when the service starts."""

import json
from datetime import date

import pytest

from services.incubation import policy


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
