"""The disputes service on the real broker: registry events in, RPC, events out."""

from datetime import UTC, datetime

import eventlet
import pytest
from kombu import Connection, Exchange
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter
from prometheus_client import REGISTRY

from services.disputes.service import DisputesService
from shared.db import DatabaseAccess
from shared.errors import Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthorized
from shared.events import catalogue, make_envelope
from shared.events.disputes import GRADES
from shared.testing import call, database_provider, publish_events
from tests.disputes.conftest import (
    DISTRICT_ADMIN,
    ENTERPRISES,
    FACTORY,
    NANKENG,
    NANKENG_STAFF,
    ORGANIZATIONS,
    ZHANGBEI_STAFF,
    fill_read_model,
)
from tests.disputes.fakes import ref, register, seal, src, token_hash

pytestmark = pytest.mark.usefixtures("rabbit_config")

REPORT = {"credit_code": FACTORY, "category": "unpaid_wages", "workers_affected": 45,
          "amount_owed": "420000.00", "description": "三个月未发工资，工人聚集"}


def start(container_factory, config):
    container = container_factory(DisputesService, config)
    container.start()
    return container


@pytest.fixture
def disputes(container_factory, make_service_config, sqlite_url):
    config = make_service_config(sqlite_url, DISPUTES_RATE_LIMITS={"officer": (3, 3600),
                                                                   "source": (5, 3600)})
    container = start(container_factory, config)
    with _db(container).unit_of_work() as uow:
        fill_read_model(uow.session)
    return container


def _db(container):
    provider = database_provider(container)
    return DatabaseAccess(provider.engine, provider.session_factory, "disputes")


def publish_envelope(amqp_uri, source, type_, envelope):
    exchange = Exchange(f"{source}.events", type="topic", durable=True)
    with Connection(amqp_uri) as connection:
        connection.Producer().publish(envelope, exchange=exchange, routing_key=type_,
                                      serializer="json", declare=[exchange])


def test_registry_events_fill_the_read_model_a_report_is_checked_against(
        container_factory, make_service_config, db_url, rabbit_config):
    container = start(container_factory, make_service_config(db_url))
    uri = rabbit_config["AMQP_URI"]
    for organization in ORGANIZATIONS:
        with entrypoint_waiter(container, "handle_organization_registered", timeout=10):
            publish_events(uri, "registry", "organization_registered", organization)
    with pytest.raises(NotFound):  # the enterprise is not known yet
        call(container, "submit_report", REPORT, source=src("10.0.0.1"))
    with entrypoint_waiter(container, "handle_enterprise_registered", timeout=10):
        publish_events(uri, "registry", "enterprise_registered",
                dict(ENTERPRISES[0], key_enterprise=True))
    result = call(container, "submit_report", REPORT)
    case = call(container, "get_case", result["case_id"], NANKENG_STAFF)
    assert (case["grade"], case["grade_rule"]) == ("urgent", "urgent.key_enterprise")


def test_a_community_moved_by_a_registry_event_places_the_next_report_at_once(
        disputes, rabbit_config):
    names = iter(("无名小作坊", "街角五金厂"))

    def path_of_a_report():  # each of another workshop: no merging into one case
        case_id = call(disputes, "submit_report", {
            "name": next(names), "address": "南坑", "community_code": NANKENG,
            "category": "unpaid_wages", "workers_affected": 5, "amount_owed": "9000.00",
            "description": "欠薪"})["case_id"]
        return call(disputes, "get_case", case_id, DISTRICT_ADMIN)["enterprise"]["path"]

    assert path_of_a_report()[-1] == NANKENG  # the community is remembered now
    street = {"code": "longgang.buji", "name": "布吉街道总工会", "kind": "street_federation",
              "tier": "street", "parent_code": "longgang", "path": ["longgang", "longgang.buji"]}
    bantian = dict(ORGANIZATIONS[1], parent_code="longgang.buji",
                   path=["longgang", "longgang.buji", "longgang.bantian"],
                   from_parent_code="longgang", to_parent_code="longgang.buji")
    uri = rabbit_config["AMQP_URI"]
    with entrypoint_waiter(disputes, "handle_organization_registered", timeout=10):
        publish_events(uri, "registry", "organization_registered", street)
    with entrypoint_waiter(disputes, "handle_organization_moved", timeout=10):
        publish_events(uri, "registry", "organization_moved", bantian)
    assert path_of_a_report() == bantian["path"] + [NANKENG]


