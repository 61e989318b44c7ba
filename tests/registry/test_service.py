"""The registry service on the broker: its RPC API through nameko's entrypoint_hook, and
its events on the ``registry.events`` exchange (SQLite and PostgreSQL)."""

import pytest

import shared.api.registry
import shared.events.registry
from services.registry.sample import credit_code
from services.registry.service import RegistryService
from shared.errors import Conflict, InvalidInput, NotFound
from shared.events import parse_envelope
from shared.testing import call
from tests.registry.conftest import ADMIN, BANTIAN, DISTRICT, NANKENG, TREE, enterprise


@pytest.fixture
def registry(container_factory, service_config):
    container = container_factory(RegistryService, service_config)
    container.start()
    return container


def test_the_rpc_api_builds_the_tree_and_answers_with_counts_and_chains(registry):
    for data in TREE[:4]:
        call(registry, "register_organization", data, ADMIN)
    call(registry, "register_enterprise", enterprise(1, headcount=600, union_status="own",
                                                     key_enterprise=True,
                                                     assigned_leader={"name": "王伟"}), ADMIN)
    call(registry, "register_enterprise", enterprise(2, headcount=20, union_status="covered"),
         ADMIN)
    assert call(registry, "get_organization", NANKENG)["path"] == [DISTRICT, BANTIAN, NANKENG]
    assert call(registry, "statistics", NANKENG) == {
        "code": NANKENG, "name": "南坑社区工会联合会", "enterprises": 2, "workers": 620,
        "own_union": 1, "covered": 1, "establishment_rate": 1.0}
    chain = call(registry, "chain", credit_code=credit_code(1), caller=ADMIN)
    assert [item["tier"] for item in chain["chain"]] == [
        "enterprise", "community", "street", "district"]
    assert chain["assigned_leader"]["name"] == "王伟"
    assert call(registry, "get_contacts", NANKENG, ADMIN)["contacts"][0]["email"] == (
        "nk@example.org")
    page = call(registry, "list_enterprises", BANTIAN, ADMIN, limit=1)
    again = call(registry, "list_enterprises", BANTIAN, ADMIN, cursor=page["next_cursor"])
    assert [len(page["items"]), len(again["items"]), again["next_cursor"]] == [1, 1, None]
    assert call(registry, "get_enterprise", credit_code(2).lower(), ADMIN)["union_code"] == (
        NANKENG)


def test_errors_reach_the_caller_as_the_kits_error_types(registry):
    call(registry, "register_organization", TREE[0], ADMIN)
    with pytest.raises(InvalidInput) as bad:
        call(registry, "register_enterprise", {"credit_code": "123", "name": "x"}, ADMIN)
    assert {"credit_code", "community_code", "headcount"} <= set(bad.value.details)
    with pytest.raises(NotFound):
        call(registry, "statistics", "nowhere")
    with pytest.raises(Conflict):
        call(registry, "register_organization", TREE[0], ADMIN)
    with pytest.raises(InvalidInput):
        call(registry, "import_enterprises", "not rows", ADMIN)


def test_changes_come_out_on_the_broker_in_order_and_a_no_op_sends_nothing(registry,
                                                                         event_tap):
    events = event_tap("registry")
    for data in TREE[:4]:
        call(registry, "register_organization", data, ADMIN)
    call(registry, "register_enterprise", enterprise(1, headcount=40), ADMIN)
    call(registry, "update_enterprise", credit_code(1), {"headcount": 40}, ADMIN)  # no change
    call(registry, "update_enterprise", credit_code(1), {"union_status": "own"}, ADMIN)
    bodies = events.take(9)
    assert events.drain() == [], "more events than expected"
    assert [body["type"] for body in bodies] == [
        "organization_registered", "organization_contacts_changed",  # district + contacts
        "organization_registered", "organization_registered", "organization_registered",
        "organization_contacts_changed",  # 南坑's contacts
        "enterprise_registered", "enterprise_updated", "organization_registered"]
    for body in bodies:
        parse_envelope(body, "registry", body["type"])
    updated = bodies[7]["data"]
    assert (updated["changed"], updated["union_status"]) == (
        ["union_status", "union_code"], "own")
    assert bodies[8]["data"]["kind"] == "enterprise_union"


def test_an_import_over_rpc_reports_bad_rows_and_keeps_good_ones(registry):
    for data in TREE[:4]:
        call(registry, "register_organization", data, ADMIN)
    report = call(registry, "import_enterprises", [
        enterprise(1), enterprise(2, headcount=10, union_status="own"), enterprise(3)], ADMIN)
    assert (report["created"], report["rejected"]) == (2, 1)
    assert report["errors"][0]["row"] == 2
    assert "under 25 workers" in report["errors"][0]["reason"]


def test_an_answer_carries_all_that_the_event_of_the_same_thing_carries():
    # What the API returns for an organization or an enterprise is what consumers of the
    # registry's events receive (plus what only the registry's own answers hold).
    for event_schema, answer_schema in (
            (shared.events.registry.OrganizationSchema, shared.api.registry.OrganizationSchema),
            (shared.events.registry.EnterpriseSchema, shared.api.registry.EnterpriseSchema)):
        assert set(event_schema().fields) <= set(answer_schema().fields)
