"""Reading the registry through its entrypoints on a real database (SQLite and
PostgreSQL), no broker: cards, chains, contacts, the cursor lists of children and of a
subtree's enterprises, who may read what."""


import pytest

from services.registry import domain
from services.registry.sample import credit_code
from shared.errors import Forbidden, InvalidInput, NotFound
from shared.paging import encode_cursor
from tests.registry.conftest import (
    ADMIN,
    BANTIAN,
    CONSTRUCTION,
    DISTRICT,
    GANGTOU,
    LEADER,
    LONGCHENG,
    NANKENG,
    TIANAN,
    ZHANGBEI,
    caller,
    enterprise,
    every_page,
)


def test_an_organization_shows_its_path_tier_and_contacts(tree, registry):
    nankeng = registry.get_organization(NANKENG)
    assert nankeng["path"] == [DISTRICT, BANTIAN, NANKENG]
    assert (nankeng["tier"], nankeng["parent_code"]) == ("community", BANTIAN)
    assert nankeng["contacts"][0]["email"] == "nk@example.org"
    children = registry.list_children(BANTIAN)
    assert [child["code"] for child in children["items"]] == [GANGTOU, NANKENG, TIANAN]
    assert children["next_cursor"] is None
    assert children["items"][1]["contacts"][0]["role"] == "信息员"
    assert registry.get_organization(CONSTRUCTION)["tier"] == "street"


def test_a_key_enterprises_chain_starts_at_its_own_union_and_names_its_leader(tree, registry):
    registry.register_enterprise(enterprise(
        1, headcount=800, union_status="own", assigned_leader=LEADER), ADMIN)
    union_code = domain.enterprise_union_code(NANKENG, credit_code(1))
    chain = registry.chain(credit_code=credit_code(1), caller=ADMIN)
    assert [item["union"]["code"] for item in chain["chain"]] == [
        union_code, NANKENG, BANTIAN, DISTRICT]
    assert [item["tier"] for item in chain["chain"]] == [
        "enterprise", "community", "street", "district"]
    assert chain["assigned_leader"] == LEADER
    assert chain["enterprise"]["key_enterprise"] is True
    assert chain["chain"][1]["party_organization"]["kind"] == "community_party_committee"
    assert chain["chain"][3]["contacts"][0]["role"] == "主席"
    by_union = registry.chain(code=union_code, caller=ADMIN)
    assert by_union["chain"] == chain["chain"] and by_union["assigned_leader"] == LEADER


def test_a_covered_enterprise_and_a_community_chain_from_their_community(tree, registry):
    registry.register_enterprise(enterprise(2, union_status="covered"), ADMIN)
    chain = registry.chain(credit_code=credit_code(2), caller=ADMIN)
    assert [item["union"]["code"] for item in chain["chain"]] == [NANKENG, BANTIAN, DISTRICT]
    assert chain["assigned_leader"] is None
    community = registry.chain(code=NANKENG, caller=ADMIN)
    assert community["chain"] == chain["chain"] and community["enterprise"] is None
    industry = registry.chain(code=CONSTRUCTION, caller=ADMIN)
    assert [item["union"]["code"] for item in industry["chain"]] == [CONSTRUCTION, DISTRICT]
    with pytest.raises(InvalidInput):
        registry.chain(code=NANKENG, credit_code=credit_code(2), caller=ADMIN)




def test_contacts_and_chains_are_read_within_the_callers_subtree_cards_by_anyone(
        tree, registry):
    viewer = caller(NANKENG, "viewer")
    assert registry.get_contacts(NANKENG, viewer)["contacts"][0]["role"] == "信息员"
    chain = registry.chain(code=NANKENG, caller=viewer)  # up to the district, outside it
    assert [link["union"]["code"] for link in chain["chain"]] == [NANKENG, BANTIAN, DISTRICT]
    with pytest.raises(Forbidden):
        registry.get_contacts(BANTIAN, viewer)
    with pytest.raises(Forbidden):
        registry.chain(code=GANGTOU, caller=viewer)
    assert registry.get_organization(ZHANGBEI)["path"] == [DISTRICT, LONGCHENG, ZHANGBEI]
    assert registry.statistics(ZHANGBEI)["enterprises"] == 0


def test_the_children_come_a_page_at_a_time_by_code(tree, registry):
    pages = every_page(registry.list_children, BANTIAN, limit=1)
    assert [[org["code"] for org in page] for page in pages] == [[GANGTOU], [NANKENG], [TIANAN]]
    assert [org["code"] for page in every_page(registry.list_children, DISTRICT, limit=2)
            for org in page] == [BANTIAN, CONSTRUCTION, LONGCHENG]
    assert registry.list_children(NANKENG) == {"items": [], "next_cursor": None}
    for page in ({"cursor": "WzEyMzRd"[::-1]}, {"cursor": ""}, {"limit": "many"},
                 {"cursor": encode_cursor([1234])}):
        with pytest.raises(InvalidInput):
            registry.list_children(BANTIAN, **page)
    with pytest.raises(NotFound):
        registry.list_children("longgang.nowhere")
def test_enterprises_of_a_subtree_come_in_pages_by_community(tree, registry):
    for number, community in enumerate([NANKENG, NANKENG, GANGTOU, ZHANGBEI, TIANAN]):
        registry.register_enterprise(enterprise(number, community=community), ADMIN)
    registry.close_enterprise(credit_code(1), "注销", ADMIN)
    first, second = every_page(registry.list_enterprises, BANTIAN, ADMIN, limit=2)
    assert [e["community_code"] for e in first + second] == [GANGTOU, NANKENG, TIANAN]
    assert first[1]["path"] == [DISTRICT, BANTIAN, NANKENG]
    everything = registry.list_enterprises(BANTIAN, ADMIN, include_closed=True)
    assert [e["credit_code"] for e in everything["items"]] == [
        credit_code(2), *sorted([credit_code(0), credit_code(1)]), credit_code(4)]
    assert everything["next_cursor"] is None
    assert len(registry.list_enterprises(DISTRICT, ADMIN)["items"]) == 4
    assert registry.list_enterprises(CONSTRUCTION, ADMIN) == {"items": [], "next_cursor": None}
    children_cursor = registry.list_children(BANTIAN, limit=1)["next_cursor"]
    for page in ({"limit": 0}, {"limit": 501}, {"cursor": "not-a-cursor"},
                 {"cursor": children_cursor},  # another list's: a key of one code
                 {"cursor": encode_cursor([1, 2])}):  # forged: numbers for codes
        with pytest.raises(InvalidInput) as rejected:
            registry.list_enterprises(BANTIAN, ADMIN, **page)
        assert set(rejected.value.details) <= {"limit", "cursor"}


def test_walking_the_pages_of_a_subtree_meets_every_enterprise_once(tree, registry):
    communities = [NANKENG, GANGTOU, TIANAN, ZHANGBEI]
    numbers = range(200, 237)
    for number in numbers:
        registry.register_enterprise(enterprise(number, community=communities[number % 4]),
                                     ADMIN)
    for code, limit in ((DISTRICT, 5), (BANTIAN, 7), (NANKENG, 100)):
        pages = every_page(registry.list_enterprises, code, ADMIN, limit=limit)
        seen = [(e["community_code"], e["credit_code"]) for page in pages for e in page]
        expected = sorted((communities[n % 4], credit_code(n)) for n in numbers
                          if code in registry.get_organization(communities[n % 4])["path"])
        assert seen == expected  # in order, each once
        assert all(len(page) == limit for page in pages[:-1])


