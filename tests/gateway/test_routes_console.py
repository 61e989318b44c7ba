"""The staff console end to end (issue 11) in headless Chromium (Debian's chromium and
chromedriver, the kit's ``browser``), in front of the real registry, membership, disputes
and notifications services on the broker, with deadlines of seconds.

- A 南坑 staff member signs in on a phone, sees the new case waiting with the time left
  before it climbs to 坂田, acknowledges it with one click; the deadline passes and 坂田
  is never told.
- A 坂田 staff member cannot open a case of another street: a 404 on the page and on the
  API. A form post without its CSRF token is refused and changes nothing.

Screenshots of each page at phone (390 px) and desktop (1280 px) width are written to
``var/screenshots/console/`` (git-ignored) for a reviewer to look at.
"""

import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from services.disputes import domain as disputes_domain
from services.disputes.service import DisputesService
from services.gateway import accounts, sessions
from services.gateway.service import GatewayService
from services.membership.service import MembershipService
from services.notifications.service import NotificationsService
from services.registry.sample import credit_code
from services.registry.service import RegistryService
from shared.db import open_database
from shared.testing import call, eventually, page_replaced, publish_events
from shared.timeutil import now_utc
from tests.disputes.conftest import TEST_KEY as DISPUTES_KEY
from tests.disputes.test_with_all_services import BANTIAN, DISTRICT, FACTORY, NANKENG, TREE
from tests.gateway.conftest import Client
from tests.membership.conftest import TEST_KEY as MEMBERSHIP_KEY
from tests.notifications.conftest import fast_policy

pytestmark = pytest.mark.usefixtures("rabbit_config")

PASSWORD = "工会工作人员的密码-2026"
ESCALATE_AFTER = 20  # seconds a community has to acknowledge (a day in production)
LONGCHENG, ZHANGBEI = "longgang.longcheng", "longgang.longcheng.zhangbei"
ZHANGBEI_FACTORY = credit_code(8)


def federation(code, name, kind, parent, party_name, party_kind) -> dict:
    return {"code": code, "name": name, "kind": kind, "parent_code": parent,
            "party_organization": {"name": party_name, "kind": party_kind}}


OTHER_STREET = [  # 龙城 and its community 嶂背, beside TREE's 坂田 and 南坑
    federation(LONGCHENG, "龙城街道总工会", "street_federation", DISTRICT, "龙城街道党工委",
               "street_working_committee"),
    federation(ZHANGBEI, "嶂背社区工联会", "community_federation", LONGCHENG,
               "嶂背社区综合党委", "community_party_committee"),
]
STAFF = {"nankeng.wang": ("staff", NANKENG), "bantian.li": ("staff", BANTIAN),
         "hub.account": ("staff", "so:1"),  # a social organization's own account
         "district.zhao": ("staff", DISTRICT)}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "console"
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}


class Console(NamedTuple):
    client: Client
    tokens: dict
    base: str


@pytest.fixture
def console(container_factory, make_service_config, tmp_path, monkeypatch):
    monkeypatch.setenv(disputes_domain.ENV, DISPUTES_KEY)  # no development key in var/
    urls = {name: f"sqlite:///{tmp_path}/{name}.db"
            for name in ("registry", "membership", "disputes", "notifications", "gateway")}
    configs = {
        "registry": make_service_config(urls["registry"]),
        "membership": make_service_config(urls["membership"],
                                          MEMBERSHIP_PII_KEY=MEMBERSHIP_KEY),
        "disputes": make_service_config(urls["disputes"],
                                        DISPUTES_RATE_LIMITS={"source": (1000, 3600)}),
        "notifications": make_service_config(
            urls["notifications"], NOTIFICATIONS_POLICY=fast_policy(ESCALATE_AFTER),
            NOTIFICATIONS_DEADLINE_POLL_SECONDS=0.1),
        "gateway": make_service_config(urls["gateway"]),
    }
    classes = {"disputes": DisputesService, "notifications": NotificationsService,
               "registry": RegistryService, "membership": MembershipService,
               "gateway": GatewayService}
    containers = {}
    for name in ("disputes", "notifications", "membership", "registry",
                 "gateway"):  # consumers first
        containers[name] = container_factory(classes[name], configs[name])
        containers[name].start()
    admin = {"name": "区总工会管理员", "role": "admin", "organization_code": DISTRICT}
    for organization in TREE + OTHER_STREET:
        call(containers["registry"], "register_organization", organization, admin)
    for code, name, community in ((FACTORY, "南坑五金制品厂", NANKENG),
                                  (ZHANGBEI_FACTORY, "嶂背电子厂", ZHANGBEI)):
        call(containers["registry"], "register_enterprise", {
            "credit_code": code, "name": name, "address": "深圳市龙岗区", "headcount": 80,
            "community_code": community, "union_status": "covered"}, admin)
    tokens = people(urls["gateway"])
    client = Client(configs["gateway"]["WEB_SERVER_ADDRESS"])
    # both enterprises known downstream before anyone reports
    eventually(lambda: all(client.get(f"/api/v1/enterprises/{code}",
                                      token=tokens["district"]).status_code == 200
                           for code in (FACTORY, ZHANGBEI_FACTORY)), timeout=15)
    return Console(client, tokens, client.base)


