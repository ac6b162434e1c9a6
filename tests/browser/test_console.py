"""The operator console in a real browser (headless Chromium): sign in, create a client, create an alert rule,
open an account, read the charts' SVG. Screenshots of each step are kept in tests/artifacts/."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select

from analytics.api import Event
from tests.browser.conftest import Live, wait
from tests.support.chromium import screenshot
from tests.support.webhooks import Receiver


def _notice(driver: webdriver.Chrome) -> str:
    return wait(driver).until(expected_conditions.visibility_of_element_located(
        (By.CSS_SELECTOR, "p.notice"))).text


def test_sign_in_lands_on_the_console_with_styles_and_no_console_errors(operator: webdriver.Chrome,
                                                                         live: Live) -> None:
    assert operator.find_element(By.CSS_SELECTOR, "header.top .who").text.startswith(live.admin.email)
    header = operator.find_element(By.CSS_SELECTOR, "header.top")
    assert header.value_of_css_property("background-color") == "rgba(29, 35, 48, 1)"  # console.css applied
    screenshot(operator, "console-signed-in")


def test_the_charts_svg_has_axes_dates_and_values(operator: webdriver.Chrome, live: Live) -> None:
    user = live.provider.user(email=f"charted-{uuid.uuid4().hex[:6]}@example.com")
    now = datetime.now(UTC).replace(microsecond=0)
    live.analytics.accept([Event(uuid.uuid4(), user.id, "", "c", "report.viewed", now - timedelta(days=d), now, {})
                           for d in (0, 1, 3, 9)])
    live.analytics.flush(20)
    operator.get(live.url + "/console")
    line_chart = wait(operator).until(expected_conditions.presence_of_element_located(
        (By.CSS_SELECTOR, "svg.chart-lines")))
    texts = [t.get_attribute("textContent") for t in line_chart.find_elements(By.CSS_SELECTOR, "text")]
    assert "active accounts" in texts and "day (UTC)" in texts and "DAU" in texts
    points = line_chart.find_elements(By.CSS_SELECTOR, "circle.point")
    assert len(points) == 90  # 30 days, each with DAU, WAU and MAU
    titles = [p.find_element(By.TAG_NAME, "title").get_attribute("textContent") for p in points]
    assert f"{now.date().isoformat()} · DAU: 2" in titles or f"{now.date().isoformat()} · DAU: 1" in titles
    assert all(" · " in t and ": " in t for t in titles)
    bars = operator.find_element(By.CSS_SELECTOR, "svg.chart-bars")
    assert "week starting (UTC)" in [t.get_attribute("textContent") for t in bars.find_elements(By.TAG_NAME, "text")]
    assert bars.find_elements(By.CSS_SELECTOR, "rect.bar title")
    assert line_chart.size["width"] > 600  # drawn, not collapsed
    operator.execute_script("arguments[0].scrollIntoView()", line_chart)
    screenshot(operator, "console-overview-charts")


def test_create_a_client_and_use_its_secret(operator: webdriver.Chrome, live: Live) -> None:
    operator.get(live.url + "/console/clients")
    form = operator.find_element(By.ID, "new-client")
    form.find_element(By.ID, "client-name").send_keys("Browser-made API")
    form.find_element(By.CSS_SELECTOR, "input[name=kind][value=service]").click()
    form.find_element(By.CSS_SELECTOR, "input[name=first_party]").click()
    screenshot(operator, "console-client-form")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    secret = wait(operator).until(expected_conditions.presence_of_element_located((By.ID, "client-secret"))).text
    client_id = operator.find_element(By.ID, "client-id").text
    screenshot(operator, "console-client-secret-shown-once")
    token = httpx.post(f"{live.url}/token", data={"grant_type": "client_credentials", "scope": "events:write"},
                       auth=(client_id, secret))
    assert token.status_code == 200, token.text
    operator.find_element(By.LINK_TEXT, "Go to the client").click()
    wait(operator).until(expected_conditions.presence_of_element_located((By.ID, "edit-client")))
    assert secret not in operator.page_source


def test_create_a_webhook_test_it_and_create_an_alert_rule(operator: webdriver.Chrome, live: Live,
                                                           receiver: str) -> None:
    operator.get(live.url + "/console/webhooks")
    operator.find_element(By.ID, "webhook-url").send_keys(receiver)
    operator.find_element(By.ID, "webhook-description").send_keys("ops channel")
    operator.find_element(By.CSS_SELECTOR, "#new-webhook button[type=submit]").click()
    assert wait(operator).until(expected_conditions.presence_of_element_located(
        (By.ID, "webhook-secret"))).text.startswith("whsec_")
    operator.find_element(By.LINK_TEXT, "All webhook endpoints").click()
    row = wait(operator).until(expected_conditions.presence_of_element_located(
        (By.XPATH, f"//tr[td[text()='{receiver}']]")))
    row.find_element(By.XPATH, ".//button[text()='Send a test notification']").click()
    result = wait(operator).until(expected_conditions.presence_of_element_located((By.ID, "test-result")))
    assert result.text.startswith("Test notification delivered")
    assert b'"canary.test"' in Receiver.received[-1][1]
    screenshot(operator, "console-webhook-tested")

    operator.get(live.url + "/console/alerts")
    name = f"quiet for a week {uuid.uuid4().hex[:4]}"
    operator.find_element(By.ID, "rule-name").send_keys(name)
    days = operator.find_element(By.ID, "rule-days")
    days.clear()
    days.send_keys("7")
    operator.find_element(By.XPATH, f"//label[contains(., '{receiver}')]/input").click()
    Select(operator.find_element(By.ID, "rule-kind")).select_by_value("account.going_quiet")
    operator.find_element(By.ID, "rule-emails").send_keys("ops@example.com")
    Select(operator.find_element(By.ID, "rule-digest")).select_by_value("weekly")
    screenshot(operator, "console-alert-rule-form")
    operator.find_element(By.CSS_SELECTOR, "#new-rule button[type=submit]").click()
    assert "alert rule is created" in _notice(operator)
    cells = operator.find_elements(By.XPATH, f"//tr[td/a[text()='{name}']]/td")
    assert [cell.text for cell in cells[1:3]] == ["account.going_quiet", "7 days"]
    assert cells[4].text.endswith("ops@example.com (e-mail: weekly digest)")
    screenshot(operator, "console-alert-rule-created")


def test_open_an_account_and_disable_it_after_confirming(operator: webdriver.Chrome, live: Live) -> None:
    user = live.provider.user(email=f"grace-{uuid.uuid4().hex[:6]}@example.com", name="Grace Hopper")
    now = datetime.now(UTC).replace(microsecond=0)
    live.analytics.accept([Event(uuid.uuid4(), user.id, "", "c", "invoice.sent", now - timedelta(hours=2), now, {})])
    live.analytics.flush(20)
    operator.get(live.url + "/console/users")
    search = operator.find_element(By.ID, "q")
    search.send_keys("grace-" + user.email.split("-")[1].split("@")[0])
    search.submit()
    wait(operator).until(expected_conditions.element_to_be_clickable((By.LINK_TEXT, user.email))).click()
    wait(operator).until(expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Grace Hopper"))
    assert "invoice.sent" in operator.find_element(By.TAG_NAME, "main").text
    per_day = operator.find_element(By.CSS_SELECTOR, "svg.chart-bars")
    bars = [t.get_attribute("textContent") for t in per_day.find_elements(By.CSS_SELECTOR, "rect.bar title")]
    assert f"{(now - timedelta(hours=2)).date().isoformat()} · usage events: 1" in bars
    screenshot(operator, "console-account")

    operator.find_element(By.XPATH, "//button[text()='Disable account']").click()
    dialog = wait(operator).until(expected_conditions.alert_is_present())
    assert dialog.text.startswith(f"Disable {user.email}?")
    dialog.dismiss()  # cancelled: nothing posted
    assert operator.find_elements(By.XPATH, "//button[text()='Disable account']")
    operator.find_element(By.XPATH, "//button[text()='Disable account']").click()
    wait(operator).until(expected_conditions.alert_is_present()).accept()
    assert "The account is disabled" in _notice(operator)
    assert operator.find_elements(By.XPATH, "//button[text()='Enable account']")
    screenshot(operator, "console-account-disabled")
