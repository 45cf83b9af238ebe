"""The opportunity pages: list, board (columns, "more", moves through the gate), detail with its
panels (tasks, decision chain, health, team), create/edit/delete, the admin editors — as each role
sees them, and escaped output."""

from __future__ import annotations

from typing import Any

import pytest

from l2c.apps.opportunities.models import Opportunity, SalesProcess, Stage, StageHistory, StageTask
from tests.conftest import Org, make_account, make_contact

pytestmark = pytest.mark.django_db
XSS_NAME = "<script>alert(1)</script>"
XSS_STEP = "<img src=x onerror=alert(1)>"


def _stage(name: str, code: str = "project") -> Stage:
    return SalesProcess.objects.get(code=code).stages.get(name=name)


def _client(client: Any, user: Any) -> Any:
    client.force_login(user)
    return client


@pytest.fixture
def deal(org: Org) -> Opportunity:
    from l2c.apps.opportunities.services import opportunity_create

    account = make_account(org["rep1"])
    return opportunity_create(actor=org["rep1"], data={"name": "星河 数据中心扩容", "account_id": account.pk,
                                                       "next_step": "约客户 CIO 做方案交流"})


def _board_move(client: Any, deal: Opportunity, stage: Stage, **extra: Any) -> Any:
    deal.refresh_from_db()
    return client.post(f"/opportunities/{deal.pk}/move/", {"stage_id": stage.pk, "version": deal.version, **extra},
                       HTTP_HX_REQUEST="true")