def people(gateway_url) -> dict:
    """The console's users with passwords, and a district admin's API token."""
    db = open_database(gateway_url, "gateway", run_migrations=False)
    try:
        with db.unit_of_work() as uow:
            tokens = {"district": accounts.create_user(uow.session, "district.admin", "admin",
                                                       DISTRICT)[1]}
            for name, (role, organization) in STAFF.items():
                tokens[name] = accounts.create_user(uow.session, name, role, organization)[1]
                sessions.set_password(uow.session, name, PASSWORD, now_utc())
        return tokens
    finally:
        db.engine.dispose()


def report(client, credit_code_=FACTORY, category="unpaid_wages"):
    """An anonymous report through the API."""
    response = client.post("/api/v1/disputes/reports", {
        "credit_code": credit_code_, "category": category, "workers_affected": 6,
        "amount_owed": "30000.00", "description": "拖欠两个月工资"})
    assert response.status_code == 201, response.text


def case_of(client, token, credit_code_) -> dict:
    found = eventually(lambda: [case for case in client.get(
        "/api/v1/disputes/cases", token=token).json()["items"]
        if case["enterprise"]["credit_code"] == credit_code_], timeout=15)
    return found[0]


def wait(driver, condition, timeout=20):
    return WebDriverWait(driver, timeout).until(condition)


def sign_in(driver, base, name, target="/"):
    driver.get(base + target)
    wait(driver, ready.presence_of_element_located((By.ID, "signin-form")))
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "signin").click()
    wait(driver, lambda d: "/signin" not in d.current_url)


