"""Read helpers of the opportunity pages: the context blocks of the detail page (stage path with
tasks, decision chain, health, history), card dicts of the kanban, the gate preview and the
admin editor's row parsing. Reads only; every write goes through services / chain / health /
processes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.kernel.errors import FieldError
from l2c.kernel.money import CURRENCY_EXPONENTS

from . import chain, health, services
from .gates import FIELD_CATALOGUE
from .models import (
    AnswerLevel,
    Attitude,
    ChainRole,
    Dimension,
    HealthAnswer,
    HealthSnapshot,
    Influence,
    Opportunity,
    SalesProcess,
    Stage,
    StageHistory,
    StageKind,
    StageTask,
)

BOARD_PAGE_SIZE = 20
# Short card labels of the red flags (the long messages come from health.flag_messages).
FLAG_LABELS = {
    "close_date_passed": gettext_lazy("已逾期"),
    "stalled": gettext_lazy("停滞"),
    "no_activity": gettext_lazy("无跟进"),
    "no_decision_maker": gettext_lazy("缺决策者"),
    "no_champion": gettext_lazy("缺内线"),
    "opponent_high_influence": gettext_lazy("强反对者"),
}
FLAG_TITLES = {
    "close_date_passed": gettext_lazy("预计成交日期已过"),
    "stalled": gettext_lazy("在当前阶段停留超过标准天数"),
    "no_activity": gettext_lazy("长时间没有跟进"),
    "no_decision_maker": gettext_lazy("决策链中没有决策者"),
    "no_champion": gettext_lazy("决策链中没有支持者（内线）"),
    "opponent_high_influence": gettext_lazy("有高影响力的反对者"),
}
SOURCE_LABELS = {"answer": gettext_lazy("评估"), "derived": gettext_lazy("系统推算"),
                 "both": gettext_lazy("评估 + 系统推算"), "none": gettext_lazy("未评估")}
ATTITUDE_COLOURS = {Attitude.SUPPORTER: "#16a34a", Attitude.NEUTRAL: "#64748b", Attitude.OPPONENT: "#dc2626"}
INFLUENCE_SIZES = {"high": 56, "medium": 42, "low": 30}


# --- small display helpers -----------------------------------------------------------------------------
def flags_display(codes: Sequence[str] | None) -> list[dict[str, str]]:
    return [{"code": code, "label": str(FLAG_LABELS[code]), "title": str(FLAG_TITLES[code])}
            for code in codes or () if code in FLAG_LABELS]


def health_level(index: int | None) -> str:
    """The badge colour of a health index: good ≥ 70, fair ≥ 40, else poor; none when unknown."""
    if index is None:
        return "none"
    return "good" if index >= 70 else "fair" if index >= 40 else "poor"


def yuan_text(amount_minor: int, currency: str) -> str:
    """Fen → the plain decimal the form shows ("128000.50"), for editing."""
    places = CURRENCY_EXPONENTS.get(currency, 2)
    return f"{Decimal(amount_minor).scaleb(-places):.{places}f}"


def card(deal: Opportunity | Mapping[str, Any], stage_id: int | None = None) -> dict[str, Any]:
    """A kanban card from a deal or from a row of api.board_page (same keys either way)."""
    if isinstance(deal, Opportunity):
        row: Mapping[str, Any] = {
            "id": deal.pk, "name": deal.name, "account_id": deal.account_id, "account_name": deal.account.name,
            "owner_id": deal.owner_id, "amount": deal.amount, "currency": deal.currency,
            "close_date": deal.close_date, "health_index": deal.health_index, "health_flags": deal.health_flags,
            "version": deal.version, "updated_at": deal.updated_at}
        stage_id = deal.stage_id
    else:
        row = deal
    return {**row, "stage_id": stage_id, "flags": flags_display(row.get("health_flags")),
            "health_level": health_level(row.get("health_index"))}


# --- processes and stages ------------------------------------------------------------------------------
def active_processes() -> list[SalesProcess]:
    return list(SalesProcess.objects.filter(is_active=True).order_by("-is_default", "name"))


def process_stages(process_ids: Sequence[int]) -> dict[int, list[Stage]]:
    stages: dict[int, list[Stage]] = {}
    for stage in Stage.objects.filter(process_id__in=process_ids).order_by("process_id", "position"):
        stages.setdefault(stage.process_id, []).append(stage)
    return stages


# --- the detail page -----------------------------------------------------------------------------------
def stage_path(deal: Opportunity) -> list[dict[str, Any]]:
    """Every stage of the deal's process in order with its tasks (done or not) and where the deal is:
    "done" before the current stage, "current", "todo" after; closing stages are "closed"."""
    stages = list(Stage.objects.filter(process_id=deal.process_id).order_by("position"))
    tasks: dict[int, list[StageTask]] = {}
    for task in StageTask.objects.filter(stage__process_id=deal.process_id).order_by("position", "pk"):
        tasks.setdefault(task.stage_id, []).append(task)
    done = set(deal.tasks_done.values_list("task_id", flat=True))
    current = next(stage for stage in stages if stage.pk == deal.stage_id)
    rows = []
    for stage in stages:
        if stage.pk == current.pk:
            state = "current"
        elif stage.kind != StageKind.OPEN:
            state = "closed"
        else:
            state = "done" if stage.position < current.position and current.kind == StageKind.OPEN else "todo"
        rows.append({"stage": stage, "state": state,
                     "tasks": [{"task": task, "done": task.pk in done} for task in tasks.get(stage.pk, [])]})
    return rows


def chain_context(user: User, deal: Opportunity, editing: int | None = None) -> dict[str, Any]:
    """The decision-chain panel: the graph (nodes coloured by attitude, sized by influence), the
    table rows, the gaps, the contacts of the deal's account the user may add, and the entry the
    form edits (`editing`, its id; the form then starts from its values)."""
    graph = chain.chain_graph(deal)
    attitude_labels = dict(Attitude.choices)
    influence_labels = {"high": _("高"), "medium": _("中"), "low": _("低")}
    names = {node["id"]: node["name"] for node in graph["nodes"]}
    rows = [{**node, "attitude_label": attitude_labels.get(node["attitude"], node["attitude"]),
             "influence_label": influence_labels.get(node["influence"], node["influence"]),
             "reports_to_name": names.get(node["reports_to_id"], "")} for node in graph["nodes"]]
    chart = {
        "nodes": [{"id": str(node["id"]), "name": node["name"], "role": node["role_label"],
                   "title": node["title"], "attitude": str(attitude_labels.get(node["attitude"], "")),
                   "color": ATTITUDE_COLOURS.get(node["attitude"], "#64748b"),
                   "size": INFLUENCE_SIZES.get(node["influence"], 42)} for node in graph["nodes"]],
        "links": [{"source": str(link["source"]), "target": str(link["target"])} for link in graph["links"]],
        "labels": {"reports_to": _("汇报给")},
    }
    contacts: list[Any] = list(access.visible(user, "contact").filter(account_id=deal.account_id)
                               .order_by("name")[:200])
    chain_edit = next((row for row in rows if row["id"] == editing), None)
    if chain_edit is not None and all(contact.pk != chain_edit["contact_id"] for contact in contacts):
        # An entry for a contact outside the picker (another account's): offered as it is.
        contacts.insert(0, {"pk": chain_edit["contact_id"], "name": chain_edit["name"], "title": chain_edit["title"]})
    return {"chain_rows": rows, "chain_gaps": graph["gaps"], "chain_edit": chain_edit,
            "chain_score": graph["score"], "chain_chart": chart, "chain_contacts": contacts,
            "chain_roles": ChainRole.choices, "chain_attitudes": Attitude.choices,
            "chain_influences": Influence.choices}


def health_context(deal: Opportunity) -> dict[str, Any]:
    """The health panel: the index, the nine dimensions explained with the rep's current answers,
    the red flags and the history chart data."""
    result = health.health_of(deal)
    answers = {answer.dimension: answer for answer in HealthAnswer.objects.filter(opportunity=deal)}
    labels = dict(Dimension.choices)
    dimensions = [{**item.__dict__, "label": labels.get(item.dimension, item.dimension),
                   "source_label": SOURCE_LABELS.get(item.source, item.source),
                   "answer": answers.get(item.dimension)} for item in result.dimensions]
    history = list(HealthSnapshot.objects.filter(opportunity=deal).order_by("taken_at", "pk")
                   .values_list("taken_at", "index")[:500])
    chart = {"dates": [moment.strftime("%Y-%m-%d %H:%M") for moment, _index in history],
             "values": [index for _moment, index in history], "labels": {"index": _("健康度")}}
    return {"health": {"index": result.index, "level": health_level(result.index), "dimensions": dimensions,
                       "flags": health.flag_messages(result.flags)},
            "health_chart": chart, "answer_levels": AnswerLevel.choices}


def history_rows(deal: Opportunity) -> list[dict[str, Any]]:
    rows = []
    for row in StageHistory.objects.filter(opportunity=deal).select_related("stage", "moved_by").order_by(
            "entered_at", "pk"):
        end = row.exited_at
        rows.append({"row": row, "days": None if end is None else max(0, (end - row.entered_at).days)})
    if rows and rows[-1]["row"].exited_at is None:
        rows[-1]["days"] = services.days_in_stage(deal)
    return rows


# --- the process editor --------------------------------------------------------------------------------
ERROR_PATH = re.compile(r"^stages\[(\d+)\](?:\.tasks\[(\d+)\])?\.(\w+)$")


def field_choices() -> list[tuple[str, str]]:
    """Field keys a stage may require: the catalogue and the opportunity custom fields."""
    from l2c.apps.activity.custom_fields import definitions

    return [*((key, str(label)) for key, label in FIELD_CATALOGUE.items()),
            *((f"cf.{field.key}", str(field.label)) for field in definitions("opportunity"))]


def _number(raw: str) -> int | str | None:
    """A form number: blank → None, digits → int, anything else stays text so the service says
    what is wrong with it."""
    text = raw.strip()
    if not text:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else text


def process_rows_from_post(post: Any) -> list[dict[str, Any]]:
    """The stage rows of the editor form (names stages-<n>-…, tasks stages-<n>-tasks-<m>-…), in
    the order of their "order" values. Empty new task rows are dropped."""
    count = min(int(post.get("stage_count") or 0), 50) if str(post.get("stage_count") or "0").isdigit() else 0
    stages = []
    for index in range(count):
        prefix = f"stages-{index}-"
        if prefix + "name" not in post:
            continue
        task_count = post.get(prefix + "task_count") or "0"
        tasks = []
        for number in range(min(int(task_count), 50) if task_count.isdigit() else 0):
            task_prefix = f"{prefix}tasks-{number}-"
            title = (post.get(task_prefix + "title") or "").strip()
            task_id = _number(post.get(task_prefix + "id") or "")
            if post.get(task_prefix + "remove") or (not title and not task_id):
                continue
            tasks.append({"id": task_id if isinstance(task_id, int) else None, "title": title,
                          "required": bool(post.get(task_prefix + "required"))})
        stage_id = _number(post.get(prefix + "id") or "")
        stages.append({"id": stage_id if isinstance(stage_id, int) else None,
                       "name": (post.get(prefix + "name") or "").strip(),
                       "kind": post.get(prefix + "kind") or StageKind.OPEN,
                       "probability": _number(post.get(prefix + "probability") or ""),
                       "forecast_category": post.get(prefix + "forecast_category") or "",
                       "norm_days": _number(post.get(prefix + "norm_days") or ""),
                       "entry_fields": post.getlist(prefix + "entry_fields"),
                       "exit_fields": post.getlist(prefix + "exit_fields"),
                       "description": (post.get(prefix + "description") or "").strip()[:300],
                       "tasks": tasks})
    return stages


def process_rows_from_model(process: SalesProcess) -> list[dict[str, Any]]:
    rows = []
    for stage in process.stages.order_by("position").prefetch_related("tasks"):
        rows.append({"id": stage.pk, "name": stage.name, "kind": stage.kind, "probability": stage.probability,
                     "forecast_category": stage.forecast_category, "norm_days": stage.norm_days,
                     "entry_fields": list(stage.entry_fields), "exit_fields": list(stage.exit_fields),
                     "description": stage.description,
                     "tasks": [{"id": task.pk, "title": task.title, "required": task.required}
                               for task in stage.tasks.all()]})
    return rows


def apply_row_op(rows: list[dict[str, Any]], op: str) -> list[dict[str, Any]]:
    """The editor's row buttons, applied to the posted rows without saving: add_stage,
    remove:<n>, up:<n>, down:<n>, add_task:<n>."""
    name, _sep, raw = op.partition(":")
    index = int(raw) if raw.isdigit() else -1
    if name == "add_stage":
        # A new open stage goes before the closing (won/lost) stages.
        position = next((number for number, row in enumerate(rows) if row["kind"] != StageKind.OPEN), len(rows))
        rows.insert(position, {"id": None, "name": "", "kind": StageKind.OPEN, "probability": 10,
                               "forecast_category": "pipeline", "norm_days": None, "entry_fields": [],
                               "exit_fields": [], "description": "", "tasks": []})
    elif 0 <= index < len(rows):
        if name == "remove":
            rows.pop(index)
        elif name == "up" and index > 0:
            rows[index - 1], rows[index] = rows[index], rows[index - 1]
        elif name == "down" and index < len(rows) - 1:
            rows[index + 1], rows[index] = rows[index], rows[index + 1]
        elif name == "add_task":
            rows[index]["tasks"].append({"id": None, "title": "", "required": True, "new": True})
    return rows


def attach_errors(rows: list[dict[str, Any]], errors: Sequence[FieldError]) -> list[str]:
    """Put each field error of a process save next to its stage or task row (`row["errors"]`,
    `task["errors"]`); returns the messages that belong to the whole form."""
    general: list[str] = []
    for row in rows:
        row["errors"] = []
        for task in row["tasks"]:
            task["errors"] = []
    for error in errors:
        match = ERROR_PATH.match(error.field)
        if match is None or int(match.group(1)) >= len(rows):
            general.append(error.message)
            continue
        row = rows[int(match.group(1))]
        if match.group(2) is not None and int(match.group(2)) < len(row["tasks"]):
            row["tasks"][int(match.group(2))]["errors"].append(error.message)
        else:
            row["errors"].append(error.message)
    return general
