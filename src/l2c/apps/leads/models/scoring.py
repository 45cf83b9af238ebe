"""Lead scoring (线索评分, ADR 0004): behaviour events and their points, attribute-fit rules,
trained prediction models and the weights that combine the three parts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ScoringEventKind(models.Model):
    """Points of one behaviour kind (website visit, form fill …) and how fast they fade:
    an event's points are `points × 0.5 ** (age_days / half_life_days)`."""

    kind = models.SlugField(_("行为类型"), max_length=40, unique=True)
    label = models.CharField(_("名称"), max_length=100)
    points = models.DecimalField(_("分值"), max_digits=6, decimal_places=2)
    half_life_days = models.DecimalField(_("半衰期（天）"), max_digits=6, decimal_places=2, default=30)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("行为积分规则")
        verbose_name_plural = _("行为积分规则")
        ordering = ["kind"]

    def __str__(self) -> str:
        return self.kind


class LeadEvent(models.Model):
    """A behaviour event of a lead, stored once per `event_id` (ingest is idempotent)."""

    event_id = models.CharField(max_length=100, unique=True)
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="events")
    kind = models.SlugField(max_length=40)
    occurred_at = models.DateTimeField()
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("线索行为")
        verbose_name_plural = _("线索行为")
        indexes = [models.Index(fields=["lead", "-occurred_at"], name="lead_event_lead"),
                   # Count and newest id per lead (the fingerprint of a LeadBehaviour digest), index-only.
                   models.Index(fields=["lead", "id"], name="lead_event_lead_id")]

    def __str__(self) -> str:
        return f"{self.lead_id} {self.kind} {self.occurred_at:%Y-%m-%d}"


class LeadBehaviour(models.Model):
    """A lead's behaviour events packed for rescoring (one row per lead instead of re-reading and
    re-aggregating its events): per event a 64-bit key of its kind and its time in microseconds
    (`l2c.engines.scoring.behaviour.DIGEST_DTYPE`). Derived data: `event_count` and
    `last_event_id` fingerprint the LeadEvent rows it was built from; a rescore that finds them
    different (or no row) rebuilds it from the events of exactly those leads."""

    lead = models.OneToOneField("leads.Lead", on_delete=models.CASCADE, primary_key=True, related_name="+")
    events = models.BinaryField(default=b"")
    event_count = models.PositiveIntegerField(default=0)
    last_event_id = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("线索行为汇总")
        verbose_name_plural = _("线索行为汇总")

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.event_count}"


class AttributeRule(models.Model):
    """Attribute fit (属性评分): points when a lead field (or `custom.<key>`) satisfies `op value`;
    the rules together describe the ideal customer profile."""

    name = models.CharField(_("名称"), max_length=100)
    field = models.CharField(_("字段"), max_length=60)
    op = models.CharField(_("比较"), max_length=20)  # the longest op is "is_not_empty"
    value = models.JSONField(_("值"), default=str, blank=True)
    points = models.SmallIntegerField(_("分值"))
    is_active = models.BooleanField(_("启用"), default=True)
    position = models.PositiveIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("属性评分规则")
        verbose_name_plural = _("属性评分规则")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class ScoringModel(models.Model):
    """One trained prediction model (智能评分). `parameters` is plain JSON (feature encoding,
    coefficients, calibration) — never a pickle. Used only when active and `auc` beats
    `baseline_auc`."""

    version = models.PositiveIntegerField(unique=True)
    algorithm = models.CharField(max_length=40, default="logistic_regression")
    trained_at = models.DateTimeField()
    sample_count = models.PositiveIntegerField(default=0)
    positive_count = models.PositiveIntegerField(default=0)
    auc = models.FloatField(null=True, blank=True)
    baseline_auc = models.FloatField(null=True, blank=True)
    top_decile_lift = models.FloatField(null=True, blank=True)
    parameters = models.JSONField(default=dict)
    is_active = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = _("评分模型")
        verbose_name_plural = _("评分模型")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}"


class ScoringWeights(models.Model):
    """Weights of the combined score (behaviour, attribute, predicted; they sum to 1). The weekly
    recalibration proposes a row with the quality of the old and new weights; it is applied
    automatically or by an admin, by setting."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("待审批")
        APPLIED = "applied", _("已应用")
        REJECTED = "rejected", _("已驳回")
        SUPERSEDED = "superseded", _("已替换")

    behaviour = models.DecimalField(max_digits=5, decimal_places=4)
    attribute = models.DecimalField(max_digits=5, decimal_places=4)
    predicted = models.DecimalField(max_digits=5, decimal_places=4)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)
    quality_before = models.FloatField(null=True, blank=True)
    quality_after = models.FloatField(null=True, blank=True)
    sample_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = _("评分权重")
        verbose_name_plural = _("评分权重")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.behaviour}/{self.attribute}/{self.predicted} ({self.status})"
