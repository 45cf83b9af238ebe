"""Browser journeys of CPQ (issue 6, zh-hans unless stated).

1. A sales manager finds the configurable server in the catalogue, sees its BOM tree, opens the guided
   configurator, picks a CPU and memory modules, sees the auto-added power modules, an option disabled
   with its reason, the running cost and the live price from the pricing engine.
2. A sales rep prices a cart for a key account on /pricing/preview/: the contracted book, a promotion step,
   a 满减 rejected with why, and the approval a manual discount below the floor needs — on a desktop, on a
   phone (390×844) and in English.
3. A marketing user simulates a cart in the editor of the 满减 promotion and sees the discount.

Data: the configurable server of tests/apps/catalog/test_config_data.py (SRV-X with CHASSIS-1, CPU-A/B,
MEM-16/32, GPU-1, PSU-1200W; rules incl. "1 PMOD-1 per 2 memory modules" and "CPU-A excludes MEM-32"),
plus price books and promotions made here with the ORM. Every product is goods at 13 % VAT; prices are
tax-inclusive, so net = total / 1.13.

Base book 标准价 (base-cny): SRV-X 11300.00, CPU-A 1130.00, CPU-B 2260.00, MEM-16 339.00, MEM-32 565.00,
PMOD-1 113.00. Contract book 重点客户合同价 (key-contract, customer group level:key, priority 10):
SRV-X 10170.00 with floor 9600.00. Promotions: 内存九折 (mem-10, percent_off 10 % on MEM-16) and
满两万减一千 (spend-20k, spend_save threshold 20000, amount 1000).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest

from tests.apps.catalog import test_config_data as config_data
from tests.conftest import make_account
from tests.e2e.journeys import login

pytestmark = pytest.mark.e2e

server = config_data.server  # the configurable server and its rules (fixture)
_fresh_configurator_cache = config_data._fresh_configurator_cache

BASE_PRICES = {"SRV-X": "11300.00", "CPU-A": "1130.00", "CPU-B": "2260.00", "MEM-16": "339.00", "MEM-32": "565.00",
               "PMOD-1": "113.00"}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 900}


@pytest.fixture
def cpq(org: Any, server: config_data.Server) -> Any:
    """Price books, the margin policy, two promotions and a key account of rep1 on top of the server. The
    compiled pricing rules are cached per rules version: cleared before and after, as the next test's
    database may reach the same version number with other data."""
    from django.db import transaction

    from l2c.apps.catalog.models import Sku
    from l2c.apps.catalog.services import rules_version_bump
    from l2c.apps.pricing.compiler import cache_clear
    from l2c.apps.pricing.models import MarginPolicy, PriceBook, PriceBookEntry, Promotion

    cache_clear()
    skus = {sku.code: sku for sku in Sku.objects.all()}
    account = make_account(org["rep1"], name="深圳鹏程数据科技有限公司", level="key", province="广东", city="深圳")
    with transaction.atomic():
        base = PriceBook.objects.create(code="base-cny", name="标准价", currency="CNY", is_base=True, status="active")
        contract = PriceBook.objects.create(code="key-contract", name="重点客户合同价", currency="CNY", priority=10,
                                            status="active", scope_groups=["level:key"])
        for code, price in BASE_PRICES.items():
            PriceBookEntry.objects.create(book=base, sku=skus[code], unit_price=Decimal(price))
        PriceBookEntry.objects.create(book=contract, sku=skus["SRV-X"], unit_price=Decimal("10170.00"),
                                      floor_price=Decimal("9600.00"))
        MarginPolicy.objects.update_or_create(pk=1, defaults={"below_cost": "block", "below_floor": "approval",
                                                              "below_floor_level": 1})
        memory = Promotion.objects.create(code="mem-10", name="内存九折", kind="percent_off", params={"percent": "10"},
                                          eligible_skus=["MEM-16"], status="active")
        spend = Promotion.objects.create(code="spend-20k", name="满两万减一千", kind="spend_save",
                                         params={"threshold": "20000", "amount": "1000", "repeat": False},
                                         status="active")
        rules_version_bump()
    yield {"account": account, "contract": contract, "memory": memory, "spend": spend}
    cache_clear()


def _swapped(page: Any, action: Any) -> None:
    """Run `action` on the configurator and wait until htmx has replaced its form with the server's answer."""
    page.evaluate("() => { document.getElementById('configurator-form').dataset.stale = '1'; }")
    action()
    page.locator("#configurator-form:not([data-stale])").wait_for()
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")


