"""Sales processes and their stages (ADR 0005): the built-in processes, the admin editor's service,
and the stage specs the gate engine reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from l2c.apps.activity.audit import audit_record
from l2c.apps.activity.models import AuditEvent
from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.engines import stages as gate_engine
from l2c.kernel.errors import FieldError, PermissionDenied, ValidationFailed

from .gates import field_keys_problems
from .models import ForecastCategory, SalesProcess, Stage, StageKind, StageTask

# (name, probability %, forecast category, norm days, entry fields, exit fields, tasks (title, required))
StageSeed = tuple[str, int, str, int | None, list[str], list[str], list[tuple[str, bool]]]
DEFAULT_PROCESSES: list[tuple[str, str, str, list[StageSeed]]] = [
    ("项目型销售", "project", "金额大、周期长、决策链复杂的项目：需求、方案、招投标、商务谈判。", [
        ("初步接洽", 10, ForecastCategory.PIPELINE, 14, [], ["amount"], [("确认客户需求与预算范围", True)]),
        ("需求确认", 25, ForecastCategory.PIPELINE, 21, ["contacts"], ["close_date", "decision_maker"],
         [("完成需求调研", True), ("识别决策链", True), ("安排技术交流", False)]),
        ("方案报价", 50, ForecastCategory.BEST_CASE, 21, [], ["competitors"],
         [("提交解决方案", True), ("提交报价", True)]),
        ("商务谈判", 75, ForecastCategory.COMMIT, 14, [], ["next_step"], [("确认合同条款", True)]),
    ]),
    ("快速销售", "quick", "标准产品的短周期交易：报价后即可成交。", [
        ("意向确认", 30, ForecastCategory.PIPELINE, 7, [], ["amount"], []),
        ("报价", 60, ForecastCategory.BEST_CASE, 7, [], ["close_date"], [("发送报价单", True)]),
        ("待签约", 85, ForecastCategory.COMMIT, 7, [], [], []),
    ]),
    ("续约", "renewal", "现有客户的到期续约与增购。", [
        ("续约提醒", 40, ForecastCategory.PIPELINE, 30, [], ["close_date"], [("确认续约意向", True)]),
        ("续约报价", 70, ForecastCategory.BEST_CASE, 21, [], ["amount"], []),
        ("续约确认", 90, ForecastCategory.COMMIT, 14, [], [], []),
    ]),
]
WON_NAME, LOST_NAME = "赢单", "输单"


@transaction.atomic
def processes_ensure_defaults() -> None:
    """Create the built-in processes when there is no process at all (the first is the default)."""
    if SalesProcess.objects.exists():
        return
    for index, (name, code, description, seeds) in enumerate(DEFAULT_PROCESSES):
        process = SalesProcess.objects.create(name=name, code=code, description=description, is_default=index == 0)
        for position, (stage_name, probability, category, norm, entry, exit_fields, tasks) in enumerate(seeds, 1):
            stage = Stage.objects.create(process=process, name=stage_name, position=position, probability=probability,
                                         forecast_category=category, norm_days=norm, entry_fields=entry,
                                         exit_fields=exit_fields)
            StageTask.objects.bulk_create(StageTask(stage=stage, title=title, required=required, position=number)
                                          for number, (title, required) in enumerate(tasks, 1))
        last = len(seeds)
        Stage.objects.create(process=process, name=WON_NAME, position=last + 1, kind=StageKind.WON, probability=100,
                             forecast_category=ForecastCategory.CLOSED)
        Stage.objects.create(process=process, name=LOST_NAME, position=last + 2, kind=StageKind.LOST, probability=0,
                             forecast_category=ForecastCategory.OMITTED)


def default_process() -> SalesProcess | None:
    return SalesProcess.objects.filter(is_default=True, is_active=True).first()


def stage_specs(process_id: int) -> list[gate_engine.StageSpec]:
    """The stages of a process as the gate engine reads them (two queries)."""
    stages = list(Stage.objects.filter(process_id=process_id).order_by("position"))
    required: dict[int, list[int]] = {}
    for task_id, stage_id in StageTask.objects.filter(stage__process_id=process_id, required=True).order_by(
            "position", "id").values_list("id", "stage_id"):
        required.setdefault(stage_id, []).append(task_id)
    return [gate_engine.StageSpec(stage.pk, stage.position, stage.kind, tuple(stage.entry_fields),
                                  tuple(stage.exit_fields), tuple(required.get(stage.pk, ())))
            for stage in stages]


def first_open_stage(process: SalesProcess) -> Stage:
    stage = process.stages.filter(kind=StageKind.OPEN).order_by("position").first()
    if stage is None:  # a saved process always has one (process_save validates it)
        raise ValidationFailed(_("销售流程“%(name)s”没有进行中的阶段。") % {"name": process.name}, errors=[])
    return stage


# Marked for extraction (gettext_noop); translated where raised.
PROBLEM_MESSAGES = {
    "unknown_kind": gettext_noop("阶段类型只能是进行中、赢单或输单。"),
    "no_open_stage": gettext_noop("至少需要一个进行中的阶段。"),
    "won_stage_count": gettext_noop("必须有且只有一个赢单阶段。"),
    "lost_stage_count": gettext_noop("必须有且只有一个输单阶段。"),
    "duplicate_position": gettext_noop("进行中阶段的顺序不能重复。"),
}


def _clean_stages(raw: Any, errors: list[FieldError]) -> list[dict[str, Any]]:
    """The `stages` list of a process save: each {id?, name, kind, probability, forecast_category,
    norm_days, entry_fields, exit_fields, tasks: [{id?, title, required}]} in process order."""
    if not isinstance(raw, list) or not raw:
        errors.append(FieldError("stages", _("请至少填写一个阶段。"), "required"))
        return []
    cleaned: list[dict[str, Any]] = []
    names: set[str] = set()
    for index, item in enumerate(raw):
        prefix = f"stages[{index}]"
        if not isinstance(item, Mapping):
            errors.append(FieldError(prefix, _("阶段必须是对象。"), "invalid"))
            continue
        name = str(item.get("name") or "").strip()
        if not name or len(name) > 60:
            errors.append(FieldError(f"{prefix}.name", _("阶段名称必填，最多 60 个字。"), "invalid"))
        elif name in names:
            errors.append(FieldError(f"{prefix}.name", _("阶段名称“%(name)s”重复。") % {"name": name}, "duplicate"))
        names.add(name)
        kind = item.get("kind") or StageKind.OPEN
        if kind not in StageKind.values:
            errors.append(FieldError(f"{prefix}.kind", _("阶段类型只能是进行中、赢单或输单。"), "invalid"))
        probability = item.get("probability")
        if probability is None:
            probability = 0 if kind == StageKind.LOST else 100 if kind == StageKind.WON else 10
        if not isinstance(probability, int) or isinstance(probability, bool) or not 0 <= probability <= 100:
            errors.append(FieldError(f"{prefix}.probability", _("赢率必须是 0 到 100 的整数。"), "invalid"))
        category = item.get("forecast_category") or ForecastCategory.PIPELINE
        if category not in ForecastCategory.values:
            errors.append(FieldError(f"{prefix}.forecast_category", _("预测类别无效。"), "invalid"))
        norm = item.get("norm_days")
        if norm is not None and (not isinstance(norm, int) or isinstance(norm, bool) or not 1 <= norm <= 3650):
            errors.append(FieldError(f"{prefix}.norm_days", _("标准停留天数必须是 1 到 3650 的整数。"), "invalid"))
        entry = item.get("entry_fields") or []
        exit_fields = item.get("exit_fields") or []
        for key, fields in (("entry_fields", entry), ("exit_fields", exit_fields)):
            for problem in field_keys_problems(fields):
                errors.append(FieldError(f"{prefix}.{key}", problem, "invalid"))
        tasks = item.get("tasks") or []
        if not isinstance(tasks, list) or not all(isinstance(task, Mapping) for task in tasks):
            errors.append(FieldError(f"{prefix}.tasks", _("阶段任务必须是列表。"), "invalid"))
            tasks = []
        for number, task in enumerate(tasks):
            title = str(task.get("title") or "").strip()
            if not title or len(title) > 200:
                errors.append(FieldError(f"{prefix}.tasks[{number}].title", _("任务名称必填，最多 200 个字。"),
                                         "invalid"))
        cleaned.append({"id": item.get("id"), "name": name, "kind": kind, "probability": probability,
                        "forecast_category": category, "norm_days": norm, "entry_fields": list(entry),
                        "exit_fields": list(exit_fields), "description": str(item.get("description") or "")[:300],
                        "tasks": [{"id": task.get("id"), "title": str(task.get("title") or "").strip(),
                                   "required": bool(task.get("required", True))} for task in tasks]})
    return cleaned


def _require_admin(actor: User) -> None:
    if not access.is_admin(actor):
        raise PermissionDenied(_("只有管理员可以维护销售流程。"))


@transaction.atomic
def process_save(*, actor: User, data: Mapping[str, Any], process_id: int | None = None,
                 expected_version: int | None = None) -> SalesProcess:
    """Create or replace a process with its stages and tasks (admins). Stages and tasks keep their
    ids when given back; stages left out are deleted unless a deal uses them (then refused)."""
    _require_admin(actor)
    errors: list[FieldError] = []
    name = str(data.get("name") or "").strip()
    code = str(data.get("code") or "").strip()
    if not name or len(name) > 100:
        errors.append(FieldError("name", _("流程名称必填，最多 100 个字。"), "invalid"))
    if not code or len(code) > 50 or not code.replace("-", "").replace("_", "").isalnum() or not code.isascii():
        errors.append(FieldError("code", _("代码必填：字母、数字、-、_，最多 50 个字符。"), "invalid"))
    stages = _clean_stages(data.get("stages"), errors)
    specs = [gate_engine.StageSpec(index, index if stage["kind"] == StageKind.OPEN else 1000 + index, stage["kind"])
             for index, stage in enumerate(stages)]
    for problem in gate_engine.validate_process(specs) if stages else []:
        errors.append(FieldError("stages", _(PROBLEM_MESSAGES[problem]), problem))
    kinds = [stage["kind"] for stage in stages]
    if StageKind.OPEN in kinds and any(kind != StageKind.OPEN for kind in kinds[:len(kinds) - kinds[::-1].index(
            StageKind.OPEN)]):
        errors.append(FieldError("stages", _("赢单和输单阶段必须排在所有进行中阶段之后。"), "closing_not_last"))
    process = None
    if process_id is not None:
        process = SalesProcess.objects.select_for_update().filter(pk=process_id).first()
        if process is None:
            errors.append(FieldError("process_id", _("没有 ID 为 %(id)s 的销售流程。") % {"id": process_id},
                                     "not_found"))
        elif expected_version is not None and expected_version != process.version:
            errors.append(FieldError("version", _("这个销售流程已被其他人修改，请刷新后重试。"), "stale"))
    duplicate = SalesProcess.objects.filter(name=name).exclude(pk=process_id).exists() or \
        SalesProcess.objects.filter(code=code).exclude(pk=process_id).exists()
    if duplicate:
        errors.append(FieldError("name", _("已有同名或同代码的销售流程。"), "duplicate"))
    if errors:
        raise ValidationFailed(_("销售流程填写有误。"), errors=errors)
    is_default = bool(data.get("is_default", process.is_default if process else False))
    if is_default:
        SalesProcess.objects.filter(is_default=True).exclude(pk=process_id).update(is_default=False)
    if process is None:
        process = SalesProcess.objects.create(name=name, code=code, description=str(data.get("description") or ""),
                                              is_default=is_default, is_active=bool(data.get("is_active", True)))
        action = AuditEvent.Kind.CREATE
    else:
        SalesProcess.objects.filter(pk=process.pk).update(
            name=name, code=code, description=str(data.get("description") or ""), is_default=is_default,
            is_active=bool(data.get("is_active", process.is_active)), version=F("version") + 1)
        action = AuditEvent.Kind.UPDATE
    _replace_stages(process, stages)
    audit_record(object_type="sales_process", object_id=process.pk, action=action, actor_id=actor.pk,
                 object_repr=name, changes={"stages": [None, [stage["name"] for stage in stages]]})
    process.refresh_from_db()
    return process


def _replace_stages(process: SalesProcess, stages: Sequence[dict[str, Any]]) -> None:
    existing = {stage.pk: stage for stage in process.stages.all()}
    kept_ids = {stage["id"] for stage in stages if stage["id"] in existing}
    dropped = [pk for pk in existing if pk not in kept_ids]
    if dropped:
        from .models import Opportunity

        used = Opportunity.objects.filter(stage_id__in=dropped).values_list("stage__name", flat=True).first()
        if used is not None:
            message = _("阶段“%(name)s”仍有商机，不能删除。") % {"name": used}
            raise ValidationFailed(message, errors=[FieldError("stages", message, "in_use")])
        Stage.objects.filter(pk__in=dropped).delete()
    # Positions are unique per process: park the kept stages out of the way first.
    Stage.objects.filter(process=process).update(position=F("position") + 10000)
    for position, item in enumerate(stages, 1):
        values = {key: item[key] for key in ("name", "kind", "probability", "forecast_category", "norm_days",
                                             "entry_fields", "exit_fields", "description")}
        if item["id"] in existing:
            Stage.objects.filter(pk=item["id"]).update(position=position, **values)
            stage = Stage.objects.get(pk=item["id"])
        else:
            stage = Stage.objects.create(process=process, position=position, **values)
        task_ids = {task["id"] for task in item["tasks"] if task["id"]}
        StageTask.objects.filter(stage=stage).exclude(pk__in=task_ids).delete()
        for number, task in enumerate(item["tasks"], 1):
            if task["id"] and StageTask.objects.filter(pk=task["id"], stage=stage).update(
                    title=task["title"], required=task["required"], position=number):
                continue
            StageTask.objects.create(stage=stage, title=task["title"], required=task["required"], position=number)
