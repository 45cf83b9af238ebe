"""What the jobs page calls each background job: `JobRun.name` is a stable dotted code
("customers.rfm_recompute"); people read the translated label. A job enqueued under a name missing
here shows its code (tests/activity/test_job_labels.py lists every name the code enqueues)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

JOB_LABELS: dict[str, Promise] = {
    "activity.todo_reminders": _("待办提醒"),
    "activity.housekeeping": _("日常清理"),
    "activity.import_commit": _("导入提交"),
    "customers.pool_reclaim": _("客户公海回收"),
    "customers.pool_reschedule": _("客户公海规则变更：重算期限"),
    "customers.rfm_recompute": _("RFM 重算"),
    "customers.risk_levels_check": _("客户风险等级检查"),
    "customers.duplicates_batch": _("批量查重"),
    "leads.pool_reclaim": _("线索池回收"),
    "leads.pool_reschedule": _("线索池规则变更：重算期限"),
    "leads.scoring_rescore": _("线索重新评分"),
    "leads.scoring_retrain": _("线索预测模型训练"),
    "leads.scoring_recalibrate": _("线索评分权重校准"),
    "tenders.notices_match": _("招标公告订阅匹配"),
    "opportunities.health_refresh": _("商机健康度刷新"),
    "opportunities.forecast_rescore": _("商机赢率重新评分"),
    "opportunities.forecast_nightly": _("每日预测：评分与快照"),
    "opportunities.forecast_weekly": _("每周预测：快照与模型训练"),
}


def job_label(name: str) -> str:
    label = JOB_LABELS.get(name)
    return str(label) if label is not None else name
