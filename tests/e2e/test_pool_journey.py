"""Browser journey of the public pool in zh-hans and en: a manager ticks a pooled account and
assigns it; a rep claims another from the pool page, sees its deadline on the account page and
releases it with a reason."""

from __future__ import annotations

import re

import pytest

from tests.conftest import make_account
from tests.e2e.journeys import login

pytestmark = pytest.mark.e2e

TEXTS = {
    "zh-hans": {"assigned": "已把 1 个客户分配给“rep2”。", "claimed": "已领取客户“北京领取旅程有限公司”。",
                "left": "剩余 6 天", "released": "客户“北京领取旅程有限公司”已退回公海。", "release": "退回公海"},
    "en": {"assigned": "Assigned 1 account to “rep2”.", "claimed": "Claimed account “北京领取旅程有限公司”.",
           "left": "6 days left", "released": "Account “北京领取旅程有限公司” released to the pool.",
           "release": "Release to pool"},
}


def _pooled(org, pool, name):
    from l2c.apps.customers.pool import pool_release

    account = make_account(org["admin"], name)
    return pool_release(actor=org["admin"], account_id=account.pk, reason="旅程", pool_id=pool.pk)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_assign_claim_and_release_in_the_browser(org, live_server, page, screenshot, language):
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.pool import pool_save

    pool = pool_save(actor=org["admin"], data={"name": "华北公海", "member_department_ids": [org.north.pk],
                                                "reclaim_no_followup_days": 7})
    assigned = _pooled(org, pool, "北京分配旅程有限公司")
    claimed = _pooled(org, pool, "北京领取旅程有限公司")
    texts = TEXTS[language]

    login(page, live_server, "manager", "pw-manager", language)
    page.goto(f"{live_server.url}/pools/{pool.pk}/")
    page.check(f"input[name=ids][value='{assigned.pk}']")
    page.select_option("select[name=to_user_id]", str(org["rep2"].pk))
    page.locator("#assign-form button[data-bulk-action]").click()
    page.wait_for_load_state()
    assert texts["assigned"] in page.locator("main").inner_text()
    assert Account.objects.get(pk=assigned.pk).owner_id == org["rep2"].pk

    page.context.clear_cookies()
    login(page, live_server, "rep1", "pw-rep1", language)
    page.goto(f"{live_server.url}/pools/{pool.pk}/")
    screenshot(f"{language}-pool-browse")
    page.locator(f"form[action='/pools/{pool.pk}/claim/{claimed.pk}/'] button").click()
    page.wait_for_url(re.compile(rf".*/accounts/{claimed.pk}/$"))
    main = page.locator("main").inner_text()
    assert texts["claimed"] in main and texts["left"] in main
    screenshot(f"{language}-pool-held")

    page.get_by_text(texts["release"], exact=True).click()
    page.fill("input[name=reason]", "客户暂无预算")
    page.locator("form[action$='/release/'] button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/pools/$"))
    assert texts["released"] in page.locator("main").inner_text()
    assert Account.objects.get(pk=claimed.pk).owner_id is None