def test_a_report_goes_out_as_case_opened_without_the_informant(disputes, event_tap):
    tap = event_tap("disputes")
    officer = register(disputes, {
        "organization_code": NANKENG, "real_name": "王秀英", "phone": "13912345678"},
        NANKENG_STAFF)
    first = call(disputes, "submit_report", REPORT, officer_token_hash=token_hash(officer["token"]))
    second = call(disputes, "submit_report", REPORT, source=src("10.1.1.1"))
    opened, merged = tap.take(2)
    assert tap.take(1, timeout=0.3) == []  # nothing else: no identity event of any kind
    assert opened["type"] == "case_opened" and opened["source"] == "gonghui/disputes"
    assert opened["subject"] == first["case_id"] == opened["data"]["case_id"]
    assert (opened["data"]["grade"], opened["data"]["grade_rule"]) == (
        "urgent", "urgent.workers_30")
    assert merged["data"] == {"case_id": first["case_id"], "reports_in_case": 2,
                              "report_pseudonym": second["report"]}
    wire = str(opened) + str(merged)
    assert "王秀英" not in wire and "13912345678" not in wire
    assert officer["informant"] not in wire


def test_an_anonymous_informant_gets_a_receipt_once_and_follows_the_case_with_it(disputes):
    code = "1111 2222 3333 4444"  # made by the gateway: only its keyed hash comes here
    result = call(disputes, "submit_report", dict(REPORT, sealed_identity=seal("匿名")),
                  source=src("10.0.0.9"), receipt_ref=ref(code))
    assert result["receipt"] is True and "receipt_code" not in result
    call(disputes, "change_status", result["case_id"], "verified", {"note": "属实"},
         NANKENG_STAFF)
    status = call(disputes, "receipt_status", ref(code), source=src("10.0.0.9"))
    assert (status["report"], status["status"]) == (result["report"], "verified")
    # every time in an answer is RFC 3339 with an offset
    assert datetime.fromisoformat(result["received_at"]).utcoffset() is not None
    assert [datetime.fromisoformat(step["at"]).tzinfo for step in status["steps"]] == [UTC]
    [reward] = call(disputes, "my_rewards", receipt_ref=ref(code))["items"]
    assert (reward["stage"], reward["amount"], reward["status"]) == (
        "verified", "600.00", "pending")
    with pytest.raises(NotFound):
        call(disputes, "receipt_status", ref("0000 0000 0000 0000"))


def test_an_officer_over_the_limit_gets_429_and_another_source_is_counted_apart(disputes):
    officer = register(disputes, {"organization_code": NANKENG,
                                                  "real_name": "赵六"}, NANKENG_STAFF)
    for number in range(3):
        call(disputes, "submit_report", dict(REPORT, category="other",
                                             description=f"第{number}次"),
             officer_token_hash=token_hash(officer["token"]), source=src("10.0.0.2"))
    with pytest.raises(TooManyRequests) as error:
        call(disputes, "submit_report", REPORT, officer_token_hash=token_hash(officer["token"]))
    assert error.value.details["scope"] == "officer"
    for _ in range(2):  # the source has 3 hits of 5
        call(disputes, "submit_report", REPORT, source=src("10.0.0.2"))
    with pytest.raises(TooManyRequests) as error:
        call(disputes, "submit_report", REPORT, source=src("10.0.0.2"))
    assert error.value.details["scope"] == "source"
    call(disputes, "submit_report", REPORT, source=src("10.0.0.3"))


