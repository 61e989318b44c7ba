"""The two pages end to end in headless Chromium (Debian's chromium + chromedriver), with
the gateway and the competitions service on the real broker.

- A judge signs in, scores the contestants of a live street final one screen each on a
  tablet, sees the one she must abstain from barred; the connection drops while she saves,
  the page keeps the score and sends it when the network is back, and it is saved once.
- The public results page lists the winners of the public notice; someone objects and is
  shown a receipt code, follows it, and after the objection is upheld sees the award
  revoked and the next in rank moved up.
"""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import func, select

from services.competitions import operations, views
from services.competitions.models import score_changes, scores
from services.competitions.service import CompetitionsService
from services.gateway import accounts, sessions
from services.gateway.service import GatewayService
from shared.db import open_database
from shared.timeutil import now_utc
from tests.competitions.conftest import (
    BANTIAN,
    BANTIAN_STAFF,
    CONSTRUCTION,
    DISTRICT_STAFF,
    NK_WORKSHOP,
    fill,
    round_id,
    write,
)
from tests.competitions.test_operations import MEMBERS, full_competition, run_to_street_finals
from tests.conftest import gateway_tokens
from tests.gateway.conftest import Client

PASSWORD = "评委的密码-2016"


@pytest.fixture
def stack(container_factory, make_service_config, database_factory, tmp_path):
    """competitions + gateway; returns (client, competitions db, gateway url)."""
    url = f"sqlite:///{tmp_path}/competitions.db"
    db = fill(database_factory(url, "competitions", CompetitionsService.db.migrations_dir),
              MEMBERS)
    competitions = container_factory(CompetitionsService, make_service_config(url))
    competitions.start()
    gateway_config = make_service_config(f"sqlite:///{tmp_path}/gateway.db")
    gateway = container_factory(GatewayService, gateway_config)
    gateway.start()
    return Client(gateway_config["WEB_SERVER_ADDRESS"]), db, gateway_config["DATABASE_URL"]


def judge_user(gateway_url, name):
    db = open_database(gateway_url, "gateway", run_migrations=False)
    try:
        with db.unit_of_work() as uow:
            accounts.create_user(uow.session, name, "judge", CONSTRUCTION)
            sessions.set_password(uow.session, name, PASSWORD, now_utc())
    finally:
        db.engine.dispose()


def wait(driver, condition, timeout=20):
    return WebDriverWait(driver, timeout).until(condition)


def type_into(driver, field_id, text):
    field = driver.find_element(By.ID, field_id)
    field.clear()
    field.send_keys(text)


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def offline(driver, off: bool):
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
        "offline": off, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})


