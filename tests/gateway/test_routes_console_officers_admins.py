"""The console for information officers and admins, and the statistics page, end to end
in headless Chromium in front of the real registry, membership, disputes and
notifications services (the staff console's ``console`` stack).

- Staff register an information officer with an account on a page (a missing name said
  beside its field); the officer sets a password
  through the one-time link, signs in, files a report on the form with no token to
  paste, finds it under 我的报告, and once the case is verified finds the reward under
  我的奖励 with the rule that produced it.
- A street admin makes a user of a community below; the new user sets a password
  through the link and signs in; the link does not work twice. The admin sees the users
  of their street only, and cannot touch another street's (page and API). The
  statistics page shows the street's establishment and join rates, and charts.

Screenshots at phone and desktop width go to ``var/screenshots/console/``.
"""

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select

from services.gateway import sessions
from shared.testing import eventually
from tests.gateway.test_routes_console import (  # noqa: F401 - console: the stack fixture
    BANTIAN,
    FACTORY,
    NANKENG,
    PASSWORD,
    SIZES,
    ZHANGBEI,
    case_of,
    console,
    screenshots,
    wait,
)
from tests.gateway.test_sessions import set_password_by_link

pytestmark = pytest.mark.usefixtures("rabbit_config")

OFFICER_PASSWORD = "信息员的密码-2026"
NEW_PASSWORD = "新用户的密码-2026"


def by_id(driver, element_id):
    return wait(driver, ready.presence_of_element_located((By.ID, element_id)))


def set_password(driver, url, password):
    """Follow a one-time link in a browser nobody is signed in to: the outcome's notice."""
    driver.get("about:blank")  # from /password, a link to it would only change the hash
    driver.delete_all_cookies()
    driver.get(url)
    by_id(driver, "password").send_keys(password)
    driver.find_element(By.ID, "password_confirm").send_keys(password)
    driver.find_element(By.ID, "set-password").click()
    return wait(driver, lambda d: d.find_elements(By.ID, "password-set") or
                d.find_elements(By.ID, "password-error"))[0]


def sign_in_as(driver, base, name, password, target="/"):
    driver.delete_all_cookies()
    driver.get(f"{base}/signin?next={target}")
    by_id(driver, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "signin").click()
    wait(driver, lambda d: "/signin" not in d.current_url)


def session_of(driver) -> requests.Session:
    """requests with the browser's session cookie."""
    session = requests.Session()
    session.cookies.set(sessions.SESSION_COOKIE,
                        driver.get_cookie(sessions.SESSION_COOKIE)["value"])
    return session


def test_an_officer_signs_in_reports_without_a_token_and_follows_it(console, browser):  # noqa: F811
    client, tokens, base = console
    browser.set_window_size(*SIZES["phone"])
    # 南坑's staff register the officer with an account; a missing name is said beside it
    sign_in_as(browser, base, "nankeng.wang", PASSWORD, "/officers/new")
    by_id(browser, "phone").send_keys("13912345678")
    browser.find_element(By.ID, "user_name").send_keys("信息员-王秀英")
    browser.find_element(By.ID, "register-officer").click()
    assert by_id(browser, "error-real_name").text  # in Chinese, from the catalogue
    assert browser.find_element(By.ID, "real_name").get_attribute("aria-invalid") == "true"
    browser.find_element(By.ID, "real_name").send_keys("王秀英")
    browser.find_element(By.ID, "register-officer").click()
    link = by_id(browser, "password-link").text
    assert "信息员-王秀英" in browser.find_element(By.ID, "officer-registered").text
    screenshots(browser, "officer-new")
    assert set_password(browser, link, OFFICER_PASSWORD).get_attribute("id") == \
        "password-set"

    sign_in_as(browser, base, "信息员-王秀英", OFFICER_PASSWORD, "/disputes/report")
    assert "信息员-王秀英" in by_id(browser, "signed-in-officer").text
    assert not browser.find_element(By.ID, "officer-token").is_displayed()
    screenshots(browser, "officer-report")
    browser.find_element(By.ID, "credit-code").send_keys(FACTORY)
    Select(browser.find_element(By.ID, "category")).select_by_value("unpaid_wages")
    browser.find_element(By.ID, "workers").send_keys("12")
    browser.find_element(By.ID, "amount").send_keys("60000")
    browser.find_element(By.ID, "description").send_keys("两个月未发工资")
    browser.find_element(By.ID, "submit").click()
    filed = wait(browser, ready.visibility_of_element_located((By.ID, "report-id"))).text
    assert not browser.find_element(By.ID, "receipt-block").is_displayed()  # no code

    browser.find_element(By.LINK_TEXT, "我的报告").click()
    row = by_id(browser, "my-reports").find_element(By.CSS_SELECTOR,
                                                     f'[data-report="{filed}"]')
    assert "南坑五金制品厂" in row.text and "已受理" in row.text
    screenshots(browser, "my-reports")

    case = case_of(client, tokens["district"], FACTORY)
    verified = client.post(f"/api/v1/disputes/cases/{case['id']}/transitions",
                           {"status": "verified"}, token=tokens["nankeng.wang"])
    assert verified.status_code == 200, verified.text
    browser.find_element(By.LINK_TEXT, "我的奖励").click()
    reward = eventually(lambda: browser.refresh() or browser.find_elements(
        By.CSS_SELECTOR, ".reward"), timeout=15)[0]
    assert "核实奖励" in reward.text and "待审批" in reward.text
    assert "奖励办法第 1 版" in reward.text and "核实奖励（较大）：300.00 元" in reward.text
    screenshots(browser, "my-rewards")
    # an officer's session opens no staff page or route
    browser.get(base + "/statistics")
    assert "没有" in by_id(browser, "main").text
    cases = session_of(browser).get(f"{base}/api/v1/disputes/cases", timeout=30)
    assert cases.status_code == 403