def reports_filed(container):
    from sqlalchemy import func, select

    from services.disputes.models import reports

    with _db(container).session() as session:
        return session.execute(select(func.count()).select_from(reports)).scalar()


def counted_reports() -> float:
    return sum(REGISTRY.get_sample_value("gonghui_disputes_reports_filed_total", {
        "service": "disputes", "informant": informant, "case": case}) or 0
        for informant in ("officer", "anonymous") for case in ("opened", "merged"))


def test_a_request_delivered_twice_files_one_report_and_answers_alike(disputes):
    counted_before = counted_reports()
    officer = register(disputes, {"organization_code": NANKENG,
                                                  "real_name": "钱七"}, NANKENG_STAFF)
    first = call(disputes, "submit_report", REPORT, officer_token_hash=token_hash(officer["token"]),
                 source=src("10.0.0.4"), request_id="officer-request-1")
    again = call(disputes, "submit_report", REPORT, officer_token_hash=token_hash(officer["token"]),
                 source=src("10.0.0.4"), request_id="officer-request-1")
    assert again == first
    assert first["merged"] is False
    assert reports_filed(disputes) == 1
    # the repeat was no second hit: two more reports still fit the officer's limit of 3
    cases = {first["case_id"]}
    for number in range(2):
        cases.add(call(disputes, "submit_report", dict(REPORT, category="other",
                                                       description=f"第{number}次"),
                       officer_token_hash=token_hash(officer["token"]),
                       request_id=f"officer-request-{number + 2}")["case_id"])
    # at its limit now, the officer's repeated request still gets its answer, not a 429
    assert call(disputes, "submit_report", REPORT,
                officer_token_hash=token_hash(officer["token"]),
                request_id="officer-request-1") == first
    merged = call(disputes, "submit_report", dict(REPORT, category="other"),
                  source=src("10.0.0.5"), request_id="anonymous-request-0")
    assert call(disputes, "submit_report", dict(REPORT, category="other"),
                source=src("10.0.0.5"), request_id="anonymous-request-0")["merged"] is True
    assert merged["merged"] is True
    assert reports_filed(disputes) == 4
    assert counted_reports() - counted_before == 4  # the metric counts no repeat either
    database_provider(disputes).measure()  # what a scrape of /metrics does
    open_cases = [REGISTRY.get_sample_value("gonghui_disputes_cases_open",
                                            {"service": "disputes", "grade": grade})
                  for grade in GRADES]
    assert sum(open_cases) == len(cases | {merged["case_id"]})


def test_an_anonymous_request_delivered_twice_answers_with_the_same_receipt_code(disputes):
    code = "1234567890123456"
    # as the gateway sends it: with the report's resubmission hash, which the second
    # delivery of the same request must not take for a report sent again
    resubmission = "5e" * 16
    first = call(disputes, "submit_report", REPORT, source=src("10.0.0.6"),
                 request_id="anonymous-request-1", receipt_ref=ref(code),
                 resubmission=resubmission)
    again = call(disputes, "submit_report", REPORT, source=src("10.0.0.6"),
                 request_id="anonymous-request-1", receipt_ref=ref(code),
                 resubmission=resubmission)
    assert again == first
    assert first["receipt"] is True  # the gateway may show the code it made
    assert call(disputes, "receipt_status", ref(code))["report"] == first["report"]
    # a repeat that brings no code cannot show one it was not filed with
    blind = call(disputes, "submit_report", REPORT, request_id="anonymous-request-1")
    assert blind["receipt"] is False
    assert blind["report"] == first["report"]
    assert reports_filed(disputes) == 1


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"request_id": "short"}, "request_id"),
    ({"request_id": 12345678}, "request_id"),
    ({"receipt_ref": "12345"}, "receipt_ref"),
    ({"source": "10.0.0.1"}, "source"),  # an address in clear: only the gateway's hash
])
def test_a_malformed_request_id_or_receipt_code_is_refused(disputes, kwargs, field):
    with pytest.raises(InvalidInput) as error:
        call(disputes, "submit_report", REPORT, **kwargs)
    assert field in error.value.details
    assert reports_filed(disputes) == 0


