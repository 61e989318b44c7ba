"""The report form end to end in headless Chromium (Debian's chromium + chromedriver).

A phone-sized window: pick 坂田 and 南坑 from the lists the registry serves, report
anonymously, note the receipt code shown once, follow the status with it before and
after staff verify the case, and see a rejected form explain itself.
"""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import func, select

from shared import idempotency
from shared.db import open_database
from tests.disputes.conftest import FACTORY


@pytest.fixture
def browser(browser):
    """The kit's headless Chromium (shared.testing), phone-sized."""
    browser.set_window_size(390, 844)
    return browser


def wait(driver, condition, timeout=20):
    return WebDriverWait(driver, timeout).until(condition)


def choose(driver, select_id, label):
    wait(driver, lambda d: label in [o.text for o in Select(d.find_element(
        By.ID, select_id)).options])
    Select(driver.find_element(By.ID, select_id)).select_by_visible_text(label)


def type_into(driver, field_id, text):
    field = driver.find_element(By.ID, field_id)
    field.clear()
    field.send_keys(text)


def look_up(driver, receipt):
    type_into(driver, "receipt-input", receipt)
    driver.find_element(By.ID, "lookup").click()
    wait(driver, ready.visibility_of_element_located((By.ID, "status-result")))
    return driver.find_element(By.ID, "status-label").text


def fill_report(driver):
    choose(driver, "street", "坂田街道总工会")
    choose(driver, "community", "南坑社区工联会")
    type_into(driver, "enterprise-name", "南坑五金制品厂")  # the registry's name, no code
    type_into(driver, "address", "坂田南坑村一巷1号")
    Select(driver.find_element(By.ID, "category")).select_by_visible_text("拖欠工资")
    type_into(driver, "workers", "45")
    type_into(driver, "amount", "420000")
    type_into(driver, "description", "三个月未发工资，工人在厂门口聚集")


def kept_keys(tmp_path) -> int:
    database = open_database(f"sqlite:///{tmp_path}/disputes.db", "disputes",
                             run_migrations=False)
    try:
        with database.session() as session:
            return session.execute(select(func.count()).select_from(
                idempotency.idempotency_keys)).scalar()
    finally:
        database.engine.dispose()


def test_an_anonymous_report_from_a_phone_gets_a_receipt_and_follows_its_case(
        stack, browser, tmp_path):
    client, tokens = stack
    browser.get(client.base + "/disputes/report")
    assert browser.title == "劳资纠纷隐患报告"
    fill_report(browser)
    browser.find_element(By.ID, "submit").click()

    wait(browser, ready.visibility_of_element_located((By.ID, "result")))
    receipt = browser.find_element(By.ID, "receipt-code").text
    assert len(receipt.replace(" ", "")) == 16 and receipt.replace(" ", "").isdigit()
    assert browser.find_element(By.ID, "description").get_attribute("value") == ""
    # laid out for a phone: nothing wider than the screen
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")

    # the same report again (no answer seen, say): recognised, no second receipt
    fill_report(browser)
    browser.find_element(By.ID, "submit").click()
    wait(browser, ready.visibility_of_element_located((By.ID, "already")))
    assert "已收到" in browser.find_element(By.ID, "already").text
    assert not browser.find_element(By.ID, "result").is_displayed()
    assert kept_keys(tmp_path) == 1  # the form sent its report with an Idempotency-Key

    assert look_up(browser, receipt) == "已受理"
    [case] = client.get("/api/v1/disputes/cases", token=tokens["nankeng_staff"]).json()["items"]
    assert case["enterprise"]["credit_code"] == FACTORY  # recognised by name
    verified = client.post(f"/api/v1/disputes/cases/{case['id']}/transitions",
                           {"status": "verified"}, token=tokens["nankeng_staff"])
    assert verified.status_code == 200, verified.text
    assert look_up(browser, receipt) == "已核实"
    rewards = browser.find_element(By.ID, "status-rewards").text
    assert "元（待审批）" in rewards

    type_into(browser, "receipt-input", "0000 0000 0000 0000")
    browser.find_element(By.ID, "lookup").click()
    wait(browser, ready.visibility_of_element_located((By.ID, "status-error")))
    assert "未找到" in browser.find_element(By.ID, "status-error").text


def test_an_incomplete_report_is_explained_in_the_form_and_nothing_is_filed(stack,
                                                                             browser):
    client, tokens = stack
    browser.get(client.base + "/disputes/report")
    type_into(browser, "enterprise-name", "某厂")
    browser.find_element(By.ID, "submit").click()
    wait(browser, ready.visibility_of_element_located((By.ID, "error")))
    message = browser.find_element(By.ID, "error").text
    assert message == "填写的内容有误，请按提示修改。"
    # each field's message beside it, in Chinese (the catalogue: gateway/messages.yaml)
    assert browser.find_element(By.ID, "error-workers_affected").text == "此项必填。"
    assert browser.find_element(By.ID, "workers").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "error-description").text == "应为 1 到 5000 个字。"
    assert not browser.find_element(By.ID, "error-category").is_displayed()
    assert browser.find_element(By.ID, "result").is_displayed() is False
    assert client.get("/api/v1/disputes/cases",
                      token=tokens["district_admin"]).json()["items"] == []
