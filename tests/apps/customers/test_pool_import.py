"""Account import under the public-pool rules: the "pool" column puts accounts into a pool or under
its rules, with the cap checked per owner across the file."""

from __future__ import annotations

import datetime as dt

import pytest

from l2c.apps.activity import imports
from l2c.apps.activity.models import ImportJob
from l2c.apps.customers.models import Account
from tests.apps.activity.test_imports import commit, csv_bytes, upload
from tests.conftest import make_account

pytestmark = pytest.mark.django_db


def _pool(org, **rules):
    from l2c.apps.customers.pool import pool_save

    return pool_save(actor=org["admin"], data={"name": "华北公海", "member_department_ids": [org.north.pk], **rules})


def test_rows_go_into_the_pool_or_are_held_under_it_and_unknown_pools_are_row_errors(
        org, django_capture_on_commit_callbacks):
    pool = _pool(org, protection_days=10)
    content = csv_bytes([
        ["客户名称", "负责人", "公海"],
        ["北京入海一有限公司", "", "华北公海"],
        ["北京持有一有限公司", "rep1", "华北公海"],
        ["北京无海一有限公司", "rep1", ""],
        ["北京错海一有限公司", "", "不存在的公海"],
    ])
    manager = org["manager"]
    job = upload(manager, content)
    job = imports.import_validate(actor=manager, import_id=job.pk)
    assert job.errors == [{"row": 4, "column": "公海", "field": "pool",
                           "message": "没有名为“不存在的公海”的公海，或你不是它的成员"}]

    commit(manager, job, django_capture_on_commit_callbacks)

    rows = {a.name: a for a in Account.objects.all()}
    pooled, held, plain = rows["北京入海一有限公司"], rows["北京持有一有限公司"], rows["北京无海一有限公司"]
    assert (pooled.owner_id, pooled.pool_id, pooled.department_id) == (None, pool.pk, org.north.pk)
    assert pooled.pool_entered_at is not None
    assert (held.owner_id, held.pool_id) == (org["rep1"].pk, pool.pk)
    assert held.reclaim_due_at == held.held_since + dt.timedelta(days=10)
    assert (plain.pool_id, plain.held_since, plain.reclaim_due_at) == (None, None, None)


def test_the_cap_counts_existing_holds_and_the_rows_of_the_file(org, django_capture_on_commit_callbacks):
    from l2c.apps.customers.pool import holds_start

    pool = _pool(org, max_held_per_rep=2)
    existing = make_account(org["rep1"], "北京已持有有限公司")
    holds_start(account_ids=[existing.pk], owner=org["rep1"], pool=pool, actor=org["admin"])
    content = csv_bytes([
        ["客户名称", "负责人", "公海"],
        ["北京上限甲有限公司", "rep1", "华北公海"],
        ["北京上限乙有限公司", "rep1", "华北公海"],
        ["北京上限丙有限公司", "rep2", "华北公海"],
    ])
    manager = org["manager"]
    job = upload(manager, content)

    job = imports.import_validate(actor=manager, import_id=job.pk)

    assert job.errors == [{"row": 2, "column": "负责人", "field": "owner",
                           "message": "负责人在公海“华北公海”下的持有数将超过上限 2 个"}]
    job = commit(manager, job, django_capture_on_commit_callbacks)
    assert job.status == ImportJob.Status.DONE
    assert sorted(Account.objects.filter(pool=pool).values_list("name", flat=True)) == [
        "北京上限丙有限公司", "北京上限甲有限公司", "北京已持有有限公司"]
