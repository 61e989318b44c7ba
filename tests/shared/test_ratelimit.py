"""The kit's rate limits: counted in the database (SQLite and PostgreSQL), a 429 that says
when to come back (in its details and as a Retry-After header), keys counted apart, refused
requests not counted, limits overridden by a setting and typos in it refused."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, create_engine, func, select
from sqlalchemy.orm import Session

from shared import ratelimit
from shared.errors import Conflict, TooManyRequests
from shared.web import problem_response

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DEFAULTS = {"card_check": (60, 60), "other": (5, 3600)}


@pytest.fixture
def hits(db_url):
    """A session factory and the ``rate_hits`` table, created in an empty database."""
    engine = create_engine(db_url)
    metadata = MetaData()
    table = ratelimit.rate_hits_table(metadata)
    metadata.create_all(engine)

    def check(key, at, limit=2, window=3600):
        with Session(engine) as session, session.begin():
            ratelimit.check_rate(session, table, [("caller", key, limit, window)], at,
                                 "card checks")

    yield engine, table, check
    engine.dispose()


def test_the_hit_past_the_limit_is_refused_with_when_to_come_back(hits):
    engine, table, check = hits
    check("card_check:user:1", T0)
    check("card_check:user:1", T0 + timedelta(minutes=10))
    with pytest.raises(TooManyRequests) as refused:
        check("card_check:user:1", T0 + timedelta(minutes=20))
    assert refused.value.status == 429
    # the oldest hit in the window (T0) leaves it at T0 + 60 min: 40 min from now, + 1 s
    assert refused.value.details == {"scope": "caller", "limit": 2, "window_seconds": 3600,
                                     "retry_after": 2401}
    assert refused.value.message == ("too many card checks from this caller: at most 2 per "
                                     "1 h; try again in 2401 s")
    check("card_check:user:2", T0 + timedelta(minutes=20))  # another caller: counted apart
    # the first hit has left the window; the refused one was never counted, or this
    # would be a third hit within the hour (10, 20, 61 min)
    check("card_check:user:1", T0 + timedelta(minutes=61))
    with pytest.raises(TooManyRequests):
        check("card_check:user:1", T0 + timedelta(minutes=62))


def test_a_request_over_one_of_its_limits_is_counted_under_none(hits):
    engine, table, _check = hits

    def check(at):
        with Session(engine) as session, session.begin():
            ratelimit.check_rate(session, table, [("officer", "officer:1", 1, 3600),
                                                  ("source", "source:a", 5, 3600)], at)

    def counted(key):
        with Session(engine) as session:
            return session.execute(select(func.count()).select_from(table)
                                   .where(table.c.key == key)).scalar()

    check(T0)
    assert (counted("officer:1"), counted("source:a")) == (1, 1)
    with pytest.raises(TooManyRequests) as refused:
        check(T0 + timedelta(minutes=1))
    assert refused.value.details["scope"] == "officer"
    assert (counted("officer:1"), counted("source:a")) == (1, 1)


def test_old_hits_are_purged(hits):
    engine, table, check = hits
    check("card_check:user:1", T0)
    check("card_check:user:1", T0 + timedelta(minutes=30))
    with Session(engine) as session, session.begin():
        assert ratelimit.purge_rate_hits(session, table, T0 + timedelta(minutes=1)) == 1
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(table)).scalar() == 1


def test_limits_come_from_the_environment_then_the_config_and_typos_are_refused():
    limits = ratelimit.limits_from(
        "DEMO_RATE_LIMITS", DEFAULTS, {"DEMO_RATE_LIMITS": {"other": (1, 60)}},
        {"DEMO_RATE_LIMITS": "card_check=3/10, other=100/3600"})
    assert limits == {"card_check": (3, 10), "other": (1, 60)}
    assert ratelimit.limits_from("DEMO_RATE_LIMITS", DEFAULTS, {}, {}) == DEFAULTS
    for typo in ("card_checks=1/60", "card_check=1", "card_check=x/60", "card_check=1/-5"):
        with pytest.raises(ValueError, match="DEMO_RATE_LIMITS: .* is not scope=hits/seconds"):
            ratelimit.limits_from("DEMO_RATE_LIMITS", DEFAULTS, {},
                                  {"DEMO_RATE_LIMITS": typo})


@pytest.mark.parametrize("retry_after", [31, "31"])  # "31": as older services sent it
def test_a_429_sends_retry_after_as_a_header_too(retry_after):
    response = problem_response(TooManyRequests("slow down", {"retry_after": retry_after}))
    assert (response.status_code, response.headers["Retry-After"]) == (429, "31")
    assert "Retry-After" not in problem_response(TooManyRequests("slow down")).headers
    assert "Retry-After" not in problem_response(Conflict("no", {"retry_after": 3})).headers
