"""Batch duplicate detection, the review queue (API and page), dismiss, and merge/undo from the UI."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from l2c.apps.activity.models import AuditEvent, JobRun
from l2c.apps.customers import dedup_batch, merge
from l2c.apps.customers.models import Account, DuplicateCandidate, DuplicateGroup, RecordMerge
from tests.conftest import make_account

pytestmark = pytest.mark.django_db

LABELLED = {
    "A": [("北京星河科技有限公司", {}), ("星河科技(北京)有限公司", {}), ("北京星河科技股份有限公司", {})],
    "B": [("上海远航物流有限公司", {}), ("上海远航物流有限责任公司", {})],
    "C": [("成都天府软件有限公司", {"phone": "028-85551234"}), ("四川锦城信息技术有限公司", {"phone": "028-85551234"})],
    "D": [("苏州恒达精密机械有限公司", {}), ("苏州恒达精密机械所有限公司", {})],  # one insertion: core meets deletion
    # Not duplicates: one substitution in a short name scores 75–83, under every rule.
    "single": [("广州远景电子有限公司", {}), ("广州远景电器有限公司", {}), ("南京紫金文化传媒有限公司", {}),
               ("南京紫金文化传播有限公司", {}), ("武汉长江重工有限公司", {})],
}


def _labelled(owner: Any) -> dict[str, list[int]]:
    return {label: [make_account(owner, name, **fields).pk for name, fields in records]
            for label, records in LABELLED.items()}


def _open_groups() -> dict[frozenset[int], DuplicateGroup]:
    return {frozenset(group.candidates.values_list("record_id", flat=True)): group
            for group in DuplicateGroup.objects.filter(status="open")}


def test_batch_finds_exactly_the_labelled_clusters(org: Any) -> None:
    ids = _labelled(org["rep1"])

    result = dedup_batch.duplicates_batch_run(object_type="account")

    groups = _open_groups()
    assert set(groups) == {frozenset(ids[label]) for label in "ABCD"}
    assert (result.groups, result.records) == (4, 9)
    assert {(groups[frozenset(ids[label])].score, groups[frozenset(ids[label])].rule) for label in "ABCD"} == {
        (100, "name_close"), (100, "phone"), (92, "name_close")}
    assert groups[frozenset(ids["C"])].rule == "phone"
    assert groups[frozenset(ids["D"])].score == 92
    candidate = DuplicateCandidate.objects.get(record_id=ids["C"][0])
    assert candidate.score == 100
    assert candidate.reasons == [{"code": "phone_equal", "values": {"value": "02885551234"}, "with": ids["C"][1],
                                  "rule": "phone"}]


def test_a_rerun_replaces_open_groups_and_dismissed_groups_do_not_come_back(org: Any) -> None:
    ids = _labelled(org["rep1"])
    dedup_batch.duplicates_batch_run(object_type="account")
    group_b = _open_groups()[frozenset(ids["B"])]

    dismissed = dedup_batch.duplicate_group_dismiss(actor=org["manager"], group_id=group_b.pk)
    assert dismissed.status == "dismissed" and dismissed.resolved_by == org["manager"]
    event = AuditEvent.objects.get(object_type="duplicate_group", object_id=group_b.pk)
    assert event.changes == {"status": ["open", "dismissed"], "records": [None, sorted(ids["B"])]}
    dedup_batch.duplicates_batch_run(object_type="account")

    assert set(_open_groups()) == {frozenset(ids[label]) for label in "ACD"}
    assert DuplicateGroup.objects.get(pk=group_b.pk).status == "dismissed"
    assert DuplicateGroup.objects.count() == 4  # three new open groups, the dismissed one kept

    newcomer = make_account(org["rep1"], "上海远航物流股份有限公司").pk
    dedup_batch.duplicates_batch_run(object_type="account")
    assert frozenset([*ids["B"], newcomer]) in _open_groups()  # changed: a new record joins them


def test_name_only_pairs_of_different_cities_are_not_grouped(org: Any) -> None:
    rep1 = org["rep1"]
    suzhou = make_account(rep1, "苏州恒达精密机械有限公司", city="苏州市").pk
    wuxi = make_account(rep1, "无锡恒达精密机械设有限公司", city="无锡市").pk  # names 92 and 86, another city
    same_city = make_account(rep1, "苏州恒达精密机械所有限公司", city="苏州市").pk
    phone_a = make_account(rep1, "杭州远景电子有限公司", city="杭州市", phone="0571-88886666").pk
    phone_b = make_account(rep1, "宁波远景电子有限公司", city="宁波市", phone="0571-88886666").pk

    result = dedup_batch.duplicates_batch_run(object_type="account")

    assert set(_open_groups()) == {frozenset([suzhou, same_city]), frozenset([phone_a, phone_b])}
    assert not DuplicateCandidate.objects.filter(record_id=wuxi).exists()
    assert result.region_pairs_skipped == 2  # wuxi with each of the other two
    assert set(result.seconds) == {"pairs", "scoring", "writing"}


def test_key_cap_skips_keys_held_by_too_many_records(org: Any) -> None:
    ids = _labelled(org["rep1"])
    dedup_batch.duplicates_batch_run(object_type="account", key_cap=2)
    # Cluster A's core name is held by three records: over the cap, so A is not found.
    assert frozenset(ids["A"]) not in _open_groups()
    assert frozenset(ids["B"]) in _open_groups()


def test_candidate_pairs_join_cores_with_deletions_and_brands_across_scripts_only(org: Any) -> None:
    from l2c.apps.customers import duplicates

    shorter = make_account(org["rep1"], "苏州恒达精密机械有限公司").pk  # core 恒达精密机械
    longer = make_account(org["rep1"], "无锡恒达精密机械所有限公司").pk  # one insertion: its deletion is that core
    same = make_account(org["rep3"], "杭州恒达精密机械有限公司").pk  # the same core
    chinese = make_account(org["rep1"], "深圳星河智能科技有限公司").pk  # brand pinyin xinghe
    other_chinese = make_account(org["rep3"], "广州星河电子商务有限公司").pk  # the same brand pinyin, another core
    latin = make_account(org["rep1"], "Xinghe Technology Co., Ltd.").pk  # Latin brand xinghe
    rules = duplicates.active_rules("account")

    left, right = dedup_batch.candidate_pairs("account", rules)
    capped = dedup_batch.candidate_pairs("account", rules, key_cap=2)

    pairs = set(zip(left, right, strict=True))
    assert {(shorter, longer), (shorter, same), (longer, same)} <= pairs
    assert {(chinese, latin), (other_chinese, latin)} <= pairs
    assert (chinese, other_chinese) not in pairs  # one script's brands never meet each other
    assert list(left) == sorted(left)
    # 恒达精密机械 is held as a core by two records and as a deletion by one: a group of three, over 2,
    # so the longer name is not paired; the two equal cores still share their own deletions (达精密机械 …)
    # by two. The brand group xinghe holds three records: over 2 too.
    capped_pairs = set(zip(*capped, strict=True))
    assert capped_pairs & {(shorter, longer), (shorter, same), (longer, same)} == {(shorter, same)}
    assert capped_pairs & {(chinese, latin), (other_chinese, latin)} == set()


def test_queue_is_visibility_filtered_with_hidden_counts(org: Any, api_client_for: Any) -> None:
    rep1, rep3 = org["rep1"], org["rep3"]
    mine = [make_account(rep1, "北京星河科技有限公司").pk, make_account(rep1, "星河科技(北京)有限公司").pk]
    theirs = make_account(rep3, "北京星河科技股份有限公司").pk
    pair_of_rep3 = [make_account(rep3, "上海远航物流有限公司").pk, make_account(rep3, "上海远航物流有限责任公司").pk]
    dedup_batch.duplicates_batch_run(object_type="account")

    body = api_client_for("rep1").get("/api/v1/duplicates/groups").json()
    assert [sorted(record["id"] for record in item["records"]) for item in body["items"]] == [sorted(mine)]
    assert body["items"][0]["hidden_records"] == 1 and body["items"][0]["size"] == 3
    assert theirs not in [record["id"] for record in body["items"][0]["records"]]
    body = api_client_for("rep3").get("/api/v1/duplicates/groups").json()
    assert [sorted(record["id"] for record in item["records"]) for item in body["items"]] == [sorted(pair_of_rep3)]
    body = api_client_for("admin").get("/api/v1/duplicates/groups").json()
    assert len(body["items"]) == 2 and all(item["hidden_records"] == 0 for item in body["items"])
    group_id = DuplicateCandidate.objects.get(record_id=theirs).group_id
    assert api_client_for("rep3").get(f"/api/v1/duplicates/groups/{group_id}").status_code == 404
    # rep1 sees two of three: may not dismiss for everybody.
    response = api_client_for("rep1").post(f"/api/v1/duplicates/groups/{group_id}/dismiss")
    assert response.status_code == 403
    assert DuplicateGroup.objects.get(pk=group_id).status == "open"


def test_api_pages_through_groups_with_a_cursor(org: Any, api_client_for: Any) -> None:
    _labelled(org["rep1"])
    dedup_batch.duplicates_batch_run(object_type="account")
    client = api_client_for("manager")
    first = client.get("/api/v1/duplicates/groups?limit=3").json()
    second = client.get(f"/api/v1/duplicates/groups?limit=3&cursor={first['next_cursor']}").json()
    assert [item["score"] for item in first["items"]] == [100, 100, 100]
    assert [item["score"] for item in second["items"]] == [92] and second["next_cursor"] is None
    bad = client.get("/api/v1/duplicates/groups?cursor=x")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cursor"


def _queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_queue_page_and_api_use_a_constant_number_of_queries(org: Any, client: Any, api_client_for: Any) -> None:
    rep1 = org["rep1"]
    make_account(rep1, "北京星河科技有限公司")
    make_account(rep1, "星河科技(北京)有限公司")
    dedup_batch.duplicates_batch_run(object_type="account")
    client.force_login(org["manager"])
    api = api_client_for("manager")
    api.get("/api/v1/duplicates/groups")  # the token's first use is recorded once
    page_small, api_small = _queries(client, "/duplicates/"), _queries(api, "/api/v1/duplicates/groups")
    _labelled(rep1)
    dedup_batch.duplicates_batch_run(object_type="account")
    assert len(_open_groups()) == 4
    assert _queries(client, "/duplicates/") == page_small
    assert _queries(api, "/api/v1/duplicates/groups") == api_small


def test_batch_job_over_the_api_is_for_managers_and_runs_as_a_job(org: Any, api_client_for: Any,
                                                                  django_capture_on_commit_callbacks: Any) -> None:
    ids = _labelled(org["rep1"])
    denied = api_client_for("rep1").post("/api/v1/duplicates/batch", {}, content_type="application/json")
    assert denied.status_code == 403
    assert not JobRun.objects.filter(name=dedup_batch.JOB_NAME).exists()

    client = api_client_for("manager")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/duplicates/batch", {"object": "account"}, content_type="application/json")

    assert response.status_code == 202
    run = JobRun.objects.get(pk=response.json()["id"])
    assert run.status == JobRun.Status.SUCCEEDED  # the immediate test backend ran it
    assert "4 groups" in run.log and run.total == run.progress
    assert set(_open_groups()) == {frozenset(ids[label]) for label in "ABCD"}
    assert {group.job_run_id for group in DuplicateGroup.objects.all()} == {run.pk}


def test_compare_page_merges_and_the_log_undoes(org: Any, client: Any) -> None:
    ids = _labelled(org["rep1"])
    Account.objects.filter(pk=ids["B"][1]).update(phone="021-66668888")
    dedup_batch.duplicates_batch_run(object_type="account")
    group = _open_groups()[frozenset(ids["B"])]
    client.force_login(org["manager"])

    page = client.get(f"/duplicates/{group.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="field:phone"' in html and "上海远航物流有限责任公司" in html
    response = client.post(f"/duplicates/{group.pk}/", {
        "survivor": ids["B"][0], "merge": [ids["B"][0], ids["B"][1]], "field:phone": ids["B"][1]})

    assert response.status_code == 302 and response["Location"] == f"/accounts/{ids['B'][0]}/"
    assert Account.objects.get(pk=ids["B"][0]).phone == "021-66668888"
    assert not Account.objects.filter(pk=ids["B"][1]).exists()
    group.refresh_from_db()
    assert (group.status, group.size) == ("merged", 1)
    record = RecordMerge.objects.get()
    assert record.group_id == group.pk

    log = client.get("/merges/")
    assert "撤销合并" in log.content.decode()
    undo = client.post(f"/merges/{record.pk}/undo/")
    assert undo.status_code == 302 and undo["Location"] == f"/accounts/{ids['B'][1]}/"
    assert Account.objects.get(pk=ids["B"][1]).name == "上海远航物流有限责任公司"
    assert Account.objects.get(pk=ids["B"][0]).phone == ""
    group.refresh_from_db()
    assert (group.status, group.size) == ("open", 2)  # back in the queue


def test_compare_page_refuses_a_merge_without_delete_permission(org: Any, client: Any) -> None:
    ids = _labelled(org["rep1"])
    dedup_batch.duplicates_batch_run(object_type="account")
    group = _open_groups()[frozenset(ids["B"])]
    client.force_login(org["rep1"])
    with translation.override("zh-hans"):
        response = client.post(f"/duplicates/{group.pk}/", {"survivor": ids["B"][0], "merge": ids["B"]},
                               HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 422
    assert "没有删除它的权限" in response.content.decode()
    assert Account.objects.filter(pk__in=ids["B"]).count() == 2
    assert not RecordMerge.objects.exists()


def test_merge_dismiss_and_undo_texts_in_english(org: Any, api_client_for: Any) -> None:
    ids = _labelled(org["rep1"])
    [record] = merge.accounts_merge(actor=org["manager"], survivor_id=ids["B"][0], merged_ids=[ids["B"][1]])
    Account.objects.filter(pk=ids["B"][0]).update(version=99)
    response = api_client_for("manager").post(f"/api/v1/merges/{record.pk}/undo", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 409
    assert response.json()["detail"].startswith("The surviving account")


def test_queue_page_names_visible_records_counts_hidden_ones_in_both_languages(org: Any, client: Any) -> None:
    rep1, rep3 = org["rep1"], org["rep3"]
    mine = [make_account(rep1, "北京星河科技有限公司").pk, make_account(rep1, "星河科技(北京)有限公司").pk]
    make_account(rep3, "北京星河科技股份有限公司")
    dedup_batch.duplicates_batch_run(object_type="account")
    client.force_login(rep1)

    chinese = client.get("/duplicates/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    english = client.get("/duplicates/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "北京星河科技有限公司" in chinese and "北京星河科技股份有限公司" not in chinese
    assert "另有 1 个你无权查看的客户" in chinese and "名称高度相似" in chinese and "比较并合并" in chinese
    assert "and 1 account you may not see" in english and "Compare and merge" in english
    assert "Possible duplicate accounts" in english
    assert f'href="/duplicates/{DuplicateCandidate.objects.get(record_id=mine[0]).group_id}/"' in chinese


def test_changing_the_survivor_on_the_compare_page_shows_the_choices_again_instead_of_merging(
        org: Any, client: Any) -> None:
    ids = _labelled(org["rep1"])
    dedup_batch.duplicates_batch_run(object_type="account")
    group = _open_groups()[frozenset(ids["B"])]
    client.force_login(org["manager"])
    page = client.get(f"/duplicates/{group.pk}/")
    rendered_for = page.context["survivor_id"]
    other = next(pk for pk in ids["B"] if pk != rendered_for)

    response = client.post(f"/duplicates/{group.pk}/", {"rendered_for": rendered_for, "survivor": other,
                                                        "merge": ids["B"]})

    assert response.status_code == 422
    assert "保留的客户已更改" in response.content.decode()
    assert response.context["survivor_id"] == other
    assert Account.objects.filter(pk__in=ids["B"]).count() == 2 and not RecordMerge.objects.exists()
