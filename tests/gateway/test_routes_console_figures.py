"""The figures page (数据核对, ``/figures``) end to end in headless Chromium, in front of
the real registry, membership, disputes and incubation services on the broker (the
competitions service is not running).

What is in them went in the way ``make run`` puts it: the registry's sample district (its
227 enterprises are 南坑 alone) and membership's 南坑 sample, loaded by the service from
the registry's events. So 南坑's nine figures agree, what only the other samples hold
(disputes, incubation) is the services' real count of nothing, and the competitions rows
say they could not be had.

- District staff see every figure beside the seed's, and how many agree.
- A street's staff are refused (the console's forbidden page) and do not see the entry
  in the navigation; nobody signed in is sent to sign in.
- With disputes stopped, its rows say 暂不可得 within the request's deadline, the others
  are shown as before.

Screenshots at phone and desktop width go to ``var/screenshots/console/``.
"""

import time
from typing import NamedTuple

import pytest
import requests
from selenium.webdriver.common.by import By

from services.disputes import domain as disputes_domain
from services.disputes.service import DisputesService
from services.figures import FIGURES
from services.gateway import messages
from services.gateway.service import GatewayService
from services.incubation.service import IncubationService
from services.membership import sample as membership_sample
from services.membership.service import MIGRATIONS as MEMBERSHIP_MIGRATIONS
from services.membership.service import MembershipService
from services.registry.sample import NANKENG_FIGURES, load_sample
from services.registry.service import MIGRATIONS as REGISTRY_MIGRATIONS
from services.registry.service import RegistryService
from shared.testing import eventually
from tests.disputes.conftest import TEST_KEY as DISPUTES_KEY
from tests.gateway.conftest import Client
from tests.gateway.test_routes_console import people, screenshots, sign_in
from tests.gateway.test_routes_console_officers_admins import session_of
from tests.membership.conftest import TEST_KEY as MEMBERSHIP_KEY

pytestmark = pytest.mark.usefixtures("rabbit_config")

RPC_TIMEOUT = 4  # seconds: the whole page's deadline (GATEWAY_RPC_TIMEOUT)
SERVICES = {"registry": RegistryService, "membership": MembershipService,
            "disputes": DisputesService, "incubation": IncubationService,
            "gateway": GatewayService}


class Stack(NamedTuple):
    base: str
    containers: dict


@pytest.fixture
def stack(container_factory, make_service_config, database_factory, tmp_path, monkeypatch):
    monkeypatch.setenv(disputes_domain.ENV, DISPUTES_KEY)  # no development key in var/
    urls = {name: f"sqlite:///{tmp_path}/{name}.db" for name in SERVICES}
    configs = {name: make_service_config(url) for name, url in urls.items()}
    configs["membership"]["MEMBERSHIP_PII_KEY"] = MEMBERSHIP_KEY
    configs["gateway"]["GATEWAY_RPC_TIMEOUT"] = RPC_TIMEOUT
    # What `gonghui up` does first: the registry loads its sample (227 enterprises:
    # 南坑 alone), membership is asked for its 南坑 sample.
    load_sample(database_factory(urls["registry"], "registry", REGISTRY_MIGRATIONS),
                enterprises=NANKENG_FIGURES["enterprises"])
    membership_sample.request(database_factory(urls["membership"], "membership",
                                               MEMBERSHIP_MIGRATIONS))
    containers = {}
    for name in ("membership", "disputes", "incubation", "gateway", "registry"):
        containers[name] = container_factory(SERVICES[name], configs[name])  # consumers first
        containers[name].start()
    people(urls["gateway"])  # district.zhao, bantian.li... with PASSWORD
    return Stack(Client(configs["gateway"]["WEB_SERVER_ADDRESS"]).base, containers)


def rows_of(driver) -> dict:
    """(place, figure) -> [seed, system, verdict] as the table shows them."""
    table = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "#figures tbody tr"):
        place, seed, system, verdict = (cell.text for cell in
                                        row.find_elements(By.TAG_NAME, "td"))
        figure = row.find_element(By.TAG_NAME, "th").text
        table[place, figure] = [seed, system, verdict]
    return table


def open_figures(driver, base, until) -> dict:
    """The page's rows once ``until(rows)`` holds: the samples load after start-up."""
    def shown():
        driver.get(base + "/figures")
        rows = rows_of(driver)
        return rows if until(rows) else None
    return eventually(shown, timeout=60, interval=1)


def label(place, figure) -> tuple:
    return messages.value(place, "figure_place"), messages.value(figure, "figure")