# --- every page for each role ------------------------------------------------------------------------------
@pytest.mark.parametrize("username", ["rep1", "manager", "admin"])
def test_the_deal_pages_render_for_the_owner_their_manager_and_the_admin(org: Org, client: Any, deal: Opportunity,
                                                                         username: str) -> None:
    client = _client(client, org[username])
    for url in ("/opportunities/", "/opportunities/board/", f"/opportunities/{deal.pk}/",
                f"/opportunities/{deal.pk}/edit/", "/opportunities/new/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "星河 数据中心扩容" in response.content.decode() or url == "/opportunities/new/"
    assert client.get(f"/opportunities/{deal.pk}/delete/").status_code == (200 if username != "rep1" else 403)


def test_a_user_who_may_not_see_the_deal_gets_404_and_a_role_without_deals_403(org: Org, client: Any,
                                                                              deal: Opportunity) -> None:
    client = _client(client, org["rep3"])  # another department
    assert "星河 数据中心扩容" not in client.get("/opportunities/").content.decode()
    for url in (f"/opportunities/{deal.pk}/", f"/opportunities/{deal.pk}/edit/", f"/opportunities/{deal.pk}/gate/"):
        assert client.get(url).status_code == 404, url
    assert _board_move(client, deal, _stage("需求确认")).status_code == 404
    assert client.post(f"/opportunities/{deal.pk}/chain/", {"op": "save"}).status_code == 404
    client = _client(client, org["finance"])  # sees every deal (view) but may not edit
    assert client.get(f"/opportunities/{deal.pk}/").status_code == 200
    assert client.get(f"/opportunities/{deal.pk}/edit/").status_code == 403
    for url in ("/opportunities/processes/", "/opportunities/health-settings/"):
        assert _client(client, org["manager"]).get(url).status_code == 403


def test_the_list_filters_by_stage_and_flag_and_counts_the_status_tabs(org: Org, client: Any,
                                                                      deal: Opportunity) -> None:
    client = _client(client, org["rep1"])
    html = client.get("/opportunities/", {"stage_id": _stage("初步接洽").pk}).content.decode()
    assert "星河 数据中心扩容" in html and "进行中 <span class=\"badge\">1</span>" in html
    html = client.get("/opportunities/", {"stage_id": _stage("方案报价").pk}).content.decode()
    assert "星河 数据中心扩容" not in html
    html = client.get("/opportunities/", {"flag": "no_decision_maker"}).content.decode()
    assert "星河 数据中心扩容" in html and "缺决策者" in html
    assert client.get("/opportunities/", {"close_from": "2026-99-01"}).status_code == 200  # warned, unfiltered


def test_bulk_transfer_moves_the_ticked_deals(org: Org, client: Any, deal: Opportunity) -> None:
    response = _client(client, org["manager"]).post("/opportunities/transfer/", {"ids": [deal.pk],
                                                                                 "to_user": org["rep2"].pk})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.owner == org["rep2"]


# --- the board ---------------------------------------------------------------------------------------
def test_the_board_shows_one_column_per_stage_with_count_and_amount_and_pages_with_more(org: Org,
                                                                                        client: Any) -> None:
    from l2c.apps.opportunities.services import opportunity_create

    account = make_account(org["rep1"])
    for number in range(23):
        opportunity_create(actor=org["rep1"], data={"name": f"商机{number:02d}", "account_id": account.pk,
                                                    "amount": "100"})
    client = _client(client, org["rep1"])
    html = client.get("/opportunities/board/").content.decode()
    first = _stage("初步接洽")
    assert html.count("data-board-column ") == 6
    assert 'data-column-count>23<' in html and 'data-amount="230000"' in html
    assert html.count("data-deal-card ") == 20
    assert f"/opportunities/board/{first.pk}/more/?cursor=" in html
    more = html.split(f"/opportunities/board/{first.pk}/more/?cursor=")[1].split('"')[0]
    rest = client.get(f"/opportunities/board/{first.pk}/more/?cursor={more}".replace("&amp;", "&"))
    assert rest.status_code == 200
    assert rest.content.decode().count("data-deal-card ") == 3 and "hx-get" not in rest.content.decode()
    other = SalesProcess.objects.get(code="quick")
    assert "data-deal-card " not in client.get("/opportunities/board/", {"process": other.pk}).content.decode()


def test_a_refused_board_move_returns_the_card_with_every_missing_item(org: Org, client: Any,
                                                                      deal: Opportunity) -> None:
    response = _board_move(_client(client, org["rep1"]), deal, _stage("需求确认"))
    assert response.status_code == 409
    html = response.content.decode()
    assert f'data-stage-id="{_stage("初步接洽").pk}"' in html
    for text in ("离开阶段“初步接洽”前填写：金额", "完成阶段“初步接洽”的必做任务：确认客户需求与预算范围",
                 "进入阶段“需求确认”前填写：决策链联系人"):
        assert text in html
    assert "override_reason" not in html  # a rep may not override
    deal.refresh_from_db()
    assert deal.stage == _stage("初步接洽")


def test_a_complete_board_move_succeeds_and_a_stale_version_is_refused(org: Org, client: Any,
                                                                      deal: Opportunity) -> None:
    from l2c.apps.opportunities.chain import chain_member_save
    from l2c.apps.opportunities.services import opportunity_update, task_set

    opportunity_update(actor=org["rep1"], opportunity_id=deal.pk, data={"amount": "120000"})
    task_set(actor=org["rep1"], opportunity_id=deal.pk, task_id=StageTask.objects.get(
        stage=_stage("初步接洽")).pk, done=True)
    contact = make_contact(org["rep1"], deal.account)
    chain_member_save(actor=org["rep1"], opportunity_id=deal.pk, data={"contact_id": contact.pk, "role": "user"})
    client = _client(client, org["rep1"])
    stale = client.post(f"/opportunities/{deal.pk}/move/", {"stage_id": _stage("需求确认").pk, "version": 1},
                        HTTP_HX_REQUEST="true")
    assert stale.status_code == 412 and "已被他人修改" in stale.content.decode()
    response = _board_move(client, deal, _stage("需求确认"))
    assert response.status_code == 200
    assert f'data-stage-id="{_stage("需求确认").pk}"' in response.content.decode()
    deal.refresh_from_db()
    assert deal.stage == _stage("需求确认")


def test_the_manager_overrides_a_refused_move_from_the_card(org: Org, client: Any, deal: Opportunity) -> None:
    client = _client(client, org["manager"])
    refused = _board_move(client, deal, _stage("方案报价"))
    assert refused.status_code == 409 and 'name="override_reason"' in refused.content.decode()
    response = _board_move(client, deal, _stage("方案报价"), override_reason="客户已口头确认")
    assert response.status_code == 200
    row = StageHistory.objects.get(opportunity=deal, exited_at__isnull=True)
    assert (row.stage, row.override_reason, row.moved_by) == (_stage("方案报价"), "客户已口头确认", org["manager"])


def test_moving_to_lost_asks_for_the_reason_and_competitor_then_closes(org: Org, client: Any,
                                                                      deal: Opportunity) -> None:
    client = _client(client, org["rep1"])
    refused = _board_move(client, deal, _stage("输单"))
    html = refused.content.decode()
    assert refused.status_code == 409 and 'name="lost_reason"' in html and 'name="lost_to"' in html
    from l2c.apps.opportunities.models import Competitor

    Competitor.objects.create(name="360")  # a name of digits is a name, not an id
    assert _board_move(client, deal, _stage("输单"), lost_reason="price", lost_to=" 360 ").status_code == 200
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason, deal.lost_to.name) == ("lost", "price", "360")


