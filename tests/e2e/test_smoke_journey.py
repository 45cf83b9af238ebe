"""Browser smoke journey in zh-hans and en: log in, create an account, find it in the list, and
another rep cannot open it."""

from __future__ import annotations

import re

import pytest

from tests.e2e.journeys import login

pytestmark = pytest.mark.e2e

LABELS = {
    "zh-hans": {"login": "登录", "new": "新建客户", "save": "保存"},
    "en": {"login": "Log in", "new": "New account", "save": "Save"},
}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_rep_creates_account_and_colleague_cannot_open_it(org, live_server, page, screenshot, language):
    name = "北京" + ("晨光" if language == "en" else "曙光") + "测试科技有限公司"
    login(page, live_server, "rep1", "pw-rep1", language)
    screenshot(f"{language}-home")

    page.goto(f"{live_server.url}/accounts/new/")
    page.fill("input[name=name]", name)
    page.fill("input[name=credit_code]", "91350100M000100Y43")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/accounts/\d+/$"))
    account_url = page.url
    assert page.locator("h1").inner_text().strip().startswith(name)
    screenshot(f"{language}-account-detail")

    page.goto(f"{live_server.url}/accounts/")
    assert page.get_by_role("link", name=name).count() == 1
    screenshot(f"{language}-account-list")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/accounts/")
    screenshot(f"{language}-account-list-phone")

    page.context.clear_cookies()
    login(page, live_server, "rep2", "pw-rep2", language)
    response = page.goto(account_url)
    assert response is not None and response.status == 404