# --- 1. the sales manager configures the server -----------------------------------------------------------


def _live_figures(page: Any) -> dict[str, str]:
    """The live price box's figures once the pricing preview has answered."""
    live = page.locator("#live-price")
    live.locator("dl.config-figures").wait_for()
    return dict(zip(live.locator("dt").all_inner_texts(), live.locator("dd").all_inner_texts(), strict=True))


def _next_step(page: Any) -> None:
    _swapped(page, lambda: page.locator(
        "section.config-step:not([hidden]) button[value=next]").click())


def _choose_cpu_a_and_four_modules(page: Any) -> None:
    """On the configurator: voltage 220 V, next; CPU-A, next; MEM-16 × 4 — every change posted through htmx."""
    _swapped(page, lambda: page.select_option("#cfg-attr-voltage", "220"))
    _next_step(page)
    cpu_step = page.locator("section.config-step:not([hidden])")
    assert cpu_step.locator("h2").inner_text() == "处理器"
    _swapped(page, lambda: cpu_step.locator("input[type=radio][value='CPU-A']").check())
    _next_step(page)
    memory_step = page.locator("section.config-step:not([hidden])")
    assert memory_step.locator("h2").inner_text() == "内存"
    _swapped(page, lambda: memory_step.locator(
        "input[type=checkbox][value='MEM-16']").check())
    _swapped(page, lambda: page.locator("#qty-MEM-16").fill("4") or page.locator("#qty-MEM-16").press("Tab"))
    assert page.locator("#qty-MEM-16").input_value() == "4"


def test_a_manager_configures_the_server_and_sees_rules_and_cost(org, cpq, server, live_server, page, screenshot):
    page.set_viewport_size(DESKTOP)
    login(page, live_server, "manager", "pw-manager", "zh-hans")

    page.goto(f"{live_server.url}/catalog/")
    page.fill("#f-q", "SRV")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/catalog/\?.*q=SRV.*"))
    row = page.locator("table.data tbody tr", has_text="机架服务器")
    assert row.count() == 1
    screenshot("zh-hans-cpq-catalog-list")
    row.get_by_role("link", name="SRV", exact=True).click()
    page.wait_for_url(re.compile(rf".*/catalog/products/{server.product.pk}/$"))

    bom = page.locator("#bom")
    assert [code.strip() for code in bom.locator("tbody > tr > td:first-child > a").all_inner_texts()] == [
        "CHASSIS-1", "CPU-A", "CPU-B", "MEM-16", "MEM-32", "GPU-1", "PSU-1200W"]
    # the default configuration's components: chassis 200 + the first CPU of the required group, CPU-A 300
    # (memory is an optional group); shown with the four decimals of the stored cost
    assert bom.locator(".card-header .bom-cost").inner_text() == "¥500.00"
    screenshot("zh-hans-cpq-product-bom")

    page.get_by_role("link", name="在配置器中打开").click()
    page.wait_for_url(re.compile(rf".*/catalog/configurator/{server.product.pk}/$"))
    assert page.locator("h1").first.inner_text() == "配置 机架服务器"
    # on load the live price prices the default lines (SRV-X with its chassis included): base book 11300.00,
    # net 11300 / 1.13 = 10000.00, cost 1200 → margin (10000 − 1200) / 10000 = 88.00 %
    assert _live_figures(page) == {"含税合计": "11300.00", "不含税金额": "10000.00", "优惠": "0.00", "毛利率": "88.00%"}

    _choose_cpu_a_and_four_modules(page)
    memory_step = page.locator("section.config-step:not([hidden])")
    mem32 = memory_step.locator("li.config-option", has_text="MEM-32")
    assert mem32.locator("input[type=checkbox]").is_disabled()
    assert mem32.locator(".config-reasons").inner_text() == "不可选：CPU-A 不能与 MEM-32 同时选择。 [cpua-no-mem32]"
    # 4 modules → 2 power modules (1 per 2), added automatically
    assert page.locator(".config-auto").inner_text() == "PMOD-1 电源模块 × 2 [psu-per-2-mem]"
    # running cost: the server unit with its included chassis 1000 + 200 = 1200; every line of one server:
    # 1200 + CPU-A 300 + 4 × MEM-16 50 + 2 × PMOD-1 30 = 1760
    assert page.locator("[data-unit-cost]").inner_text() == "1200"
    assert page.locator("[data-total-cost]").inner_text() == "1760"
    assert page.locator(".config-valid").inner_text() == "配置有效。"
    screenshot("zh-hans-cpq-configurator")

    _swapped(page, lambda: page.locator("nav.config-steps button[value='goto:4']").click())
    summary = page.locator("table.config-quote-lines tbody tr")
    assert [row.split("\t") for row in summary.all_inner_texts()] == [
        ["SRV-X", "服务器 X 型", "1", "1200", "主机"], ["CPU-A", "└ 处理器 A", "1", "300", "已选"],
        ["MEM-16", "└ 16G 内存", "4", "50", "已选"], ["PMOD-1", "└ 电源模块", "2", "30", "自动添加"]]
    assert page.locator("section.config-step:not([hidden]) .alert-success").inner_text() == "配置有效，可以报价。"
    screenshot("zh-hans-cpq-configurator-summary")


