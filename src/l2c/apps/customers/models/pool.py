"""Public pools (公海, ADR 0003): who may claim from a pool and the rules that govern held accounts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

# Fields a pool member sees of a pooled account before claiming it (the default of Pool.visible_fields).
POOL_DEFAULT_VISIBLE_FIELDS = ["name", "industry", "size", "province", "city", "level", "source",
                               "last_followed_up_at"]


class Pool(models.Model):
    """A public pool of accounts. Members (users, departments) may browse and claim; the rules say
    when a held account returns (reclaim), how many a rep may hold and claim per day, and how long a
    previous owner waits before claiming it again. An empty number switches its rule off."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    description = models.CharField(_("说明"), max_length=500, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    member_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("成员用户"), blank=True, related_name="pools"
    )
    member_departments = models.ManyToManyField(
        "identity.Department", verbose_name=_("成员部门"), blank=True, related_name="pools"
    )
    include_subdepartments = models.BooleanField(_("包含下级部门"), default=True)
    # Reclaim: no follow-up for N days (counted from the later of the last follow-up and the claim).
    reclaim_no_followup_days = models.PositiveSmallIntegerField(_("未跟进回收天数"), null=True, blank=True)
    # Protection period: days to win a deal after a claim, extended per follow-up up to a maximum.
    protection_days = models.PositiveSmallIntegerField(_("保护期（天）"), null=True, blank=True)
    protection_extension_days = models.PositiveSmallIntegerField(_("每次跟进延长（天）"), default=0)
    protection_max_days = models.PositiveSmallIntegerField(_("保护期上限（天）"), null=True, blank=True)
    max_held_per_rep = models.PositiveIntegerField(_("每人持有上限"), null=True, blank=True)
    daily_claim_quota = models.PositiveSmallIntegerField(_("每日领取上限"), null=True, blank=True)
    reclaim_cooldown_days = models.PositiveSmallIntegerField(_("原负责人重新领取冷却期（天）"), default=0)
    reminder_days = models.PositiveSmallIntegerField(_("回收前提醒（天）"), default=3)
    visible_fields = models.JSONField(_("领取前可见字段"), default=list, blank=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("公海")
        verbose_name_plural = _("公海")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(protection_max_days__isnull=True) | models.Q(protection_days__isnull=True)
                | models.Q(protection_max_days__gte=models.F("protection_days")),
                name="pool_protection_max_gte_base",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PoolClaimCounter(models.Model):
    """Claims of one user from one pool on one (local) day. The daily quota is enforced by a
    compare-and-set `UPDATE … SET claimed = claimed + 1 WHERE claimed < quota` in the claim's
    transaction, so concurrent claims can never exceed it."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    claimed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pool", "user", "day"], name="pool_claim_counter_day")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.pool_id} {self.day}: {self.claimed}"
