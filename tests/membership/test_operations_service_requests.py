"""Member services: requests with a status and a handling organization, paged by cursor."""

from dataclasses import replace

import pytest

from services.membership import operations, views
from shared.errors import Conflict, Forbidden
from shared.testing import outbox_envelopes as events
from tests.membership.conftest import (
    ADMIN,
    GANGTOU_STAFF,
    NANKENG,
    NANKENG_STAFF,
    SMALL,
    STREET,
    join,
    walk,
)


def test_member_service_requests_have_a_status_and_a_handling_organization(sqlite_district,
                                                                           keys):
    db = sqlite_district
    member = join(db, keys, 1, SMALL)
    with db.unit_of_work() as uow:
        request = operations.submit_request(uow, {"worker_id": member["worker_id"],
                                           "kind": "hardship_aid", "summary": "家中遭灾",
                                           "handling_organization_code": None}, NANKENG_STAFF)
    assert (request["status"], request["handling_organization_code"]) == ("submitted",
                                                                          NANKENG)
    with db.unit_of_work() as uow:
        request = operations.update_request(uow, request["request_id"], {
            "status": "accepted", "handling_organization_code": STREET,
            "note": "转街道总工会"}, NANKENG_STAFF)
    assert request["handling_organization_code"] == STREET
    with db.unit_of_work() as uow:
        operations.update_request(uow, request["request_id"], {"status": "resolved"},
                           replace(NANKENG_STAFF, organization_code=STREET))
    with pytest.raises(Conflict, match="a resolved request cannot become in_progress"):
        with db.unit_of_work() as uow:
            operations.update_request(uow, request["request_id"], {"status": "in_progress"}, ADMIN)
    with db.session() as session:
        page = views.list_requests(session, ADMIN, STREET, None, "hardship_aid")
    assert [r["status"] for r in page["items"]] == ["resolved"]
    assert page["next_cursor"] is None
    with pytest.raises(Forbidden):
        with db.unit_of_work() as uow:
            operations.submit_request(uow, {"worker_id": member["worker_id"], "kind": "complaint",
                                     "summary": "x"}, GANGTOU_STAFF)
    assert [e["type"] for e in events(db)][-3:] == ["service_request_submitted",
                                                    "service_request_updated",
                                                    "service_request_updated"]


def submit(database, worker_id, summary, handler=None) -> int:
    with database.unit_of_work() as uow:
        return operations.submit_request(uow, {"worker_id": worker_id, "kind": "hardship_aid",
                                        "summary": summary,
                                        "handling_organization_code": handler},
                                  NANKENG_STAFF)["request_id"]


def request_pages(database, limit, between_pages=lambda: None) -> list[list[int]]:
    pages = walk(database, lambda session, cursor: views.list_requests(
        session, ADMIN, NANKENG, None, None, cursor, limit), between_pages)
    return [[item["request_id"] for item in page] for page in pages]


def test_service_requests_page_through_every_request_exactly_once(district, keys):
    worker = join(district, keys, 1, SMALL)["worker_id"]
    ours = [submit(district, worker, f"第{n}件") for n in range(7)]
    submit(district, worker, "街道的", handler=STREET)  # another organization's: not listed

    assert request_pages(district, 3) == [ours[0:3], ours[3:6], ours[6:7]]
    # a last page that is exactly full says so itself: no empty page after it
    assert request_pages(district, 7) == [ours]

    added = []

    def another_arrives():
        if len(added) < 2:
            added.append(submit(district, worker, "新"))

    # requests added while a client walks come at the end, once; none is seen twice
    pages = request_pages(district, 2, another_arrives)
    assert [request_id for page in pages for request_id in page] == ours + added
    assert len(added) == 2