def screenshots(driver, page: str):
    """The page at phone and desktop width, into var/screenshots/console/; neither wider
    than its screen."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        driver.set_window_size(width, height)
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"), (page, size)
        driver.save_screenshot(str(SCREENSHOTS / f"{page}-{size}.png"))
    driver.set_window_size(*SIZES["phone"])


def inbox(client, token, code) -> list:
    return client.get(f"/api/v1/organizations/{code}/inbox", token=token).json()["items"]


def escalation_of(client, token, case_id) -> dict:
    return client.get(f"/api/v1/cases/{case_id}/escalation", token=token).json()


def forged_post(driver, url, data) -> requests.Response:
    """A form post from another site: the browser's session cookie rides along, the page's
    CSRF token cannot."""
    forger = requests.Session()
    forger.cookies.set(sessions.SESSION_COOKIE,
                       driver.get_cookie(sessions.SESSION_COOKIE)["value"])
    return forger.post(url, data=data, allow_redirects=False, timeout=30)


def test_a_nankeng_staff_member_acknowledges_a_new_case_and_bantian_is_never_told(console,
                                                                                  browser):
    client, tokens, base = console
    browser.set_window_size(*SIZES["phone"])
    report(client)
    case = case_of(client, tokens["district"], FACTORY)
    eventually(lambda: inbox(client, tokens["nankeng.wang"], NANKENG), timeout=15)
    [climbs_at] = [deadline["due_at"] for deadline in escalation_of(
        client, tokens["district"], case["id"])["open_deadlines"]
        if deadline["kind"] == "escalate"]

    browser.get(base + "/")
    wait(browser, ready.presence_of_element_located((By.ID, "signin-form")))
    screenshots(browser, "signin")
    sign_in(browser, base, "nankeng.wang")
    assert browser.title.startswith("待办")
    entry = wait(browser, ready.presence_of_element_located(
        (By.CSS_SELECTOR, f'[data-case="{case["id"]}"]')))
    assert "南坑五金制品厂" in entry.text and "一般" in entry.text
    deadline = entry.find_element(By.CLASS_NAME, "deadline").text
    assert re.search(r"还剩 .*将于 \d{4}年\d+月\d+日 \d\d:\d\d 上报上一级", deadline), deadline
    assert browser.find_element(By.ID, "who").text == "nankeng.wang（工作人员）"
    screenshots(browser, "home")
    # the keyboard reaches the skip link first
    browser.find_element(By.TAG_NAME, "body").send_keys("\ue004")  # Tab
    assert browser.switch_to.active_element.text == "跳到正文"

    forged = forged_post(browser, f"{base}/cases/{case['id']}/acknowledge", {"next": "/"})
    assert forged.status_code == 403 and "页面已过期" in forged.text
    assert escalation_of(client, tokens["district"], case["id"])["acknowledged_at"] is None

    browser.find_element(By.CSS_SELECTOR, f'[data-case="{case["id"]}"] .acknowledge').click()
    wait(browser, ready.visibility_of_element_located((By.ID, "acknowledged")))
    assert now_utc() < datetime.fromisoformat(climbs_at), "acknowledged too late to tell"
    assert browser.find_elements(By.CSS_SELECTOR, f'[data-case="{case["id"]}"]') == []
    assert browser.find_element(By.ID, "nothing-waiting").is_displayed()
    escalation = escalation_of(client, tokens["district"], case["id"])
    assert escalation["acknowledged_by"] == NANKENG
    assert [d for d in escalation["open_deadlines"] if d["kind"] == "escalate"] == []

    # Past the moment it would have climbed (and a poll or two more), 坂田 was never told.
    past = datetime.fromisoformat(climbs_at) + timedelta(seconds=1.5)
    while now_utc() < past:
        assert inbox(client, tokens["bantian.li"], BANTIAN) == []
        time.sleep(0.25)
    assert inbox(client, tokens["bantian.li"], BANTIAN) == []

    # the case page tells the story: told, then signed by 南坑
    browser.get(f"{base}/cases/{case['id']}")
    kinds = [line.get_attribute("data-kind") for line in browser.find_elements(
        By.CSS_SELECTOR, "#timeline li")]
    assert kinds.index("opened") < kinds.index("notified") < kinds.index("acknowledged")
    assert "已签收" in browser.find_element(By.ID, "told").text
    assert browser.find_elements(By.ID, "acknowledge") == []  # nothing left to sign


def test_the_district_home_lists_an_incubation_reminder_apart_and_no_closed_case(console,
                                                                                  browser,
                                                                                  rabbit_config):
    client, tokens, base = console
    report(client, category="boss_absconded")  # major: the district is told at once
    case = case_of(client, tokens["district"], FACTORY)
    publish_events(rabbit_config["AMQP_URI"], "incubation", "incubation_deadline_approaching",
                   {"organization_id": 7, "name": "龙岗区彩虹职工法律服务中心",
                    "home_path": [DISTRICT, BANTIAN, NANKENG], "stage": "admitted",
                    "incubation_deadline": date(2026, 12, 31), "days_left": 29})
    eventually(lambda: len(inbox(client, tokens["district"], DISTRICT)) == 2, timeout=15)

    sign_in(browser, base, "district.zhao")
    assert browser.title.startswith("待办")
    assert browser.find_elements(By.CSS_SELECTOR, f'[data-case="{case["id"]}"]')
    assert len(browser.find_elements(By.CSS_SELECTOR, "[data-case]")) == 1
    assert "龙岗区彩虹职工法律服务中心的孵化期将于2026-12-31届满" in browser.find_element(
        By.ID, "reminders").text

    # closed unacknowledged, the case waits for nobody any more; the reminder stays
    moved = client.post(f"/api/v1/disputes/cases/{case['id']}/transitions",
                        {"status": "rejected", "reason": "核实不属实"}, token=tokens["district"])
    assert moved.status_code == 200, moved.text
    waiting = f"/api/v1/organizations/{DISTRICT}/inbox?unacknowledged=true&subject_kind=case"
    eventually(lambda: client.get(waiting, token=tokens["district"]).json()["items"] == [],
               timeout=15)
    browser.get(base + "/")
    assert browser.find_element(By.ID, "nothing-waiting").is_displayed()
    assert "孵化期" in browser.find_element(By.ID, "reminders").text


def submit(driver, form_id, fields: dict):
    """Fill ``{element id: text}`` (True ticks a checkbox) and submit the form (its button's
    id), then wait for the answer's page."""
    for element_id, value in fields.items():
        element = driver.find_element(By.ID, element_id)
        if value is True:
            if not element.is_selected():
                element.click()
        else:
            element.clear()
            element.send_keys(value)
    click_through(driver, form_id)


def click_through(driver, element_id):
    """Click what posts or follows, and wait for the next page to replace this one."""
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, element_id).click()
    wait(driver, page_replaced(page))


def open_step(driver, step):
    details = driver.find_element(By.ID, f"step-{step}")
    if details.get_attribute("open") is None:
        details.find_element(By.TAG_NAME, "summary").click()