def test_a_street_admin_manages_the_users_of_the_street_only(console, browser):  # noqa: F811
    client, tokens, base = console
    browser.set_window_size(*SIZES["desktop"])
    for name, role, code in (("bantian.admin", "admin", BANTIAN),
                             ("zhangbei.staff", "staff", ZHANGBEI)):
        made = client.post("/api/v1/users", {"name": name, "role": role, "org_code": code},
                           token=tokens["district"])
        assert made.status_code == 201, made.text
    link = client.post("/api/v1/users/bantian.admin/password-link",
                       token=tokens["district"]).json()["url"]
    assert set_password_by_link(requests.Session(), base, link, PASSWORD).status_code == 200

    sign_in_as(browser, base, "bantian.admin", PASSWORD, "/admin/users")
    listed = {row.get_attribute("data-user") for row in
              by_id(browser, "users").find_elements(By.CSS_SELECTOR, "[data-user]")}
    assert listed == {"bantian.admin", "bantian.li", "nankeng.wang"}  # not 嶂背's
    # a user for a community of another street: refused beside the field
    by_id(browser, "name").send_keys("嶂背新人")
    browser.find_element(By.ID, "org_code").clear()
    browser.find_element(By.ID, "org_code").send_keys(ZHANGBEI)
    browser.find_element(By.ID, "create-user").click()
    assert "管辖范围" in by_id(browser, "error-org_code").text
    # and one for 南坑, whose link is shown once
    browser.find_element(By.ID, "org_code").clear()
    browser.find_element(By.ID, "org_code").send_keys(NANKENG)
    Select(browser.find_element(By.ID, "role")).select_by_value("viewer")
    browser.find_element(By.ID, "create-user").click()
    new_link = by_id(browser, "password-link").text
    assert "嶂背新人" in by_id(browser, "user-created").text
    screenshots(browser, "users")
    # another street's user cannot be touched: the page and the API answer 404
    page = session_of(browser)
    csrf = page.get(f"{base}/api/v1/session", timeout=30).json()["csrf_token"]
    disabled = page.post(f"{base}/admin/users/zhangbei.staff/disable",
                         data={"csrf_token": csrf}, allow_redirects=False, timeout=30)
    assert disabled.status_code == 404 and "管辖范围" in disabled.text
    role = page.post(f"{base}/admin/users/nankeng.wang/role", data={
        "csrf_token": csrf, "role": "viewer"}, allow_redirects=False, timeout=30)
    assert role.status_code == 303 and role.headers["Location"] == "/admin/users?done=role"
    forged = page.post(f"{base}/admin/users/nankeng.wang/disable", data={"csrf_token": "x"},
                       allow_redirects=False, timeout=30)
    assert forged.status_code == 403
    assert client.get("/api/v1/me", token=tokens["nankeng.wang"]).json()["role"] == "viewer"
    admin_token = client.post("/api/v1/users", {"name": "bantian.api", "role": "admin",
                                                "org_code": BANTIAN},
                              token=tokens["district"]).json()["token"]
    assert client.delete("/api/v1/users/zhangbei.staff",
                         token=admin_token).status_code == 404
    assert client.patch("/api/v1/users/zhangbei.staff", {"role": "viewer"},
                        token=admin_token).status_code == 404
    assert client.get("/api/v1/me", token=tokens["district"]).status_code == 200

    # the new user sets a password once and signs in; the link is spent
    assert set_password(browser, new_link, NEW_PASSWORD).get_attribute("id") == \
        "password-set"
    assert set_password(browser, new_link, "又一个新密码-2026").get_attribute("id") == \
        "password-error"
    assert "已使用或已过期" in browser.find_element(By.ID, "password-error").text
    sign_in_as(browser, base, "嶂背新人", NEW_PASSWORD)
    assert "嶂背新人" in by_id(browser, "who").text

    # statistics of 坂田 as its admin; a year out of range is said beside the field
    sign_in_as(browser, base, "bantian.admin", PASSWORD, "/statistics?year=1800")
    assert by_id(browser, "error-year").text == "应在 2000 到 2100 之间。"
    browser.get(base + "/statistics")
    assert by_id(browser, "establishment-rate").text.startswith("建会率")
    assert "100.0%" in browser.find_element(By.ID, "establishment-rate").text
    chart = browser.find_element(By.ID, "chart-establishment")
    assert chart.find_elements(By.CSS_SELECTOR, "svg rect")
    assert "南坑" in chart.text
    assert browser.find_element(By.ID, "join-rate").text.startswith("入会率")
    screenshots(browser, "statistics")