def test_a_judge_scores_a_live_final_on_a_tablet_through_a_dropped_connection(stack,
                                                                              browser):
    client, db, gateway_url = stack
    rounds, ids = run_to_street_finals(db)
    final = round_id(rounds, "street_final", BANTIAN)
    # the judge works at the workshop: its worker in the final is not hers to score
    write(db, operations.register_judge, final, {"name": "陈评委", "user_name": "judge.chen",
                                                 "organization_code": NK_WORKSHOP},
          BANTIAN_STAFF, now_utc())
    write(db, operations.open_round, final, BANTIAN_STAFF, now_utc())
    judge_user(gateway_url, "judge.chen")

    browser.get(f"{client.base}/competitions/judge/{final}")
    wait(browser, ready.presence_of_element_located((By.ID, "signin-form")))
    type_into(browser, "name", "judge.chen")
    type_into(browser, "password", PASSWORD)
    browser.find_element(By.ID, "signin").click()
    wait(browser, ready.visibility_of_element_located((By.ID, "screen")))
    assert browser.title == "评委评分"
    assert "第 1 位 / 共 4 位" in text_of(browser, "position")
    first = text_of(browser, "contestant-name")

    for code, value in (("achievement", "9"), ("benefit", "8.5"), ("skill", "8"),
                        ("presentation", "7.5"), ("teaching", "9")):
        type_into(browser, f"value-{code}", value)
    assert text_of(browser, "total") == "84.5"
    type_into(browser, "comment", "多联系沟通和表达")
    browser.find_element(By.ID, "save").click()
    wait(browser, lambda d: "已保存" in text_of(d, "status"))
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")

    # the workshop's worker: barred, nothing to fill in
    barred_seen = False
    for _ in range(3):
        browser.find_element(By.ID, "next").click()
        if browser.find_element(By.ID, "excluded").is_displayed():
            barred_seen = True
            assert "同属一个企业" in text_of(browser, "excluded")
            assert not browser.find_element(By.ID, "save").is_enabled()
            break
    assert barred_seen

    # back to the first, edit, and save while the network is down
    while "第 1 位" not in text_of(browser, "position"):
        browser.find_element(By.ID, "previous").click()
    assert text_of(browser, "contestant-name") == first
    type_into(browser, "value-achievement", "10")
    offline(browser, True)
    browser.find_element(By.ID, "save").click()
    wait(browser, lambda d: "暂存" in text_of(d, "status"))
    assert "待发送的评分：1 条" in text_of(browser, "pending")
    offline(browser, False)
    wait(browser, lambda d: text_of(d, "pending") == "", timeout=30)

    with db.session() as session:
        kept = session.execute(select(scores.c.version, scores.c.total)).all()
        changes = session.execute(select(func.count()).select_from(score_changes)).scalar()
    assert kept == [(2, 87.5)]  # the edit arrived, once: two versions, two changes
    assert changes == 2

    # she declares a conflict with the one she scored: barred now, her score kept aside
    browser.find_element(By.ID, "declare").click()
    type_into(browser, "declare-note", "与该选手是亲属")
    browser.find_element(By.ID, "declare-confirm").click()
    wait(browser, lambda d: "已申报回避" in text_of(d, "status"))
    assert "自行申报回避" in text_of(browser, "excluded")
    assert not browser.find_element(By.ID, "save").is_enabled()
    assert not browser.find_element(By.ID, "declare").is_displayed()
    assert "已评 0 / 4" in text_of(browser, "progress")
    with db.session() as session:
        kept = session.execute(select(scores.c.version, scores.c.withdrawn_at)).one()
        changes = session.execute(select(func.count()).select_from(score_changes)).scalar()
    assert kept.version == 2 and kept.withdrawn_at is not None and changes == 2


def test_the_public_results_page_takes_an_objection_and_shows_who_moved_up(stack, browser):
    client, db, _ = stack
    browser.set_window_size(390, 844)  # a phone
    rounds, ids = full_competition(db)
    write(db, operations.open_round, round_id(rounds, "public_notice"), DISTRICT_STAFF,
          now_utc())

    browser.get(f"{client.base}/competitions/results/2016")
    assert "评选结果公示" in browser.title
    names = [e.text for e in browser.find_elements(
        By.CSS_SELECTOR, "[data-group=innovation] .winner .name")]
    assert names == ["职工1", "职工2", "职工4", "职工7"]
    assert "公示期" in text_of(browser, "notice-text")

    Select(browser.find_element(By.ID, "award")).select_by_visible_text("职工创新之星 · 职工1")
    type_into(browser, "reason", "短")
    browser.find_element(By.ID, "lodge").click()
    wait(browser, ready.visibility_of_element_located((By.ID, "objection-error")))
    assert "异议内容" in text_of(browser, "objection-error")
    type_into(browser, "reason", "该职工的创新成果是他人完成的")
    browser.find_element(By.ID, "lodge").click()
    wait(browser, ready.visibility_of_element_located((By.ID, "objection-result")))
    receipt = text_of(browser, "receipt-code")
    assert len(receipt.replace(" ", "")) == 16

    type_into(browser, "receipt-input", receipt)
    browser.find_element(By.ID, "lookup").click()
    wait(browser, ready.visibility_of_element_located((By.ID, "status-result")))
    assert "已受理" in text_of(browser, "status-label")

    with db.session() as session:
        [objection] = views.objections_page(session, "2016", DISTRICT_STAFF,
                                            {"cursor": None, "limit": 10,
                                             "status": None})["items"]
    write(db, operations.decide_objection, objection["id"],
          {"decision": "upheld", "note": "经核实属实"}, DISTRICT_STAFF, now_utc())
    browser.get(f"{client.base}/competitions/results/2016")
    names = [e.text for e in browser.find_elements(
        By.CSS_SELECTOR, "[data-group=innovation] .winner .name")]
    assert names == ["职工2", "职工4", "职工7"]
    type_into(browser, "receipt-input", receipt)
    browser.find_element(By.ID, "lookup").click()
    wait(browser, lambda d: "异议成立" in text_of(d, "status-label"))
    type_into(browser, "receipt-input", "0000 0000 0000 0000")
    browser.find_element(By.ID, "lookup").click()
    wait(browser, ready.visibility_of_element_located((By.ID, "status-error")))
    assert "未找到" in text_of(browser, "status-error")