def test_bantian_works_its_case_through_the_process_but_cannot_open_another_streets(
        console, browser):
    client, tokens, base = console
    browser.set_window_size(*SIZES["desktop"])
    report(client, ZHANGBEI_FACTORY)
    report(client)
    theirs = case_of(client, tokens["district"], ZHANGBEI_FACTORY)
    ours = case_of(client, tokens["district"], FACTORY)

    # another street's case: as if it did not exist, on the API and on the page
    answer = client.get(f"/api/v1/disputes/cases/{theirs['id']}", token=tokens["bantian.li"])
    assert answer.status_code == 404, answer.text
    sign_in(browser, base, "bantian.li", f"/cases/{theirs['id']}")
    assert "未找到" in browser.find_element(By.ID, "page-error").text
    assert "嶂背" not in browser.page_source

    browser.get(f"{base}/cases/{ours['id']}")
    assert browser.find_element(By.ID, "case-title").text == "南坑五金制品厂"
    assert "一般隐患" in browser.find_element(By.ID, "grade").text  # the rule's label
    screenshots(browser, "case")
    open_step(browser, "verified")
    submit(browser, "submit-verified", {"verified-note": "走访核实属实"})
    assert browser.find_element(By.ID, "done").text == "已核实。"

    # joint mediation without its departments, and a figure that is no number: each
    # field says so in Chinese, beside it, the rest of the input kept
    open_step(browser, "handling")
    browser.find_element(By.CSS_SELECTOR, '#handling-handled_by_tier option[value="street"]'
                         ).click()
    submit(browser, "submit-handling", {"handling-joint": True, "handling-note": "联合调处"})
    assert browser.find_element(By.ID, "form-error").text == "填写的内容有误，请按提示修改。"
    assert browser.find_element(By.ID, "error-handling-departments").text == \
        "联合调处时请写明参与的政府部门。"
    assert browser.find_element(By.ID, "handling-departments").get_attribute(
        "aria-invalid") == "true"
    assert browser.find_element(By.ID, "handling-note").get_attribute("value") == "联合调处"
    assert browser.find_element(By.ID, "handling-joint").is_selected()
    screenshots(browser, "case-form-error")
    submit(browser, "submit-handling", {"handling-departments": "区人力资源局\n街道劳动办"})
    assert browser.find_element(By.ID, "case-status").text == "调处中"

    submit(browser, "submit-visit", {"visit-findings": "未签劳动合同",
                                     "visit-amount_owed": "很多"})
    assert browser.find_element(By.ID, "error-visit-amount_owed").text == "请填写数字。"
    assert browser.find_element(By.ID, "visit-findings").get_attribute("value") == "未签劳动合同"
    submit(browser, "submit-visit", {"visit-amount_owed": "12000", "visit-workers_affected": "8"})
    assert browser.find_element(By.ID, "done").text == "走访记录已保存。"
    kinds = [line.get_attribute("data-kind") for line in browser.find_elements(
        By.CSS_SELECTOR, "#timeline li")]
    assert kinds[0] == "opened" and "notified" in kinds and kinds.count("status") == 2
    assert "visit" in kinds

    # the list: 坂田's cases only, filtered; a day that does not exist is said in Chinese
    browser.get(f"{base}/cases")
    listed = [row.get_attribute("data-case") for row in browser.find_elements(
        By.CSS_SELECTOR, "#cases tr[data-case]")]
    assert listed == [ours["id"]]
    browser.find_element(By.CSS_SELECTOR, '#filter-status option[value="resolved"]').click()
    click_through(browser, "filter")
    assert browser.find_element(By.ID, "no-cases").is_displayed()
    assert "status=resolved" in browser.current_url
    browser.get(f"{base}/cases?status=handling&community_code={NANKENG}&opened_to=2025-02-30")
    assert browser.find_element(By.ID, "error-filter-opened_to").text == "请填写正确的日期。"
    assert browser.find_element(By.ID, "filter-community_code").get_attribute(
        "value") == NANKENG
    browser.get(f"{base}/cases?status=handling&community_code={NANKENG}")
    assert [row.get_attribute("data-case") for row in browser.find_elements(
        By.CSS_SELECTOR, "#cases tr[data-case]")] == [ours["id"]]
    screenshots(browser, "cases")

    # signed out, a social organization's own account (no registry organization) finds
    # a home with nothing waiting
    click_through(browser, "signout")
    sign_in(browser, base, "hub.account")
    assert browser.find_element(By.ID, "nothing-waiting").is_displayed()
    assert browser.find_elements(By.ID, "organization") == []
