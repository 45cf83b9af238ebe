"""Browser journey of duplicate control in zh-hans and en: a rep enters a company that exists
already, sees the candidate (and a count of one they may not see), confirms and saves; a credit
code that exists cannot be confirmed."""

from __future__ import annotations

import re

import pytest

from tests.conftest import make_account
from tests.e2e.journeys import login

pytestmark = pytest.mark.e2e

TEXTS = {
    "zh-hans": {"possible": "可能重复", "hidden": "另有 1 条匹配的记录属于你看不到的范围",
                "blocked": "存在重复记录，不能保存"},
    "en": {"possible": "Possible duplicate", "hidden": "1 more matching record is outside what you may see",
           "blocked": "Duplicate records exist: this cannot be saved"},
}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_rep_confirms_a_possible_duplicate_and_cannot_confirm_a_blocking_one(org, live_server, page, screenshot,
                                                                                language):
    existing = make_account(org["rep1"], "北京星河智能科技有限公司")
    make_account(org["rep3"], "杭州星河智能科技有限公司", credit_code="91110000600037341L")
    texts = TEXTS[language]
    login(page, live_server, "rep1", "pw-rep1", language)

    page.goto(f"{live_server.url}/accounts/new/")
    page.fill("input[name=name]", "星河智能科技（北京）有限公司")
    page.locator("form button[type=submit]").last.click()
    panel = page.locator("section.duplicates")
    panel.wait_for()
    screenshot(f"{language}-duplicate-warning")
    assert texts["possible"] in panel.inner_text()
    assert texts["hidden"] in panel.inner_text()
    assert panel.get_by_role("link", name="北京星河智能科技有限公司").get_attribute("href") == (
        f"/accounts/{existing.pk}/")

    page.check("input[name=confirm_duplicates]")
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url(re.compile(r".*/accounts/\d+/$"))
    assert page.locator("h1").inner_text().strip().startswith("星河智能科技（北京）有限公司")

    page.goto(f"{live_server.url}/accounts/new/")
    page.fill("input[name=name]", "远景物流")
    page.fill("input[name=credit_code]", "91110000600037341L")
    page.locator("form button[type=submit]").last.click()
    panel.wait_for()
    screenshot(f"{language}-duplicate-blocked")
    assert texts["blocked"] in panel.inner_text()
    assert page.locator("input[name=confirm_duplicates]").count() == 0
