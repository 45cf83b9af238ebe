"""The header navigation: menus (营销 / 客户 / 销售 / 工具 / 管理), who sees which, and which is active."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.test import Client

from l2c.web import context_processors
from l2c.web.context_processors import navigation


def _menus(user: Any, path: str = "/") -> dict[str, list[str]]:
    """{menu label ("" for the plain links): [item labels]} as the user sees them."""
    return {str(menu["label"] or ""): [str(item["label"]) for item in menu["items"]]
            for menu in navigation(user, path)}


def _active(user: Any, path: str) -> tuple[list[str], list[str]]:
    menus = navigation(user, path)
    return ([str(menu["label"] or "") for menu in menus if menu["active"]],
            [str(item["label"]) for menu in menus for item in menu["items"] if item["active"]])


def test_pages_are_grouped_into_a_few_menus_and_only_staff_get_admin(org: Any) -> None:
    assert _menus(org["rep1"]) == {
        "": ["我的工作台"],
        "营销": ["市场活动", "招投标", "线索", "线索池"],
        "客户": ["客户", "联系人", "公海", "风险预警"],
        "销售": ["商机", "销售预测", "销售漏斗"],
        "产品与价格": ["产品", "产品配置器", "配置规则", "价目表", "促销", "价格试算"],
        "工具": ["导入", "后台任务"],
    }
    admin = _menus(org["admin"])
    assert list(admin) == ["", "营销", "客户", "销售", "产品与价格", "工具", "管理"]
    assert admin["管理"] == ["权限说明", "RFM 设置", "分配规则", "线索评分设置", "销售流程", "商机健康度设置",
                             "毛利管控", "系统管理"]
    assert "管理" not in _menus(org["marketing"]) and "营销" in _menus(org["marketing"])
    # Marketing runs promotions but has no business with price books (nor the preview built on them).
    assert _menus(org["marketing"])["产品与价格"] == ["产品", "产品配置器", "配置规则", "促销"]
    # Finance may not view leads or tenders: 营销 keeps only what it may see.
    assert _menus(org["finance"])["营销"] == ["市场活动"]


def test_a_menu_with_nothing_visible_disappears(org: Any) -> None:
    from l2c.apps.identity.services import user_create

    nobody = user_create(username="nobody", password="pw-nobody", department_id=org.north.pk, role_codes=[])
    assert _menus(nobody) == {"": ["我的工作台"], "工具": ["导入", "后台任务"]}


def test_unresolved_pages_are_skipped(org: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    groups = [*context_processors.NAVIGATION, ("未建", [("未建页面", "nowhere:list", "/nowhere/", None)])]
    monkeypatch.setattr(context_processors, "NAVIGATION", groups)
    assert "未建" not in _menus(org["rep1"])


@pytest.mark.parametrize(("path", "menus", "items"), [
    ("/", [""], ["我的工作台"]),
    ("/accounts/12/edit/", ["客户"], ["客户"]),
    ("/opportunities/", ["销售"], ["商机"]),
    ("/opportunities/forecast/", ["销售"], ["销售预测"]),  # longest prefix wins, not 商机
    ("/opportunities/processes/", ["管理"], ["销售流程"]),
    ("/catalog/configurator/3/", ["产品与价格"], ["产品配置器"]),  # not 产品 (/catalog/)
    ("/pricing/margin-policy/", ["管理"], ["毛利管控"]),
    ("/search/", [], []),
])
def test_the_current_page_and_its_menu_are_active(org: Any, path: str, menus: list[str], items: list[str]) -> None:
    assert _active(org["admin"], path) == (menus, items)


def test_the_header_renders_menus_as_disclosures_with_the_current_page_marked(org: Any) -> None:
    client = Client()
    client.force_login(org["admin"])
    html = client.get("/opportunities/").content.decode()
    nav = html[html.index('<nav id="site-nav"'):html.index("</nav>")]
    summaries = re.findall(r"<summary id=\"nav-menu-\d\"[^>]*>([^<]*)</summary>", nav)
    assert summaries == ["营销", "客户", "销售", "产品与价格", "工具", "管理"]
    assert nav.count('aria-current="page"') == 1
    sales_menu = nav[nav.rindex("<details", 0, nav.index('<summary id="nav-menu-3"')):]
    sales = nav[nav.index('<summary id="nav-menu-3"'):]
    sales = sales[:sales.index("</details>")]
    assert 'class="active">销售</summary>' in sales and 'href="/opportunities/" aria-current="page"' in sales
    assert nav.count("data-nav-active") == 1
    assert '<details class="nav-menu" name="site-nav-menu" data-nav-menu data-nav-active>' in sales_menu
    assert re.search(r'<script src="/static/web/nav[.\w]*\.js" defer>', html)

    client.force_login(org["rep1"])
    rep = client.get("/").content.decode()
    assert ">管理</summary>" not in rep and "/admin-tools/why/" not in rep
    assert 'href="/" aria-current="page" class="active">我的工作台</a>' in rep


def test_menu_titles_are_translated(org: Any) -> None:
    client = Client()
    client.force_login(org["admin"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/").content.decode()
    assert [unescape(title) for title in re.findall(r"<summary id=\"nav-menu-\d\"[^>]*>([^<]*)</summary>", html)] == [
        "Marketing", "Customers", "Sales", "Products & pricing", "Tools", "Admin"]