def test_district_staff_see_each_figure_beside_the_seeds_and_how_many_agree(stack, browser):
    sign_in(browser, stack.base, "district.zhao", target="/figures")
    members = label("南坑", "members")
    rows = open_figures(browser, stack.base,
                        lambda rows: rows.get(members, [None, None, None])[2] == "一致")
    assert browser.find_element(By.CSS_SELECTOR, 'nav a[aria-current="page"]').text == "数据核对"
    assert len(rows) == len(FIGURES)
    # 南坑's figures, each counted by the service that owns it from what was loaded
    assert rows[label("南坑", "enterprises")] == ["227", "227", "一致"]
    assert rows[label("南坑", "workers")] == ["约 10,200", "10,200", "一致"]
    assert rows[label("南坑", "establishment rate (建会率)")] == ["96%", "96.04%", "一致"]
    assert rows[members] == ["9,525", "9,525", "一致"]
    assert rows[label("南坑", "join rate (入会率)")] == ["93%", "93.38%", "一致"]
    assert rows[label("南坑", "member cards (会员卡)")] == ["500", "500", "一致"]
    # what the registry holds of 坂田 is 南坑 alone: counted, and not the seed's
    assert rows[label("坂田", "enterprises")] == ["3,000+", "227", "不一致"]
    # disputes and incubation answer with their real count of nothing loaded (no year
    # 2015 at all: none to show)
    assert rows[label("district", "disputes with union part since the reform")] == [
        "6,106", "0", "不一致"]
    assert rows[label("district", "disputes in 2015")] == ["3,900", "—", "不一致"]
    assert rows[label("district", "social organizations incubated")] == ["41", "0", "不一致"]
    # the district-scale rows are counted but not checked
    assert rows[label("district", "market entities")] == [
        "320,000+", "227", "未核对（仅全区规模样本）"]
    # competitions is not running: its row says so
    assert rows[label("district", "street finalists, 职工之星 2016")] == [
        "200+", "—", "暂不可得（未能从劳动竞赛服务取得）"]
    agree = sum(verdict == "一致" for _, _, verdict in rows.values())
    assert agree == 9  # 南坑's registry and membership figures
    checked = len(FIGURES) - 2
    assert browser.find_element(By.ID, "summary").text == (
        f"共核对 {checked} 项数据，其中 {agree} 项与资料一致，{checked - agree - 1} 项不一致，"
        "1 项暂不可得。")
    assert "1 项数据暂不可得" in browser.find_element(By.ID, "unavailable-notice").text
    assert not any("a" <= ch <= "z" for ch in browser.find_element(By.ID, "main").text)
    screenshots(browser, "figures")


def test_a_streets_staff_are_refused_and_nobody_signed_in_is_sent_to_sign_in(stack, browser):
    anonymous = requests.get(stack.base + "/figures", allow_redirects=False, timeout=30)
    assert anonymous.status_code == 303
    assert anonymous.headers["Location"] == "/signin?next=/figures"
    sign_in(browser, stack.base, "bantian.li")
    assert "数据核对" not in [link.text for link in
                            browser.find_elements(By.CSS_SELECTOR, "nav.site a")]
    browser.get(stack.base + "/figures")
    assert browser.find_element(By.ID, "page-error").text == "数据核对只供区总工会的工作人员查看。"
    assert not browser.find_elements(By.ID, "figures")
    assert session_of(browser).get(stack.base + "/figures", timeout=30).status_code == 403


def test_with_disputes_stopped_its_rows_are_not_available_and_the_rest_shown(stack, browser):
    sign_in(browser, stack.base, "district.zhao", target="/figures")
    enterprises = label("南坑", "enterprises")
    open_figures(browser, stack.base, lambda rows: rows.get(enterprises) == [
        "227", "227", "一致"])
    stack.containers["disputes"].stop()
    started = time.monotonic()
    browser.get(stack.base + "/figures")
    took = time.monotonic() - started
    rows = rows_of(browser)
    disputes = [figure for figure in FIGURES if figure.service == "disputes"]
    for figure in disputes:
        assert rows[label(figure.place, figure.what)] == [
            messages.value(figure.seed, "figure_seed"), "—",
            "暂不可得（未能从劳资纠纷服务取得）"], figure.what
    assert rows[enterprises] == ["227", "227", "一致"]
    assert rows[label("district", "social organizations incubated")] == ["41", "0", "不一致"]
    # every call at once: the page waits for the slowest, within the one deadline (one
    # by one, the incubation rows asked after disputes would be past it too)
    assert took < RPC_TIMEOUT + 3, took
    notice = browser.find_element(By.ID, "unavailable-notice").text
    assert f"{len(disputes) + 1} 项数据暂不可得" in notice  # and competitions'