def test_a_plain_form_move_redirects_with_the_missing_items_as_a_message(org: Org, client: Any,
                                                                        deal: Opportunity) -> None:
    client = _client(client, org["rep1"])
    response = client.post(f"/opportunities/{deal.pk}/move/", {"stage_id": _stage("需求确认").pk,
                                                               "version": deal.version}, follow=True)
    assert "推进到阶段“需求确认”还缺 3 项" in response.content.decode()


# --- the detail page's panels -------------------------------------------------------------------------
def test_the_task_checkbox_checks_and_unchecks_a_task(org: Org, client: Any, deal: Opportunity) -> None:
    task = StageTask.objects.get(stage=_stage("初步接洽"))
    client = _client(client, org["rep1"])
    response = client.post(f"/opportunities/{deal.pk}/tasks/{task.pk}/", {"done": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'id="path"' in response.content.decode()
    assert deal.tasks_done.filter(task=task).exists()
    client.post(f"/opportunities/{deal.pk}/tasks/{task.pk}/", {})
    assert not deal.tasks_done.exists()


def test_the_gate_preview_lists_what_a_move_misses(org: Org, client: Any, deal: Opportunity) -> None:
    html = _client(client, org["rep1"]).get(f"/opportunities/{deal.pk}/gate/",
                                            {"stage_id": _stage("需求确认").pk}).content.decode()
    assert "离开阶段“初步接洽”前填写：金额" in html


def test_the_chain_takes_a_contact_of_the_account_and_draws_it(org: Org, client: Any, deal: Opportunity) -> None:
    contact = make_contact(org["rep1"], deal.account, name="王强", title="CIO")
    client = _client(client, org["rep1"])
    detail = client.get(f"/opportunities/{deal.pk}/").content.decode()
    assert f'<option value="{contact.pk}">王强 · CIO</option>' in detail
    response = client.post(f"/opportunities/{deal.pk}/chain/", {
        "op": "save", "contact_id": contact.pk, "role": "decision_maker", "attitude": "supporter",
        "influence": "high"})
    assert response.status_code == 302
    entry = deal.chain.get()
    assert (entry.contact, entry.role, entry.attitude) == (contact, "decision_maker", "supporter")
    html = client.get(f"/opportunities/{deal.pk}/").content.decode()
    assert 'id="chain-chart-data"' in html and '"color": "#16a34a"' in html
    assert 'data-gap="no_champion"' in html and 'data-gap="no_decision_maker"' not in html
    editing = client.get(f"/opportunities/{deal.pk}/", {"chain_entry": entry.pk}).content.decode()
    form = editing.split('id="chain-form"')[1]
    assert "修改决策链成员：王强" in form and '<option value="supporter" selected>' in form
    assert '<option value="decision_maker" selected>' in form and '<option value="high" selected>' in form
    client.post(f"/opportunities/{deal.pk}/chain/", {"op": "remove", "entry_id": entry.pk})
    assert not deal.chain.exists()


def test_the_health_answer_form_saves_and_the_index_moves(org: Org, client: Any, deal: Opportunity) -> None:
    from l2c.apps.opportunities.models import HealthAnswer

    deal.refresh_from_db()
    before = deal.health_index
    client = _client(client, org["rep1"])
    response = client.post(f"/opportunities/{deal.pk}/health/need/", {"level": "4", "evidence": "客户发了需求书"})
    assert response.status_code == 302
    answer = HealthAnswer.objects.get(opportunity=deal, dimension="need")
    assert (answer.level, answer.evidence) == (4, "客户发了需求书")
    deal.refresh_from_db()
    assert deal.health_index == before + 15  # need weighs 15 of 100: 100 points × 15 %
    html = client.get(f"/opportunities/{deal.pk}/").content.decode()
    assert 'id="health-chart-data"' in html and "客户发了需求书" in html
    client.post(f"/opportunities/{deal.pk}/health/need/", {"level": "9"})
    assert HealthAnswer.objects.get(opportunity=deal, dimension="need").level == 4


def test_team_members_are_added_and_removed(org: Org, client: Any, deal: Opportunity) -> None:
    client = _client(client, org["rep1"])
    client.post(f"/opportunities/{deal.pk}/team/", {"op": "add", "user_id": org["presales"].pk,
                                                    "role": "presales", "access": "edit"})
    assert deal.team.get().user == org["presales"]
    assert _client(client, org["presales"]).get(f"/opportunities/{deal.pk}/").status_code == 200
    _client(client, org["rep1"]).post(f"/opportunities/{deal.pk}/team/", {"op": "remove",
                                                                         "user_id": org["presales"].pk})
    assert not deal.team.exists()


# --- create, edit, delete ---------------------------------------------------------------------------------
def test_create_with_an_account_preset_and_every_field_error_shown(org: Org, client: Any) -> None:
    account = make_account(org["rep1"])
    client = _client(client, org["rep1"])
    form = client.get("/opportunities/new/", {"account": account.pk}).content.decode()
    assert f'<option value="{account.pk}" selected>' in form
    process = SalesProcess.objects.get(code="project")
    response = client.post("/opportunities/new/", {"name": "", "account": account.pk, "process": process.pk,
                                                   "amount": "12.345", "currency": "CNY"})
    assert response.status_code == 200
    assert Opportunity.objects.count() == 0
    html = response.content.decode()
    assert "这个字段是必填项。" in html and "金额最多 2 位小数（CNY）" in html
    response = client.post("/opportunities/new/", {
        "name": "星河 二期", "account": account.pk, "process": process.pk, "amount": "128,000.50", "currency": "CNY",
        "close_date": "2026-12-31", "competitors": "华为，浪潮", "next_step": "演示"})
    assert response.status_code == 302
    created = Opportunity.objects.get()
    assert (created.amount, str(created.close_date), created.stage.name) == (12800050, "2026-12-31", "初步接洽")
    assert sorted(created.competitors.values_list("name", flat=True)) == ["华为", "浪潮"]


def test_edit_keeps_the_version_and_delete_asks_first(org: Org, client: Any, deal: Opportunity) -> None:
    client = _client(client, org["manager"])
    response = client.post(f"/opportunities/{deal.pk}/edit/", {
        "name": "星河 扩容（改）", "account": deal.account_id, "amount": "5000", "currency": "CNY",
        "version": deal.version})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.name, deal.amount, deal.version) == ("星河 扩容（改）", 500000, 2)
    stale = client.post(f"/opportunities/{deal.pk}/edit/", {"name": "x", "account": deal.account_id, "version": 1})
    assert "该记录已被他人修改" in stale.content.decode()
    assert "确认删除" in client.get(f"/opportunities/{deal.pk}/delete/").content.decode()
    client.post(f"/opportunities/{deal.pk}/delete/", {"version": deal.version})
    assert not Opportunity.objects.filter(pk=deal.pk).exists()


def test_names_and_next_steps_never_render_as_markup(org: Org, client: Any) -> None:
    from l2c.apps.opportunities.services import opportunity_create

    account = make_account(org["rep1"])
    deal = opportunity_create(actor=org["rep1"], data={"name": XSS_NAME, "account_id": account.pk,
                                                       "next_step": XSS_STEP, "competitors": [XSS_STEP]})
    client = _client(client, org["rep1"])
    pages = [client.get(url).content.decode() for url in (
        "/opportunities/", "/opportunities/board/", f"/opportunities/{deal.pk}/", f"/opportunities/{deal.pk}/edit/")]
    pages.append(_board_move(client, deal, _stage("需求确认")).content.decode())
    for html in pages:
        assert XSS_NAME not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[2]


# --- admin pages ---------------------------------------------------------------------------------
def _process_post(process: SalesProcess, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": process.name, "code": process.code, "is_active": "1", "is_default": "1",
                            "version": process.version, "op": "save"}
    stages = list(process.stages.order_by("position"))
    data["stage_count"] = len(stages)
    for index, stage in enumerate(stages):
        prefix = f"stages-{index}-"
        tasks = list(stage.tasks.all())
        data.update({prefix + "id": stage.pk, prefix + "name": stage.name, prefix + "kind": stage.kind,
                     prefix + "probability": stage.probability, prefix + "forecast_category": stage.forecast_category,
                     prefix + "norm_days": stage.norm_days or "", prefix + "entry_fields": stage.entry_fields,
                     prefix + "exit_fields": stage.exit_fields, prefix + "task_count": len(tasks)})
        for number, task in enumerate(tasks):
            data.update({f"{prefix}tasks-{number}-id": task.pk, f"{prefix}tasks-{number}-title": task.title,
                         f"{prefix}tasks-{number}-required": "1" if task.required else ""})
    data.update(changes)
    return data


def test_the_process_editor_saves_and_shows_each_error_next_to_its_row(org: Org, client: Any) -> None:
    process = SalesProcess.objects.get(code="project")
    client = _client(client, org["admin"])
    assert "项目型销售" in client.get("/opportunities/processes/").content.decode()
    page = client.get(f"/opportunities/processes/{process.pk}/").content.decode()
    assert 'name="stages-0-exit_fields" value="amount" checked' in page
    response = client.post(f"/opportunities/processes/{process.pk}/", _process_post(
        process, **{"stages-1-probability": "150", "stages-2-name": "", "stages-0-tasks-0-title": ""}))
    assert response.status_code == 422
    html = response.content.decode()
    row_1 = html.split('data-stage-row="1"')[1].split('data-stage-row="2"')[0]
    row_2 = html.split('data-stage-row="2"')[1].split('data-stage-row="3"')[0]
    assert "赢率必须是 0 到 100 的整数。" in row_1 and "阶段名称必填，最多 60 个字。" in row_2
    assert "任务名称必填，最多 200 个字。" in html.split('data-stage-row="0"')[1].split('data-stage-row="1"')[0]
    assert _stage("需求确认").probability == 25  # nothing saved
    response = client.post(f"/opportunities/processes/{process.pk}/", _process_post(
        process, **{"stages-1-probability": "30", "stages-1-norm_days": "10"}))
    assert response.status_code == 302
    assert (_stage("需求确认").probability, _stage("需求确认").norm_days) == (30, 10)


def test_the_process_editor_row_buttons_reorder_without_saving(org: Org, client: Any) -> None:
    process = SalesProcess.objects.get(code="quick")
    client = _client(client, org["admin"])
    url = f"/opportunities/processes/{process.pk}/"
    html = client.post(url, _process_post(process, op="down:0")).content.decode()
    assert html.index('value="报价"') < html.index('value="意向确认"')
    html = client.post(url, _process_post(process, op="add_stage")).content.decode()
    assert 'name="stage_count" value="6"' in html
    assert process.stages.order_by("position").values_list("name", flat=True).first() == "意向确认"


def test_the_health_settings_page_saves_weights_and_shows_errors(org: Org, client: Any) -> None:
    from l2c.apps.opportunities.health import health_settings

    client = _client(client, org["admin"])
    assert client.get("/opportunities/health-settings/").status_code == 200
    weights = {f"weight_{name}": "10" for name in ("need", "budget", "decision_chain", "competition", "value",
                                                   "relationship", "timing", "solution_fit", "commercial_terms")}
    bad = client.post("/opportunities/health-settings/", {**weights, "weight_need": "120", "no_activity_days": "0"})
    assert bad.status_code == 422
    html = bad.content.decode()
    assert "权重必须是 0 到 100 的整数。" in html and "无跟进天数必须是 1 到 365 的整数。" in html
    assert client.post("/opportunities/health-settings/", {**weights, "no_activity_days": "21"}).status_code == 302
    assert health_settings().no_activity_days == 21 and health_settings().weights["need"] == 10


def test_navigation_shows_deals_and_the_admin_entries(org: Org, client: Any) -> None:
    html = _client(client, org["admin"]).get("/opportunities/").content.decode()
    assert 'href="/opportunities/" aria-current="page"' in html
    assert 'href="/opportunities/processes/"' in html and 'href="/opportunities/health-settings/"' in html
    html = _client(client, org["rep1"]).get("/").content.decode()
    assert 'href="/opportunities/"' in html and 'href="/opportunities/processes/"' not in html


# --- export and import (opportunities.importers, registered from apps.ready) ----------------------------
def test_the_list_links_export_and_import_and_the_spec_serves_visible_deals(
        org: Org, client: Any, deal: Opportunity, django_capture_on_commit_callbacks: Any) -> None:
    from l2c.apps.activity import imports
    from l2c.apps.activity.exports import export_prepare

    listing = _client(client, org["rep1"]).get("/opportunities/").content.decode()
    assert "object_type=opportunity&amp;format=csv" in listing
    assert "/imports/new/opportunity/" not in listing  # reps may not import
    assert "opportunity" in _client(client, org["manager"]).get("/opportunities/").content.decode()
    export = export_prepare(user=org["rep1"], object_type="opportunity", fmt="csv", params={})
    assert export.headers[:3] == ["编号", "商机名称", "客户"]
    assert [row[1] for row in export.rows] == ["星河 数据中心扩容"]
    assert list(export_prepare(user=org["rep3"], object_type="opportunity", fmt="csv", params={}).rows) == []
    content = ("商机名称,客户,金额（元）,销售流程,竞争对手\n"
               f"星河 三期,{deal.account_id},5000.5,quick,华为;浪潮\n,{deal.account_id},x,nope,\n").encode()
    job = imports.import_upload(actor=org["manager"], object_type="opportunity", file_name="deals.csv",
                                content=content)
    job = imports.import_validate(actor=org["manager"], import_id=job.pk)
    assert (job.total_rows, job.valid_rows) == (2, 1)
    assert sorted(error["field"] for error in job.errors) == ["amount", "name", "process"]
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_commit(actor=org["manager"], import_id=job.pk)
    created = Opportunity.objects.get(name="星河 三期")
    assert (created.amount, created.process.code, created.source, created.owner) == (
        500050, "quick", "import", org["manager"])
    assert sorted(created.competitors.values_list("name", flat=True)) == ["华为", "浪潮"]


def test_the_account_deals_panel_lists_visible_deals_with_a_create_link(org: Org, client: Any,
                                                                        deal: Opportunity) -> None:
    html = _client(client, org["rep1"]).get(f"/opportunities/accounts/{deal.account_id}/").content.decode()
    assert "星河 数据中心扩容" in html and f"/opportunities/new/?account={deal.account_id}" in html
    assert _client(client, org["rep3"]).get(f"/opportunities/accounts/{deal.account_id}/").status_code == 404


def test_the_board_and_the_list_cost_the_same_queries_for_few_or_many_deals(org: Org, client: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from l2c.apps.opportunities.services import opportunity_create

    account = make_account(org["rep1"])
    client = _client(client, org["rep1"])
    counts: dict[str, list[int]] = {"/opportunities/board/": [], "/opportunities/": []}
    for batch in (3, 30):
        for number in range(batch):
            opportunity_create(actor=org["rep1"], data={"name": f"商机{batch}-{number}", "account_id": account.pk})
        for url, seen in counts.items():
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            seen.append(len(queries.captured_queries))
    assert counts["/opportunities/board/"][0] == counts["/opportunities/board/"][1] <= 16  # 6 columns
    assert counts["/opportunities/"][0] == counts["/opportunities/"][1] <= 12


def test_a_new_process_starts_with_an_open_and_the_two_closing_stages(org: Org, client: Any) -> None:
    client = _client(client, org["admin"])
    html = client.get("/opportunities/processes/new/").content.decode()
    assert 'name="stage_count" value="3"' in html and 'value="赢单"' in html and 'value="输单"' in html
    data = {"name": "渠道销售", "code": "channel", "is_active": "1", "op": "save", "stage_count": "3",
            "stages-0-name": "报备", "stages-0-kind": "open", "stages-0-probability": "20",
            "stages-0-forecast_category": "pipeline", "stages-0-exit_fields": ["amount"], "stages-0-task_count": "1",
            "stages-0-tasks-0-title": "渠道报备审批", "stages-0-tasks-0-required": "1",
            "stages-1-name": "赢单", "stages-1-kind": "won", "stages-1-probability": "100",
            "stages-1-forecast_category": "closed", "stages-2-name": "输单", "stages-2-kind": "lost",
            "stages-2-probability": "0", "stages-2-forecast_category": "omitted"}
    response = client.post("/opportunities/processes/new/", data)
    assert response.status_code == 302
    process = SalesProcess.objects.get(code="channel")
    assert list(process.stages.order_by("position").values_list("name", "kind")) == [
        ("报备", "open"), ("赢单", "won"), ("输单", "lost")]
    assert process.stages.get(name="报备").tasks.get().title == "渠道报备审批"
    assert process.stages.get(name="报备").exit_fields == ["amount"]


def test_a_read_only_user_cannot_tick_a_task(org: Org, client: Any, deal: Opportunity) -> None:
    task = StageTask.objects.get(stage=_stage("初步接洽"))
    response = _client(client, org["finance"]).post(f"/opportunities/{deal.pk}/tasks/{task.pk}/", {"done": "1"},
                                                    HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'type="checkbox"' not in response.content.decode()
    assert not deal.tasks_done.exists()


def test_the_timeline_names_stages_and_processes_but_not_accounts(org: Org, client: Any, deal: Opportunity) -> None:
    from l2c.apps.opportunities.services import opportunity_move

    target = deal.process.stages.get(name="商务谈判")
    opportunity_move(actor=org["admin"], opportunity_id=deal.pk, stage_id=target.pk, override_reason="补录")
    html = _client(client, org["rep1"]).get(f"/opportunities/{deal.pk}/").content.decode()
    assert "<del>初步接洽</del>" in html and "<ins>商务谈判</ins>" in html
    assert "<ins>项目型销售</ins>" in html  # the creation entry names the process
    assert f"<ins>{deal.account_id}</ins>" in html  # a business record stays an id
