"""Template context shared by every page: navigation, unread count, version."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from l2c import __version__

# (label, url name, path prefix that marks it active, object type whose view permission shows it)
NAVIGATION: list[tuple[Any, str, str, str | None]] = [
    (_("我的工作台"), "home", "/", None),
    (_("市场活动"), "marketing:campaign_list", "/campaigns/", "campaign"),
    (_("线索"), "leads:lead_list", "/leads/", "lead"),
    (_("线索池"), "leads:pool_list", "/lead-pools/", "lead"),
    (_("客户"), "customers:account_list", "/accounts/", "account"),
    (_("联系人"), "customers:contact_list", "/contacts/", "contact"),
    (_("公海"), "customers:pool_list", "/pools/", "account"),
    (_("风险预警"), "customers:risk_event_list", "/risk/", "risk_event"),
    (_("招投标"), "tenders:notice_list", "/tenders/", "tender_notice"),
    (_("导入"), "activity:import_list", "/imports/", None),
    (_("后台任务"), "activity:jobs", "/jobs/", None),
]
ADMIN_NAVIGATION: list[tuple[Any, str, str]] = [
    (_("权限说明"), "identity:why", "/admin-tools/why/"),
    (_("RFM 设置"), "customers:rfm_settings", "/rfm/"),
    (_("分配规则"), "leads:assignment_rules", "/leads/assignment-rules/"),
    (_("线索评分设置"), "leads:scoring_settings", "/leads/scoring/"),
    (_("系统管理"), "admin:index", "/admin/"),
]


def shell(request: HttpRequest) -> dict[str, Any]:
    context: dict[str, Any] = {"l2c_version": __version__}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    from l2c.apps.activity.selectors import unread_count
    from l2c.apps.identity import access

    items = []
    path = request.path
    for label, url_name, prefix, object_type in NAVIGATION:
        if object_type and not access.can(user, object_type, "view"):
            continue
        active = path == prefix if prefix == "/" else path.startswith(prefix)
        items.append({"label": label, "url": reverse(url_name), "active": active})
    if user.is_staff:
        for label, url_name, prefix in ADMIN_NAVIGATION:
            items.append({"label": label, "url": reverse(url_name), "active": path.startswith(prefix)})
    context["nav_items"] = items
    context["unread_notification_count"] = unread_count(user=user)
    return context