def test_bad_input_is_refused_with_its_reason_and_nothing_changes(disputes):
    with pytest.raises(InvalidInput) as error:
        call(disputes, "submit_report", {"category": "unpaid_wages"})
    assert {"workers_affected", "amount_owed", "description"} <= set(error.value.details)
    with pytest.raises(Unauthorized):
        call(disputes, "submit_report", REPORT, officer_token_hash="0" * 64)
    # nothing an informant could be known by is taken in clear (issue 12)
    with pytest.raises(InvalidInput) as error:
        call(disputes, "submit_report", dict(REPORT, identity={"real_name": "王秀英"}))
    assert "identity" in error.value.details
    with pytest.raises(InvalidInput) as error:
        call(disputes, "register_officer", {"organization_code": NANKENG,
                                            "real_name": "王秀英"}, NANKENG_STAFF)
    assert "real_name" in error.value.details
    with pytest.raises(Unauthorized):
        call(disputes, "list_cases", None)
    with pytest.raises(InvalidInput):
        call(disputes, "list_cases", {"name": "x", "role": "overlord",
                                      "organization_code": NANKENG})
    with pytest.raises(InvalidInput):
        call(disputes, "change_status", "nope", "exploded", {}, NANKENG_STAFF)
    with pytest.raises(NotFound):
        call(disputes, "change_status", "nope", "verified", {}, NANKENG_STAFF)
    for method, args in (("approve_reward", ("1; drop table", DISTRICT_ADMIN)),
                         ("pay_reward", (0, DISTRICT_ADMIN)),
                         ("list_rewards", (DISTRICT_ADMIN, {"status": "unpaid"})),
                         ("list_cases", (DISTRICT_ADMIN, {"cursor": "not-ours"})),
                         ("get_policies", ("secret",)),
                         ("receipt_status", ("not a code",))):
        with pytest.raises(InvalidInput):
            call(disputes, method, *args)
    assert call(disputes, "list_cases", DISTRICT_ADMIN) == {"items": [], "next_cursor": None}


def test_the_caller_is_name_role_and_organization_code_as_the_gateway_sends_it(disputes):
    case_id = call(disputes, "submit_report", REPORT)["case_id"]
    wire = NANKENG_STAFF.as_dict()
    assert wire == {"name": "staff@nankeng", "role": "staff", "organization_code": NANKENG}
    assert call(disputes, "get_case", case_id, wire)["id"] == case_id
    moved = call(disputes, "change_status", case_id, "verified", {"note": "属实"}, wire)
    assert [line["actor"] for line in moved["timeline"] if line["kind"] == "status"] == [
        "staff@nankeng"]  # the caller's name
    # the shape of before (``user``) is refused, naming what is wrong
    with pytest.raises(InvalidInput) as error:
        call(disputes, "get_case", case_id, {"user": "staff@nankeng", "role": "staff",
                                             "organization_code": NANKENG})
    assert {"name", "user"} <= set(error.value.details)
    viewer = {"name": "viewer@nankeng", "role": "viewer", "organization_code": NANKENG}
    with pytest.raises(Forbidden):
        call(disputes, "change_status", case_id, "handling",
             {"handled_by_tier": "community", "joint": False}, viewer)
    with pytest.raises(Forbidden):  # staff may not do an admin's acts
        call(disputes, "publish_policy", {"kind": "rewards", "body": {},
                                          "effective_from": "2025-04-01T00:00:00+08:00"},
             wire)


