"""Browser journey "a tender subscription to a lead", in zh-hans and en: a rep creates a subscription
in the form, a batch of notices arrives and is matched, the rep sees the unread count in the inbox,
opens the matched notice (which marks it read), converts it into a lead with one click and lands on
the lead, linked to the notice; a second click opens the same lead."""

from __future__ import annotations

import re

import pytest

from tests.e2e.journeys import login

pytestmark = pytest.mark.e2e

TEXTS = {
    "zh-hans": {"created": "已创建订阅“华南智慧校园”", "unread": "1 条未读", "matched": "命中你的订阅",
                "to_lead": "转为线索", "save": "保存", "lead_created": "已从招投标公告创建线索。",
                "lead_again": "这条公告已有线索，已为你打开。"},
    "en": {"created": "Subscription “华南智慧校园” created", "unread": "1 unread",
           "matched": "Matches your subscriptions", "to_lead": "Convert to lead", "save": "Save",
           "lead_created": "Lead created from the tender notice.",
           "lead_again": "This notice already has a lead; here it is."},
}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_subscription_to_a_matched_notice_in_the_browser(org, live_server, page, screenshot, language):
    from l2c.apps.leads.models import Lead
    from l2c.apps.tenders.models import TenderMatch, TenderNotice
    from l2c.apps.tenders.services import tender_batch_ingest, tender_notices_match

    texts = TEXTS[language]
    login(page, live_server, "rep1", "pw-rep1", language)
    page.goto(f"{live_server.url}/tenders/subscriptions/new/")
    page.fill("input[name=name]", "华南智慧校园")
    page.fill("textarea[name=keywords]", "智慧校园\n录播")
    page.fill("textarea[name=regions]", "广东")
    page.fill("input[name=budget_min]", "100000")
    page.get_by_role("button", name=texts["save"]).click()
    page.wait_for_url(re.compile(r".*/tenders/subscriptions/$"))
    assert texts["created"] in page.locator("main").inner_text()

    tender_batch_ingest(actor=org["marketing"], items=[
        {"source": "e2e", "source_notice_id": "E-1", "title": "深圳市第一中学智慧校园建设项目招标公告",
         "buyer_name": "深圳市第一中学", "province": "广东省", "city": "深圳市", "budget_amount": 350_000_00,
         "content": "采购内容：智慧校园平台、服务器。\n<b>不是标记</b>"},
        {"source": "e2e", "source_notice_id": "E-2", "title": "杭州市某中学智慧校园项目", "province": "浙江省",
         "budget_amount": 350_000_00},
    ])
    tender_notices_match()

    page.goto(f"{live_server.url}/tenders/inbox/")
    main = page.locator("main").inner_text()
    assert texts["unread"] in main and "杭州" not in main
    screenshot(f"{language}-tender-inbox")
    page.get_by_role("link", name="深圳市第一中学智慧校园建设项目招标公告").click()
    notice = TenderNotice.objects.get(source_notice_id="E-1")
    page.wait_for_url(re.compile(rf".*/tenders/notices/{notice.pk}/$"))
    main = page.locator("main").inner_text()
    assert texts["matched"] in main and "<b>不是标记</b>" in main
    button = page.get_by_role("button", name=texts["to_lead"])
    assert button.is_visible()
    assert page.locator(f"form[action='/leads/from-notice/{notice.pk}/']").count() == 1
    screenshot(f"{language}-tender-notice")
    assert TenderMatch.objects.get(notice=notice).read_at is not None

    button.click()
    page.wait_for_url(re.compile(r".*/leads/\d+/$"))
    main = page.locator("main").inner_text()
    assert texts["lead_created"] in main and "深圳市第一中学" in main
    lead = Lead.objects.get(tender_notice=notice)
    assert (lead.owner_id, lead.company, lead.source, lead.province) == (org["rep1"].pk, "深圳市第一中学", "tender",
                                                                          "广东省")
    screenshot(f"{language}-tender-lead")
    page.goto(f"{live_server.url}/tenders/notices/{notice.pk}/")
    page.get_by_role("button", name=texts["to_lead"]).click()
    page.wait_for_url(re.compile(rf".*/leads/{lead.pk}/$"))
    assert texts["lead_again"] in page.locator("main").inner_text()
    assert Lead.objects.filter(tender_notice=notice).count() == 1
