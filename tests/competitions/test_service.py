"""The competitions service on the real broker, with a clock the test moves: the timer
that ends a public notice by itself, and what the public results say meanwhile."""

from datetime import timedelta

import pytest
from nameko.testing.services import entrypoint_hook

from services.competitions import operations, service
from services.competitions.service import CompetitionsService
from tests.competitions.conftest import DISTRICT_STAFF, at, fill, published, round_id, write
from tests.competitions.test_operations import MEMBERS, full_competition

pytestmark = pytest.mark.usefixtures("rabbit_config")


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_the_timer_closes_an_ended_notice_and_grants_the_awards(
        container_factory, make_service_config, database_factory, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/competitions.db"
    db = fill(database_factory(url, "competitions", CompetitionsService.db.migrations_dir),
              MEMBERS)
    rounds, _ = full_competition(db)
    write(db, operations.open_round, round_id(rounds, "public_notice"), DISTRICT_STAFF,
          at(50), objection_days=3)
    clock = Clock(at(52))
    monkeypatch.setattr(service, "now_utc", clock)
    container = container_factory(CompetitionsService, make_service_config(url))
    container.start()

    def tick():
        with entrypoint_hook(container, "end_public_notices") as end:
            end()

    def notice():
        with entrypoint_hook(container, "public_results") as results:
            return results("2016")["notice"]

    tick()
    assert notice()["taking_objections"] is True
    assert not published(db, "round_closed")[-1]["data"]["stage"] == "public_notice"
    clock.now = at(53) + timedelta(seconds=1)  # three days on: the period has ended
    assert notice()["taking_objections"] is False  # before the timer comes round
    tick()
    assert notice()["status"] == "closed"
    assert published(db, "round_closed")[-1]["data"]["stage"] == "public_notice"
    assert published(db, "round_opened")[-1]["data"]["stage"] == "awarded"
    assert {e["data"]["status"] for e in published(db, "award_granted")} == \
        {"announced", "final"}