def test_cases_rewards_and_statistics_stay_inside_the_callers_subtree(disputes):
    result = call(disputes, "submit_report", REPORT)
    case_id = result["case_id"]
    with pytest.raises(NotFound):  # as if it did not exist
        call(disputes, "get_case", case_id, ZHANGBEI_STAFF)
    with pytest.raises(Forbidden):
        call(disputes, "statistics", ZHANGBEI_STAFF, code=NANKENG)
    call(disputes, "change_status", case_id, "verified", {}, NANKENG_STAFF)
    call(disputes, "change_status", case_id, "handling",
         {"handled_by_tier": "community", "joint": False}, NANKENG_STAFF)
    figures = call(disputes, "statistics", NANKENG_STAFF)
    assert (figures["code"], figures["disputes"], figures["alone"]) == (NANKENG, 1, 1)
    assert call(disputes, "list_rewards", ZHANGBEI_STAFF)["items"] == []
    [reward] = call(disputes, "list_rewards", DISTRICT_ADMIN, {"status": "pending"})["items"]
    assert reward["case_id"] == case_id


def test_simultaneous_first_reports_of_one_risk_open_one_case(
        container_factory, make_service_config, db_url):
    container = start(container_factory, make_service_config(db_url))
    with _db(container).unit_of_work() as uow:
        fill_read_model(uow.session)
    config = container.config

    def submit(number):
        # one proxy per green thread: a standalone proxy is not safe to share
        with ServiceRpcProxy("disputes", config) as disputes:
            return disputes.submit_report(dict(REPORT, description=f"report {number}"))

    results = list(eventlet.GreenPool().imap(submit, range(6)))
    assert len({result["report"] for result in results}) == 6
    assert len({result["case_id"] for result in results}) == 1
    assert sorted(result["merged"] for result in results) == [False] + [True] * 5
    case = call(container, "get_case", results[0]["case_id"], DISTRICT_ADMIN)
    assert case["reports"] == 6 and len(case["report_list"]) == 6


def test_an_acknowledgement_published_by_notifications_lands_in_the_case_timeline(
        disputes, rabbit_config):
    case_id = call(disputes, "submit_report", REPORT)["case_id"]
    envelope = make_envelope(catalogue.get("notifications", "case_acknowledged"), {
        "case_id": case_id, "organization_code": NANKENG, "by": "李主席",
        "at": datetime(2025, 3, 1, 2, tzinfo=UTC)})
    for _ in range(2):  # a redelivery adds nothing
        with entrypoint_waiter(disputes, "handle_case_acknowledged", timeout=10):
            publish_envelope(rabbit_config["AMQP_URI"], "notifications", "case_acknowledged",
                             envelope)
    lines = [line for line in call(disputes, "get_case", case_id, NANKENG_STAFF)["timeline"]
             if line["kind"] == "acknowledged"]
    assert [(line["actor"], line["detail"]) for line in lines] == [
        ("李主席", {"organization_code": NANKENG})]


def test_rate_limits_come_from_the_environment_or_the_config_and_typos_are_refused(
        container_factory, make_service_config, sqlite_url, monkeypatch):
    from services.disputes.service import RATE_LIMITS
    from shared.ratelimit import limits_from

    limits = limits_from("DISPUTES_RATE_LIMITS", RATE_LIMITS,
                         {"DISPUTES_RATE_LIMITS": {"lookup": (1, 60)}},
                         {"DISPUTES_RATE_LIMITS": "officer=100000/3600, source=5/60"})
    assert limits == {"officer": (100000, 3600), "source": (5, 60), "lookup": (1, 60)}
    # a typo stops the service from starting, not its first report
    monkeypatch.setenv("DISPUTES_RATE_LIMITS", "officers=1/60")
    with pytest.raises(ValueError, match="scope=hits/seconds"):
        container_factory(DisputesService, make_service_config(sqlite_url)).start()
