"""Built-in roles. Per-object-type defaults come from each registered ObjectType."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

BUILTIN_ROLES: dict[str, tuple[str, str]] = {
    "admin": ("管理员", "Everything, including administration"),
    "sales_manager": ("销售经理", "Own department and the departments below it"),
    "sales_rep": ("销售代表", "Own records, plus shared ones and the public pool"),
    "presales": ("售前顾问", "Own and shared records"),
    "marketing": ("市场专员", "All campaigns and leads; accounts read-only"),
    "finance": ("财务", "All records; read-only outside finance objects"),
}

ROLE_LABELS = {
    "admin": _("管理员"),
    "sales_manager": _("销售经理"),
    "sales_rep": _("销售代表"),
    "presales": _("售前顾问"),
    "marketing": _("市场专员"),
    "finance": _("财务"),
}

# The usual grants for a customer-facing record such as an account.
SALES_RECORD_DEFAULTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sales_manager": ("subtree", ("view", "create", "edit", "delete", "export", "import", "transfer")),
    "sales_rep": ("own", ("view", "create", "edit", "export")),
    "presales": ("own", ("view", "create", "edit")),
    "marketing": ("all", ("view", "export")),
    "finance": ("all", ("view", "export")),
}
