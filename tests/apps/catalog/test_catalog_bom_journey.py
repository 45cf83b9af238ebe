"""Browser journey of the BOM tree editor (zh-hans): a manager adds a component through the picker, the
panel updates in place with the new rolled-up cost; a component that would close a cycle is refused
and the path is shown inline, nothing saved."""

from __future__ import annotations

import contextlib
import os
import shutil
from decimal import Decimal
from typing import Any

import pytest

from tests.apps.catalog.catalog_fixtures import server_with_bom
from tests.e2e.conftest import ARGS, CHROMIUM
from tests.e2e.journeys import login

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not shutil.which(CHROMIUM), reason="no chromium")]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ARGS}


@pytest.fixture(autouse=True)
def _settle(live_server: Any, page: Any) -> Any:
    yield
    from playwright.sync_api import Error as PlaywrightError

    with contextlib.suppress(PlaywrightError):
        page.wait_for_load_state("networkidle", timeout=10_000)


def test_add_a_component_and_see_a_cycle_refused_inline(org: Any, live_server: Any, page: Any) -> None:
    from l2c.apps.catalog.models import BomItem

    built = server_with_bom(org["manager"])
    login(page, live_server, "manager", "pw-manager", "zh-hans")

    page.goto(f"{live_server.url}/catalog/products/{built['memory'].pk}/#bom")
    panel = page.locator("#bom")
    panel.locator("input[name=component_sku]").fill("FAN-1")
    panel.locator("input[name=quantity]").last.fill("3")
    panel.locator("button", has_text="加入 BOM").click()
    page.locator("#bom .bom-ok").wait_for()
    assert "已加入组件 FAN-1。" in page.locator("#bom").inner_text()
    assert "¥36.75" in page.locator("#bom .card-header").inner_text()  # 3 × 12.25
    assert BomItem.objects.get(parent=built["memory"]).quantity == Decimal(3)
    if os.environ.get("L2C_SCREENSHOT_DIR"):
        page.goto(f"{live_server.url}/catalog/products/{built['server'].pk}/")
        page.screenshot(path=os.path.join(os.environ["L2C_SCREENSHOT_DIR"], "catalog-product.png"), full_page=True)
        page.goto(f"{live_server.url}/catalog/")
        page.screenshot(path=os.path.join(os.environ["L2C_SCREENSHOT_DIR"], "catalog-list.png"), full_page=True)

    page.goto(f"{live_server.url}/catalog/products/{built['fan'].pk}/#bom")
    page.locator("#bom input[name=component_sku]").fill("SRV-1")
    page.locator("#bom button", has_text="加入 BOM").click()
    page.locator("#bom .bom-error").wait_for()
    assert "FAN → SRV → CHS → FAN" in page.locator("#bom .bom-error").inner_text()
    assert not BomItem.objects.filter(parent=built["fan"]).exists()