def test_a_judge_declares_a_conflict_over_http_before_and_after_scoring(stack):
    client, db, gateway_url = stack
    rounds, ids = run_to_street_finals(db)
    final = round_id(rounds, "street_final", BANTIAN)
    for name in ("judge.li", "judge.wang"):
        write(db, operations.register_judge, final, {"name": name, "user_name": name,
                                                     "organization_code": CONSTRUCTION},
              BANTIAN_STAFF, now_utc())
    write(db, operations.open_round, final, BANTIAN_STAFF, now_utc())
    tokens = gateway_tokens(gateway_url, {"judge.li": ("judge", CONSTRUCTION),
                                          "judge.wang": ("judge", CONSTRUCTION),
                                          "bantian": ("staff", BANTIAN)})
    base = f"/api/v1/competitions/rounds/{final}"
    contestant = client.get(f"{base}/sheet", token=tokens["judge.li"]).json()[
        "contestants"][0]["contestant_id"]

    def score(judge, score_id):
        return client.post(f"{base}/scores", {
            "contestant_id": contestant, "score_id": score_id, "comment": "",
            "values": {code: 8 for code in ("achievement", "benefit", "skill",
                                            "presentation", "teaching")}},
            token=tokens[judge])

    before = client.post(f"{base}/conflicts", {"contestant_id": contestant},
                         token=tokens["judge.li"])
    assert before.status_code == 201, before.text
    assert before.json()["score_withdrawn"] is False
    assert score("judge.li", "li-save-0001").status_code == 403

    assert score("judge.wang", "wang-save-0001").status_code == 200
    after = client.post(f"{base}/conflicts", {"contestant_id": contestant, "note": "同乡"},
                        token=tokens["judge.wang"])
    assert after.status_code == 201, after.text  # was a 500 (the score's history)
    assert after.json() == {"judge_id": after.json()["judge_id"], "contestant_id": contestant,
                            "reason": "declared", "score_withdrawn": True}
    assert client.post(f"{base}/conflicts", {"contestant_id": 99999},
                       token=tokens["judge.wang"]).status_code == 404
    assert client.post(f"{base}/conflicts", {"contestant_id": "x"},
                       token=tokens["judge.wang"]).status_code == 400
    assert client.post(f"{base}/conflicts", {"contestant_id": contestant},
                       token=tokens["bantian"]).status_code == 403  # staff are no judges
    detail = client.get(base, token=tokens["bantian"]).json()
    assert {c["id"]: c["scores_received"] for c in detail["contestants"]}[contestant] == 0

    assert client.post(f"{base}/close", {}, token=tokens["bantian"]).status_code == 200
    assert client.post(f"{base}/conflicts", {"contestant_id": contestant},
                       token=tokens["judge.wang"]).status_code == 409
    [kept] = [s for s in client.get(f"{base}/scores", token=tokens["bantian"]).json()[
        "scores"] if s["contestant_id"] == contestant]
    assert kept["withdrawn_at"] is not None and len(kept["changes"]) == 1
