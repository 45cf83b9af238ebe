"""Template context shared by every page: navigation, unread count, version."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from l2c import __version__

# (label, url name, path prefix that marks it active, object type whose view permission shows it)
NavItem = tuple[Any, str, str, str | None]

# Top-level menus, in display order. A group whose label is None is a plain link (its one item); the
# others render as a disclosure menu in the header. Groups keep the header to a handful of entries
# however many pages the apps add, so it never overflows on a laptop screen.
NAVIGATION: list[tuple[Any, list[NavItem]]] = [
    (None, [(_("我的工作台"), "home", "/", None)]),
    (pgettext_lazy("navigation group", "营销"), [
        (_("市场活动"), "marketing:campaign_list", "/campaigns/", "campaign"),
        (_("招投标"), "tenders:notice_list", "/tenders/", "tender_notice"),
        (_("线索"), "leads:lead_list", "/leads/", "lead"),
        (_("线索池"), "leads:pool_list", "/lead-pools/", "lead"),
    ]),
    (pgettext_lazy("navigation group", "客户"), [
        (_("客户"), "customers:account_list", "/accounts/", "account"),
        (_("联系人"), "customers:contact_list", "/contacts/", "contact"),
        (_("公海"), "customers:pool_list", "/pools/", "account"),
        (_("风险预警"), "customers:risk_event_list", "/risk/", "risk_event"),
    ]),
    (pgettext_lazy("navigation group", "销售"), [
        (_("商机"), "opportunities:opportunity_list", "/opportunities/", "opportunity"),
        # Shown once their pages exist (an unresolved url name is skipped, see `_url`).
        (_("销售预测"), "opportunities:forecast", "/opportunities/forecast/", "opportunity"),
        (_("销售漏斗"), "opportunities:pipeline", "/opportunities/pipeline/", "opportunity"),
    ]),
    (pgettext_lazy("navigation group", "产品与价格"), [
        (_("产品"), "catalog:product_list", "/catalog/", "product"),
        (_("产品配置器"), "catalog:configurator", "/catalog/configurator/", "product"),
        (_("配置规则"), "catalog:rule_list", "/catalog/rules/", "product"),
        (_("价目表"), "pricing:book_list", "/pricing/books/", "price_book"),
        (_("促销"), "pricing:promotion_list", "/pricing/promotions/", "promotion"),
        (_("价格试算"), "pricing:preview", "/pricing/preview/", "price_book"),
    ]),
    (pgettext_lazy("navigation group", "工具"), [
        (_("导入"), "activity:import_list", "/imports/", None),
        (_("后台任务"), "activity:jobs", "/jobs/", None),
    ]),
]
# Staff only; shown as the last menu.
ADMIN_GROUP_LABEL = pgettext_lazy("navigation group", "管理")
ADMIN_NAVIGATION: list[tuple[Any, str, str]] = [
    (_("权限说明"), "identity:why", "/admin-tools/why/"),
    (_("RFM 设置"), "customers:rfm_settings", "/rfm/"),
    (_("分配规则"), "leads:assignment_rules", "/leads/assignment-rules/"),
    (_("线索评分设置"), "leads:scoring_settings", "/leads/scoring/"),
    (_("销售流程"), "opportunities:process_list", "/opportunities/processes/"),
    (_("商机健康度设置"), "opportunities:health_settings", "/opportunities/health-settings/"),
    (_("毛利管控"), "pricing:margin_policy", "/pricing/margin-policy/"),
    (_("系统管理"), "admin:index", "/admin/"),
]


def _url(url_name: str) -> str | None:
    """The item's URL; None while the page is not there yet (an app still being built)."""
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return None


def _active(path: str, prefix: str, prefixes: list[str]) -> bool:
    """Whether `prefix` is the longest of the navigation prefixes `path` falls under ("/" only
    for the home page), so /opportunities/forecast/ marks 销售预测, not 商机."""
    if prefix == "/":
        return path == "/"
    if not path.startswith(prefix):
        return False
    return not any(len(other) > len(prefix) and other != "/" and path.startswith(other) for other in prefixes)


def _groups(user: Any) -> list[tuple[Any, list[NavItem]]]:
    """The menus `user` may see, before permission filtering of the items."""
    groups = list(NAVIGATION)
    if user.is_staff:
        groups.append((ADMIN_GROUP_LABEL, [(label, name, prefix, None) for label, name, prefix in ADMIN_NAVIGATION]))
    return groups


def navigation(user: Any, path: str) -> list[dict[str, Any]]:
    """The header menus for `user` on `path`: [{"label", "key", "active", "items": [{"label", "url",
    "active"}]}]. An item shows when the user may view its object type and its URL resolves; a menu
    with no item left is dropped. At most one item is active (longest prefix wins) and its menu too.
    `label` is None for a plain top-level link (工作台)."""
    from l2c.apps.identity import access

    groups = _groups(user)
    prefixes = [item[2] for _label, items in groups for item in items]
    menus = []
    for position, (group_label, entries) in enumerate(groups):
        items = []
        for label, url_name, prefix, object_type in entries:
            if object_type and not access.can(user, object_type, "view"):
                continue
            url = _url(url_name)
            if url is not None:
                items.append({"label": label, "url": url, "active": _active(path, prefix, prefixes)})
        if items:
            menus.append({"label": group_label, "key": f"nav-menu-{position}", "items": items,
                          "active": any(item["active"] for item in items)})
    return menus


def shell(request: HttpRequest) -> dict[str, Any]:
    context: dict[str, Any] = {"l2c_version": __version__}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    from l2c.apps.activity.selectors import unread_count

    menus = navigation(user, request.path)
    context["nav_menus"] = menus
    # Flat list of the same links, for code and tests that do not care about the grouping.
    context["nav_items"] = [item for menu in menus for item in menu["items"]]
    context["unread_notification_count"] = unread_count(user=user)
    return context
