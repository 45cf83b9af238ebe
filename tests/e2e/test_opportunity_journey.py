"""Browser journey of a deal in zh-hans: a rep creates a deal, opens the kanban and drags the card to
the next stage; the gate refuses and the card lists what is missing in place. The rep ticks the
stage task and puts a contact into the decision chain on the deal page, drags again, and the card
lands in the next column."""

from __future__ import annotations

import re

import pytest

from tests.conftest import make_account, make_contact
from tests.e2e.journeys import login

pytestmark = pytest.mark.e2e


def test_create_a_deal_and_move_it_on_the_board_through_the_gate(org, live_server, page, screenshot):
    from l2c.apps.opportunities.models import Opportunity, SalesProcess

    account = make_account(org["rep1"], name="杭州云帆信息技术有限公司")
    make_contact(org["rep1"], account, name="王强", title="CIO")
    stages = {stage.name: stage for stage in SalesProcess.objects.get(code="project").stages.all()}
    page.set_viewport_size({"width": 1400, "height": 900})
    login(page, live_server, "rep1", "pw-rep1", "zh-hans")

    page.goto(f"{live_server.url}/opportunities/new/?account={account.pk}")
    page.fill("input[name=name]", "云帆 数据中心扩容")
    page.fill("input[name=amount]", "128000")
    page.fill("input[name=close_date]", "2026-12-31")
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(re.compile(r".*/opportunities/\d+/$"))
    assert "商机已创建。" in page.locator("main").inner_text()
    deal = Opportunity.objects.get(name="云帆 数据中心扩容")
    screenshot("zh-hans-opportunity-detail")

    page.goto(f"{live_server.url}/opportunities/board/")
    card = page.locator(f"#deal-card-{deal.pk}")
    first = page.locator(f"[data-board-column][data-stage-id='{stages['初步接洽'].pk}']")
    second = page.locator(f"[data-board-column][data-stage-id='{stages['需求确认'].pk}']")
    assert first.locator(f"#deal-card-{deal.pk}").count() == 1
    card.drag_to(second)
    refusal = page.locator(f"#deal-card-{deal.pk} [data-gate-refusal]")
    refusal.wait_for()
    text = refusal.inner_text()
    assert "完成阶段“初步接洽”的必做任务：确认客户需求与预算范围" in text
    assert "进入阶段“需求确认”前填写：决策链联系人" in text
    assert first.locator(f"#deal-card-{deal.pk}").count() == 1  # put back in its column
    screenshot("zh-hans-opportunity-board-refused")

    page.goto(f"{live_server.url}/opportunities/{deal.pk}/")
    task = page.get_by_label(re.compile("确认客户需求与预算范围"))
    with page.expect_response(re.compile(r".*/tasks/\d+/$")):
        task.check()
    assert deal.tasks_done.count() == 1
    page.select_option("#c-contact", label="王强 · CIO")
    page.select_option("#c-role", "decision_maker")
    page.select_option("#c-attitude", "supporter")
    page.get_by_role("button", name="保存到决策链").click()
    page.wait_for_url(re.compile(rf".*/opportunities/{deal.pk}/#chain$"))
    assert "决策链已保存。" in page.locator("main").inner_text()
    page.locator("[data-deal-chart='chain'][data-rendered='true']").wait_for()
    screenshot("zh-hans-opportunity-chain")

    page.goto(f"{live_server.url}/opportunities/board/")
    page.locator(f"#deal-card-{deal.pk}").drag_to(second)
    second.locator(f"#deal-card-{deal.pk}").wait_for()
    assert "已推进到阶段“需求确认”。" in second.locator(f"#deal-card-{deal.pk}").inner_text()
    assert second.locator("[data-column-count]").inner_text() == "1"
    assert first.locator("[data-column-count]").inner_text() == "0"
    screenshot("zh-hans-opportunity-board-moved")
    deal.refresh_from_db()
    assert deal.stage_id == stages["需求确认"].pk
