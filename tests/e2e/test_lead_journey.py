"""Browser journey of a lead in zh-hans and en, on a phone-sized and a desktop viewport: a rep
creates a lead, is warned about a person already held by another lead, marks it qualified and
converts it into a new account and contact."""

from __future__ import annotations

import re

import pytest

from tests.e2e.journeys import login

pytestmark = pytest.mark.e2e

TEXTS = {
    "zh-hans": {"created": "线索已创建。", "duplicate": "可能重复", "confirm": "我已核对，这不是重复记录，仍然保存",
                "qualify": "标记为“已确认”", "convert": "转化", "converted": "线索已转化为客户和联系人。"},
    "en": {"created": "Lead created.", "duplicate": "Possible duplicate",
           "confirm": "I have checked: this is not a duplicate, save it anyway",
           "qualify": "Mark as “Qualified”", "convert": "Convert",
           "converted": "Lead converted into an account and a contact."},
}


@pytest.mark.parametrize(("language", "viewport"), [("zh-hans", {"width": 1280, "height": 900}),
                                                    ("en", {"width": 390, "height": 844})])
def test_create_qualify_and_convert_a_lead(org, live_server, page, screenshot, language, viewport):
    from l2c.apps.customers.models import Account, Contact
    from l2c.apps.leads.models import Lead
    from l2c.apps.leads.services import lead_create

    lead_create(actor=org["rep2"], data={"name": "王芳", "mobile": "13700137000"})
    texts = TEXTS[language]
    page.set_viewport_size(viewport)
    login(page, live_server, "rep1", "pw-rep1", language)
    page.goto(f"{live_server.url}/leads/new/")
    page.fill("input[name=name]", "张伟")
    page.fill("input[name=company]", "杭州旅程信息技术有限公司")
    page.fill("input[name=mobile]", "137-0013-7000")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert texts["duplicate"] in page.locator("main").inner_text()
    screenshot(f"{language}-lead-duplicate")
    page.get_by_label(texts["confirm"]).check()
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/leads/\d+/$"))
    assert texts["created"] in page.locator("main").inner_text()
    lead = Lead.objects.get(name="张伟")

    page.get_by_role("button", name=texts["qualify"]).click()
    page.wait_for_url(re.compile(rf".*/leads/{lead.pk}/$"))
    page.locator("main").get_by_role("link", name=texts["convert"], exact=True).click()
    page.wait_for_url(re.compile(rf".*/leads/{lead.pk}/convert/$"))
    screenshot(f"{language}-lead-convert")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/accounts/\d+/$"))
    assert texts["converted"] in page.locator("main").inner_text()
    account = Account.objects.get(name="杭州旅程信息技术有限公司")
    assert Contact.objects.get(account=account).name == "张伟"
    lead.refresh_from_db()
    assert (lead.status, lead.converted_account_id) == ("converted", account.pk)