def test_the_live_price_follows_every_change(org, cpq, server, live_server, page):
    page.set_viewport_size(DESKTOP)
    login(page, live_server, "manager", "pw-manager", "zh-hans")
    page.goto(f"{live_server.url}/catalog/configurator/{server.product.pk}/")
    _live_figures(page)

    _choose_cpu_a_and_four_modules(page)

    # no customer → base book: 11300 + 1130 + 4 × 339 × 0.9 (内存九折) + 2 × 113 = 11300 + 1130 + 1220.40 + 226
    # = 13876.40; discount 4 × 339 × 10 % = 135.60; net 13876.40 / 1.13 = 12280.00; cost 1200 + 300 + 200 + 60
    # = 1760 → margin (12280 − 1760) / 12280 = 85.67 %
    page.locator("#live-price dl.config-figures").wait_for(timeout=5_000)
    assert _live_figures(page) == {
        "含税合计": "13876.40", "不含税金额": "12280.00", "优惠": "135.60", "毛利率": "85.67%"}


# --- 2. the sales rep prices a cart for a key account ------------------------------------------------------

# The cart: SRV-X × 1 with a 10 % manual discount, MEM-16 × 4, for a key account (customer group level:key).
# SRV-X: list 11300.00 → contract book 10170.00 (−1130.00) → manual −10 % (−1017.00) = 9153.00 < floor 9600.00
#        → level-1 approval; net 9153.00 / 1.13 = 8100.00, tax 1053.00; cost 1000 → margin 87.65 %.
# MEM-16: not in the contract book → base 4 × 339.00 = 1356.00 → 内存九折 −135.60 = 1220.40; net 1080.00,
#        tax 140.40; cost 4 × 50 = 200 → margin 81.48 %.
# 满两万减一千 measures what the line phase left, before manual discounts: 10170.00 + 1220.40 = 11390.40 < 20000.
# Totals: 9153.00 + 1220.40 = 10373.40; net 9180.00; tax 1193.40; discount 12656.00 − 10373.40 = 2282.60;
#        cost 1200.00 → margin (9180 − 1200) / 9180 = 86.93 %.
TOTALS = {"total_amount": "10373.40", "net_amount": "9180.00", "tax_amount": "1193.40", "discount_amount": "2282.60",
          "cost_amount": "1200.00", "margin_percent": "86.93%"}
