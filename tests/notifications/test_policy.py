"""The policy as data (policy.py, policies/policy.yaml): checked on load, every problem
named."""

import pytest
import yaml

from services.notifications.policy import DEFAULT_POLICY, Policy
from shared.errors import InvalidInput


def shipped():
    return yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))


def test_the_shipped_policy_sends_major_matters_to_every_party_committee_at_once():
    policy = Policy.load()
    assert [kind for tier in policy.ladder for kind, _ in policy.at_once("major", tier)] == [
        "union", "party"] * 3
    assert policy.at_once("routine", "street") == []
    assert policy.leader_hears("routine")


def test_a_policy_without_rules_for_a_grade_is_rejected_with_the_reason():
    data = shipped()
    del data["grades"]["major"]
    with pytest.raises(InvalidInput) as error:
        Policy.load(data)
    assert "no rules for grades ['major']" in str(error.value.details)


def test_a_policy_naming_an_unknown_tier_or_channel_is_rejected():
    data = shipped()
    data["grades"]["routine"]["union"] = ["province"]
    with pytest.raises(InvalidInput) as error:
        Policy.load(data)
    assert "grades" in error.value.details
    data = shipped()
    data["channels"]["union"] = ["inbox", "carrier_pigeon"]
    with pytest.raises(InvalidInput, match="unknown channels") as error:
        Policy.load(data, known_channels=("inbox", "webhook"))
    assert error.value.details["channels"] == ["carrier_pigeon"]


def test_a_policy_can_come_from_a_yaml_file(tmp_path):
    data = shipped()
    data["version"] = "2016-02"
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert Policy.load(str(path)).version == "2016-02"
