"""The lead import commit is set-based (new leads inserted, same-person leads filled, keyed, audited
and rescored per chunk, not per row). Its records, audit events and duplicate keys are pinned here
to what the former per-row commit (`_capture_into` per matching row, ORM `bulk_create` of the new
rows) produced for the same file, and its query count is bounded whatever the number of rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from l2c.apps.activity import imports
from l2c.apps.activity.models import AuditEvent
from l2c.apps.customers.models import DuplicateKey
from l2c.apps.leads import services
from l2c.apps.leads.models import Lead
from tests.apps.activity.test_imports import commit, csv_bytes, upload
from tests.apps.marketing.helpers import make_campaign

pytestmark = pytest.mark.django_db

HEADER = ["姓名", "公司", "职务", "手机", "邮箱", "省份", "负责人", "市场活动"]


def _state() -> dict[str, Any]:
    """Every lead (by name) with its fields, and its audit events and duplicate keys."""
    leads = {}
    for lead in Lead.objects.order_by("pk"):
        events = [(event.action, event.summary, event.object_repr, event.changes)
                  for event in AuditEvent.objects.filter(object_type="lead", object_id=lead.pk).order_by("pk")]
        keys = sorted(DuplicateKey.objects.filter(object_type="lead", record_id=lead.pk).values_list("key", flat=True))
        leads[lead.name] = {
            "fields": {name: getattr(lead, name) for name in (
                "company", "title", "mobile", "email", "province", "source", "status", "search_text", "version",
                "custom", "score", "score_band")},
            "scored": lead.scored_at is not None,
            "owner": lead.owner.username if lead.owner else None,
            "campaign": lead.campaign.name if lead.campaign else None,
            "department_id": lead.department_id, "held": lead.held_since is not None,
            "events": events, "keys": keys,
        }
    return leads


def test_set_based_commit_matches_the_per_row_commit(org: Any, django_capture_on_commit_callbacks: Any) -> None:
    marketing = org["marketing"]
    campaign = make_campaign(marketing, name="春季峰会")
    zhang = services.lead_create(actor=marketing, data={"name": "张伟", "mobile": "13800138000"})
    li = services.lead_create(actor=marketing, data={"name": "李娜", "email": "ln@example.com"})
    rows = [
        ["张伟", "杭州云帆", "", "+86 138 0013 8000", "zw@example.com", "浙江", "", "春季峰会"],  # fills 张伟
        ["张伟", "别的公司", "IT 经理", "13800138000", "", "江苏", "", ""],  # fills 张伟's title only
        ["王芳", "苏州智造", "", "13700137000", "", "江苏", "rep1", ""],  # new, owned by rep1
        ["王芳", "", "采购", "13700137000", "wf@example.com", "", "", ""],  # merged into row 3
        ["赵磊", "南京数科", "", "", "zl@example.com", "江苏", "", str(campaign.pk)],  # new, unowned
        ["", "北京星河", "", "13600136000", "ln@example.com", "", "", ""],  # fills 李娜, re-keyed
        ["张伟", "", "", "13800138000", "", "", "", ""],  # 张伟 again: nothing left to fill
    ]
    job = upload(marketing, csv_bytes([HEADER, *rows]), file_name="leads.csv", object_type="lead")
    job = imports.import_validate(actor=marketing, import_id=job.pk)
    assert job.errors == []
    job = commit(marketing, job, django_capture_on_commit_callbacks)
    assert (job.status, job.created_rows) == ("done", 2)

    state = _state()
    created = {"city": [None, ""], "company": [None, ""], "custom": [None, {}],
               "department": [None, marketing.department_id], "description": [None, ""],
               "disqualified_reason": [None, ""], "email": [None, ""], "industry": [None, ""], "mobile": [None, ""],
               "owner": [None, marketing.pk], "phone": [None, ""], "province": [None, ""], "size": [None, ""],
               "source": [None, ""], "status": [None, "new"], "title": [None, ""], "wechat": [None, ""]}
    unscored = {"score": 0, "score_band": "D", "custom": {}, "status": "new"}
    assert state == {
        "张伟": {
            "fields": {**unscored, "company": "杭州云帆", "title": "IT 经理", "mobile": "13800138000",
                       "email": "zw@example.com", "province": "浙江", "source": "", "version": 3,
                       "search_text": "张 伟 zhangwei 杭 州 云 帆 hangzhouyunfan 13800138000 zw example com 张伟 "
                                      "杭州 州云 云帆 zw hzyf zyf yf"},
            "scored": True, "owner": "marketing", "campaign": "春季峰会", "department_id": marketing.department_id,
            "held": True,
            "events": [
                ("create", "ui", "张伟", {**created, "name": [None, "张伟"], "mobile": [None, "13800138000"]}),
                ("update", "import", "张伟", {"campaign": [None, campaign.pk], "company": ["", "杭州云帆"],
                                            "email": ["", "zw@example.com"], "province": ["", "浙江"]}),
                ("update", "import", "张伟", {"title": ["", "IT 经理"]}),
            ],
            "keys": ["brandpy:yunfan", "core:云帆", "email:zw@example.com", "phone:13800138000"],
        },
        "李娜": {
            "fields": {**unscored, "company": "北京星河", "title": "", "mobile": "13600136000",
                       "email": "ln@example.com", "province": "", "source": "", "version": 2,
                       "search_text": "李 娜 lina 北 京 星 河 beijingxinghe 13600136000 ln example com 李娜 北京 京星 "
                                      "星河 ln bjxh jxh xh"},
            "scored": True, "owner": "marketing", "campaign": None, "department_id": marketing.department_id,
            "held": True,
            "events": [
                ("create", "ui", "李娜", {**created, "name": [None, "李娜"], "email": [None, "ln@example.com"]}),
                ("update", "import", "李娜", {"company": ["", "北京星河"], "mobile": ["", "13600136000"]}),
            ],
            "keys": ["brandpy:xinghe", "core:星河", "email:ln@example.com", "phone:13600136000"],
        },
        "王芳": {
            "fields": {**unscored, "company": "苏州智造", "title": "采购", "mobile": "13700137000",
                       "email": "wf@example.com", "province": "江苏", "source": "import", "version": 1,
                       "search_text": "王 芳 wangfang 苏 州 智 造 suzhouzhizao 13700137000 wf example com 王芳 苏州 "
                                      "州智 智造 wf szzz zzz zz"},
            "scored": True, "owner": "rep1", "campaign": None, "department_id": org["rep1"].department_id,
            "held": True,
            "events": [("import", "", "王芳", {
                "company": [None, "苏州智造"], "email": [None, "wf@example.com"], "mobile": [None, "13700137000"],
                "name": [None, "王芳"], "owner": [None, "rep1"], "province": [None, "江苏"],
                "source": [None, "import"], "title": [None, "采购"]})],
            "keys": ["brandpy:suzhouzhizao", "core:苏州智造", "del:州智造", "del:苏州智", "del:苏州造", "del:苏智造",
                     "email:wf@example.com", "phone:13700137000"],
        },
        "赵磊": {
            "fields": {**unscored, "company": "南京数科", "title": "", "mobile": "", "email": "zl@example.com",
                       "province": "江苏", "source": "import", "version": 1,
                       "search_text": "赵 磊 zhaolei 南 京 数 科 nanjingshuke zl example com 赵磊 南京 京数 数科 "
                                      "zl njsk jsk sk"},
            "scored": True, "owner": None, "campaign": "春季峰会", "department_id": None, "held": False,
            "events": [("import", "", "赵磊", {
                "campaign": [None, "春季峰会"], "company": [None, "南京数科"], "email": [None, "zl@example.com"],
                "name": [None, "赵磊"], "province": [None, "江苏"], "source": [None, "import"]})],
            "keys": ["brandpy:shuke", "core:数科", "email:zl@example.com"],
        },
    }
    assert zhang.pk < li.pk < Lead.objects.get(name="王芳").pk < Lead.objects.get(name="赵磊").pk


def _commit_queries(org: Any, capture: Any, people: int, offset: int) -> int:
    """Queries of committing a file of `people` rows filling stored leads and `people` new rows."""
    marketing = org["marketing"]
    numbers = range(offset, offset + people)
    for index in numbers:
        services.lead_create(actor=marketing, data={"name": f"旧{index}", "mobile": f"1380000{index:04d}"})
    rows = [[f"旧{index}", f"公司{index}", "经理", f"1380000{index:04d}", f"old{index}@example.com", "浙江", "", ""]
            for index in numbers]
    rows += [[f"新{index}", f"新公司{index}", "", f"1390000{index:04d}", "", "江苏", "rep1" if index % 2 else "", ""]
             for index in numbers]
    job = upload(marketing, csv_bytes([HEADER, *rows]), file_name="leads.csv", object_type="lead")
    job = imports.import_validate(actor=marketing, import_id=job.pk)
    assert (job.valid_rows, job.error_count, job.warning_count) == (2 * people, 0, people)
    filled_before = AuditEvent.objects.filter(object_type="lead", action="update", summary="import").count()
    with CaptureQueriesContext(connection) as queries:
        job = commit(marketing, job, capture)
    assert job.created_rows == people
    assert Lead.objects.filter(email__startswith="old", title="经理").count() == offset + people
    assert AuditEvent.objects.filter(object_type="lead", action="update", summary="import").count() == (
        filled_before + people)
    return len(queries)


def test_commit_queries_do_not_grow_with_the_rows(org: Any, django_capture_on_commit_callbacks: Any) -> None:
    # Filling a stored lead took ~10 queries a row and each owner one more; the set-based commit
    # (and the validation's owner check, asked once per owner) take as many for 6 rows as for 60.
    few = _commit_queries(org, django_capture_on_commit_callbacks, 3, 0)
    many = _commit_queries(org, django_capture_on_commit_callbacks, 30, 3)
    assert few == many