TEXTS = {
    "zh-hans": {
        "title": "价格试算", "add": "添加一行", "run": "试算", "waterfall": "价格瀑布", "approvals": "需要审批",
        "total": "含税合计",
        "steps-1": [["目录价", "base-cny", "目录价 11300.00 × 1（价目表 base-cny）", "11300.00"],
                    ["价目表", "key-contract", "适用价目表“重点客户合同价”（key-contract）的价格", "-1130.00"],
                    ["手工折扣", "—", "手工折扣 10%", "-1017.00"]],
        "steps-2": [["目录价", "base-cny", "目录价 339.00 × 4（价目表 base-cny）", "1356.00"],
                    ["促销", "mem-10", "促销“内存九折”：单品优惠 10%", "-135.60"]],
        "applied": "已生效 内存九折 mem-10 · 单品折扣\n已生效，优惠 135.60",
        "rejected": "未生效 满两万减一千 spend-20k · 满减\n未达到促销门槛：需满 20000.00，当前可参与金额 11390.40。",
        "approval": ["L1 第 1 行（SRV-X）：单价 9153.00 低于价目表 key-contract 的底价 9600.00。需要 1 级审批。"],
    },
    "en": {
        "title": "Price preview", "add": "Add line", "run": "Calculate", "waterfall": "Price waterfall",
        "approvals": "Needs approval",
        "total": "Total incl. tax",
        "steps-1": [["List price", "base-cny", "List price 11300.00 × 1 (price book base-cny)", "11300.00"],
                    ["Price books", "key-contract",
                     "Price from the applicable price book “重点客户合同价” (key-contract)", "-1130.00"],
                    ["Manual discount", "—", "Manual discount 10%", "-1017.00"]],
        "steps-2": [["List price", "base-cny", "List price 339.00 × 4 (price book base-cny)", "1356.00"],
                    ["Promotions", "mem-10", "Promotion “内存九折”: 10% off the item", "-135.60"]],
        "applied": "Applied 内存九折 mem-10 · Item discount\nApplied, saving 135.60",
        "rejected": "Not active 满两万减一千 spend-20k · Spend X save Y\nThe promotion threshold is not reached: "
                    "20000.00 is needed, the eligible amount is 11390.40.",
        # the sentence is translated; its glue (line prefix "：", final "。") is not — see the report
        "approval": ["The unit price 9153.00 is below the floor price 9600.00 of price book key-contract",
                     "Needs level 1 approval"],
    },
}


@pytest.mark.parametrize(("language", "viewport", "name"), [
    ("zh-hans", DESKTOP, "zh-hans-cpq-preview"),
    ("zh-hans", PHONE, "zh-hans-cpq-preview-phone"),
    ("en", DESKTOP, "en-cpq-preview"),
], ids=["desktop", "phone", "english"])
def test_a_rep_prices_a_key_account_cart_and_sees_the_waterfall(org, cpq, live_server, page, screenshot, language,
                                                                viewport, name):
    texts = TEXTS[language]
    page.set_viewport_size(viewport)
    login(page, live_server, "rep1", "pw-rep1", "zh-hans")

    page.goto(f"{live_server.url}/pricing/preview/")
    if language != "zh-hans":  # the header's language switch, back on the same page
        with page.expect_navigation():
            page.locator(f"form.lang-switch button[value='{language}']").click()
        page.wait_for_url(re.compile(r".*/pricing/preview/$"))
    assert page.locator("h1").first.inner_text() == texts["title"]
    account = cpq["account"]
    with page.expect_response(re.compile(r".*/pricing/preview/accounts/.*")):
        page.fill("#preview-result-account-q", "鹏程")
    page.locator(f"#preview-result-account option[value='{account.pk}']").wait_for(state="attached")
    assert page.locator("#preview-result-account").input_value() == str(account.pk)

    page.fill("#preview-result-sku-1", "SRV-X")
    page.fill("#preview-result-qty-1", "1")
    page.fill("#preview-result-disc-1", "10")
    page.get_by_role("button", name=texts["add"], exact=True).click()
    page.fill("#preview-result-sku-2", "MEM-16")
    page.fill("#preview-result-qty-2", "4")
    with page.expect_response(lambda response: response.url.endswith("/pricing/preview/")
                              and response.request.method == "POST"):
        page.get_by_role("button", name=texts["run"], exact=True).click()
    result = page.locator("#preview-result [data-preview-result]")
    result.wait_for()

    assert {key: result.locator(f"[data-total='{key}']").inner_text() for key in TOTALS} == TOTALS
    assert result.locator(".kpi", has=page.locator("[data-total='total_amount']")).locator(
        ".kpi-label").inner_text() == texts["total"]
    assert result.locator("h3").first.inner_text() == texts["waterfall"]
    for key in ("1", "2"):
        steps = result.locator(f"tbody[data-line='{key}'] tr[data-step]").all_inner_texts()
        assert [step.split("\t") for step in steps] == texts[f"steps-{key}"]
    assert [cell.strip() for cell in result.locator("tbody[data-line='1'] tr.preview-line-row td").all_inner_texts()
            ] == ["1", "SRV-X\n服务器 X 型", "1", "11300.00", "9153.00", "8100.00", "1053.00", "9153.00", "1000.00",
                  "87.65%", "key-contract"]
    assert [cell.strip() for cell in result.locator("tbody[data-line='2'] tr.preview-line-row td").all_inner_texts()
            ] == ["2", "MEM-16\n16G 内存", "4", "339.00", "305.10", "1080.00", "140.40", "1220.40", "200.00",
                  "81.48%", "base-cny"]
    applied = result.locator("li[data-promotion='mem-10']")
    rejected = result.locator("li[data-promotion='spend-20k']")
    assert (applied.get_attribute("data-status"), applied.inner_text().strip()) == ("applied", texts["applied"])
    assert rejected.get_attribute("data-status") == "rejected"
    assert rejected.inner_text().strip() == texts["rejected"]
    approvals = result.locator("[data-preview-approvals]")
    assert approvals.locator("strong").inner_text() == texts["approvals"]
    assert approvals.locator("li").count() == 1
    approval = approvals.locator("li[data-code='below_floor']").inner_text()
    if language == "zh-hans":
        assert [approval] == texts["approval"]
    else:
        assert all(part in approval for part in texts["approval"]), approval
    assert result.locator("li[data-book='key-contract'] .badge").inner_text() in ("已使用", "Used")
    if viewport == PHONE:  # the page fits the phone's width; wide tables scroll inside their own box
        assert page.evaluate("() => document.documentElement.scrollWidth") == PHONE["width"]
    screenshot(name)


