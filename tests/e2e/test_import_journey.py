"""Browser journey: a manager imports accounts from a GBK CSV, sees the dry-run report with the bad
row, commits the valid rows, watches the job finish and finds the accounts in the list."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e

CSV = (
    "客户名称,统一社会信用代码,行业,城市\n"
    "北京导入甲科技有限公司,91350100M000100Y43,制造业,北京市\n"
    "北京导入乙科技有限公司,91350100M000100Y44,制造业,北京市\n"
    ",,,上海市\n"
).encode("gbk")


def test_manager_imports_accounts_from_a_gbk_csv(org, live_server, page, screenshot, tmp_path):
    upload = tmp_path / "客户.csv"
    upload.write_bytes(CSV)
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "pw-manager")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/$"))

    page.goto(f"{live_server.url}/imports/new/account/")
    page.set_input_files("input[name=file]", str(upload))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/imports/\d+/$"))
    page.locator("main form button[type=submit]").first.click()  # validate (dry run)
    page.wait_for_load_state()
    report = page.locator("main").inner_text()
    screenshot("import-report")

    assert "校验位应为“3”" in report  # row 2's credit code has a wrong check character
    page.locator("form:has(input[value=commit]) button[type=submit]").click()
    page.wait_for_load_state()
    page.locator("#job-progress .badge-success").wait_for(timeout=15000)
    screenshot("import-done")

    page.goto(f"{live_server.url}/accounts/?q=导入甲")
    assert page.get_by_role("link", name="北京导入甲科技有限公司").count() == 1
    page.goto(f"{live_server.url}/accounts/?q=导入乙")
    assert page.get_by_role("link", name="北京导入乙科技有限公司").count() == 0