# --- 3. marketing simulates a cart in the 满减 promotion's editor -----------------------------------------------


def test_marketing_simulates_a_cart_in_the_spend_save_editor(org, cpq, live_server, page, screenshot):
    page.set_viewport_size(DESKTOP)
    login(page, live_server, "marketing", "pw-marketing", "zh-hans")

    page.goto(f"{live_server.url}/pricing/promotions/")
    page.get_by_role("link", name="spend-20k", exact=True).click()
    page.wait_for_url(re.compile(rf".*/pricing/promotions/{cpq['spend'].pk}/$"))
    panel = page.locator("#promotion-simulation [data-simulate-panel]")
    panel.wait_for()
    assert panel.locator("input[name=promotion]").input_value() == "spend-20k"

    page.fill("#simulate-result-sku-1", "SRV-X")
    page.fill("#simulate-result-qty-1", "2")
    with page.expect_response(lambda response: "/pricing/simulate/" in response.url
                              and response.request.method == "POST"):
        panel.get_by_role("button", name="试算", exact=True).click()
    focus = page.locator("#simulate-result [data-simulate-focus]")
    focus.wait_for()

    # no customer → base book: 2 × 11300.00 = 22600.00 ≥ 20000 → −1000.00 = 21600.00 tax-inclusive;
    # net 21600.00 / 1.13 = 19115.04, tax 2484.96; cost 2 × 1000 = 2000 → margin (19115.04 − 2000) / 19115.04 = 89.54 %
    assert focus.get_attribute("data-applied") == "true"
    assert focus.locator("p").inner_text() == "这个购物车可以得到优惠 1000.00 CNY。"
    assert focus.locator("li").all_inner_texts() == ["第 1 行 SRV-X：1000.00"]
    result = page.locator("#simulate-result [data-preview-result]")
    assert {key: result.locator(f"[data-total='{key}']").inner_text() for key in (
        "total_amount", "net_amount", "tax_amount", "discount_amount", "margin_percent")} == {
        "total_amount": "21600.00", "net_amount": "19115.04", "tax_amount": "2484.96", "discount_amount": "1000.00",
        "margin_percent": "89.54%"}
    assert result.locator("li[data-promotion='spend-20k']").get_attribute("data-status") == "applied"
    screenshot("zh-hans-cpq-promotion-simulation")
