"""ROI of a 3-level campaign tree and won-revenue attribution, computed by hand.

Tree (ids in creation order R < A < B < A1):
    R 2026 华东行业峰会系列   costs: 8,000 actual (10,000 planned) + 2,000 planned  → own cost 10,000 元
    ├ A 杭州站               cost: 6,000 actual (5,000 planned)                    → 6,000 元
    │ └ A1 杭州站·分论坛      cost: 1,000 actual (1,500 planned)                    → 1,000 元
    └ B 上海站               cost: 3,000 planned                                    → 3,000 元
Rolled up: R 20,000 元; A 7,000 元; B 3,000 元.

Leads (Lead.campaign): A 3 (one qualified, one converted), A1 2 (one qualified), B 1 → R: 6 leads, 3 qualified.

Account 杭州云帆 wins 30,000.01 元 (3,000,001 fen) today. Touches of its people, before the win:
contact 王强 registered for A 20 days ago, contact 李娜 checked in at A1 15 days ago (walk-in), the lead
converted into the account registered for B 10 days ago. Not touches: contact 赵敏 only invited to R; a
converted lead marked no-show at B.
    first touch → A 3,000,001; last touch → B 3,000,001;
    linear over {A, B, A1} (by id): 3,000,001 / 3 = 1,000,000 r 1 → A 1,000,001, B 1,000,000, A1 1,000,000.
Rolled up: R linear 3,000,001, A linear 2,000,001 (A + A1), A first 3,000,001.
ROI (linear) R = (3,000,001 − 2,000,000) / 2,000,000 = 0.5000005 → 0.5000;
    A = (2,000,001 − 700,000) / 700,000 = 1.857144… → 1.8571; B = (1,000,000 − 300,000) / 300,000 → 2.3333;
    B last touch = (3,000,001 − 300,000) / 300,000 = 9.0000033… → 9.0000; B first touch → −1.0000.
Cost per lead R = 2,000,000 / 6 = 333,333.33 → 333,333 fen.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.apps.marketing.helpers import make_campaign, make_lead
from tests.conftest import make_account, make_contact


@pytest.fixture
def tree(org):
    from l2c.apps.marketing.services import cost_create

    user = org["marketing"]
    root = make_campaign(user, "2026 华东行业峰会系列")
    a = make_campaign(user, "杭州站", parent=root)
    b = make_campaign(user, "上海站", parent=root)
    a1 = make_campaign(user, "杭州站·分论坛", parent=a)
    for campaign, items in ((root, [("10000", "8000"), ("2000", "")]), (a, [("5000", "6000")]),
                            (a1, [("1500", "1000")]), (b, [("3000", None)])):
        for planned, actual in items:
            data = {"category": "场地", "planned": planned}
            if actual is not None:
                data["actual"] = actual
            cost_create(actor=user, campaign_id=campaign.pk, data=data)
    return root, a, b, a1


def _member(campaign, *, lead=None, contact=None, status, days_ago, stamp):
    from l2c.apps.marketing.models import CampaignMember
    from l2c.apps.marketing.services import new_token

    at = timezone.now() - dt.timedelta(days=days_ago)
    return CampaignMember.objects.create(campaign=campaign, lead=lead, contact=contact, status=status,
                                         checkin_token=new_token(), **{stamp: at})


@pytest.fixture
def touched(org, tree):
    root, a, b, a1 = tree
    rep = org["rep1"]
    account = make_account(rep, "杭州云帆信息技术有限公司")
    wang = make_contact(rep, account, "王强")
    li = make_contact(rep, account, "李娜")
    zhao = make_contact(rep, account, "赵敏")
    converted = make_lead(rep, "转化线索", status="converted", converted_account=account)
    absent = make_lead(rep, "缺席线索", status="converted", converted_account=account)
    _member(a, contact=wang, status="registered", days_ago=20, stamp="registered_at")
    _member(a1, contact=li, status="checked_in", days_ago=15, stamp="checked_in_at")
    _member(b, lead=converted, status="registered", days_ago=10, stamp="registered_at")
    _member(b, lead=absent, status="no_show", days_ago=12, stamp="registered_at")
    _member(root, contact=zhao, status="invited", days_ago=25, stamp="invited_at")
    for campaign, statuses in ((a, ["new", "qualified", "converted"]), (a1, ["new", "qualified"]), (b, ["new"])):
        for index, status in enumerate(statuses):
            make_lead(rep, f"{campaign.name}{index}", campaign=campaign, status=status)
    return account


def _win(org, account, django_capture_on_commit_callbacks, reference="SO-1"):
    from l2c.apps.customers.rfm import transaction_create

    with django_capture_on_commit_callbacks(execute=True):
        return transaction_create(actor=org["rep1"], account_id=account.pk,
                                  data={"occurred_on": timezone.localdate().isoformat(), "amount": "30000.01",
                                        "reference": reference})


def test_attribution_of_a_recorded_transaction(org, tree, touched, django_capture_on_commit_callbacks):
    from l2c.apps.marketing.models import CampaignAttribution

    _root, a, b, a1 = tree
    record = _win(org, touched, django_capture_on_commit_callbacks)
    rows = {(row.model, row.campaign_id): row.amount for row in CampaignAttribution.objects.all()}
    assert rows == {("first_touch", a.pk): 3_000_001, ("last_touch", b.pk): 3_000_001,
                    ("linear", a.pk): 1_000_001, ("linear", b.pk): 1_000_000, ("linear", a1.pk): 1_000_000}
    assert set(CampaignAttribution.objects.values_list("source", "source_id", "account_id")) == {
        ("transaction", record.pk, touched.pk)}


def test_recording_the_same_win_twice_writes_nothing_more(org, tree, touched, django_capture_on_commit_callbacks):
    from l2c.apps.customers.pool import won_on
    from l2c.apps.marketing.attribution import campaign_record_won
    from l2c.apps.marketing.models import CampaignAttribution

    record = _win(org, touched, django_capture_on_commit_callbacks)
    assert campaign_record_won(account_id=touched.pk, amount=3_000_001, currency="CNY",
                               won_at=won_on(record.occurred_on), source="transaction", source_id=record.pk) == 0
    assert CampaignAttribution.objects.count() == 5


def test_imported_transactions_reach_the_attribution(org, tree, touched, django_capture_on_commit_callbacks):
    from l2c.apps.customers.rfm_importers import _commit
    from l2c.apps.marketing.models import CampaignAttribution

    _root, a, b, a1 = tree
    today = timezone.localdate()
    rows = [{"account_id": touched.pk, "occurred_on": today, "amount_minor": 600, "currency": "CNY",
             "reference": "IMP-1", "note": ""},
            {"account_id": touched.pk, "occurred_on": today - dt.timedelta(days=30), "amount_minor": 999,
             "currency": "CNY", "reference": "IMP-OLD", "note": ""}]
    with django_capture_on_commit_callbacks(execute=True):
        assert _commit(org["manager"], rows) == 2
    # The order 30 days ago predates every touch: only the new one is attributed (600 / 3 = 200 each).
    linear = dict(CampaignAttribution.objects.filter(model="linear").values_list("campaign_id", "amount"))
    assert linear == {a.pk: 200, b.pk: 200, a1.pk: 200}


def test_roi_of_the_tree_by_hand(org, tree, touched, django_capture_on_commit_callbacks):
    from l2c.apps.marketing.roi import campaign_tree_roi

    root, a, b, a1 = tree
    _win(org, touched, django_capture_on_commit_callbacks)
    roi = campaign_tree_roi(root)
    own = {pk: node.own for pk, node in roi.nodes.items()}
    assert {pk: figures.cost for pk, figures in own.items()} == {root.pk: 1_000_000, a.pk: 600_000, b.pk: 300_000,
                                                                 a1.pk: 100_000}
    r = roi.root.rollup
    assert (r.cost, r.planned_cost, r.actual_cost) == (2_000_000, 2_150_000, 1_500_000)
    assert (r.counts.leads, r.counts.qualified_leads) == (6, 3)
    assert dict(r.members) == {"invited": 1, "registered": 2, "checked_in": 1, "no_show": 1}
    assert r.registered_total == 4 and r.member_total == 5 and roi.people == 5
    assert dict(r.won) == {"first_touch": 3_000_001, "last_touch": 3_000_001, "linear": 3_000_001}
    assert r.won_deals == 1
    assert r.roi("linear") == Decimal("0.5000")
    assert r.cost_per_lead == 333_333
    children = {node.campaign_id: node.rollup for node in roi.children}
    assert list(children) == [a.pk, b.pk]
    assert children[a.pk].cost == 700_000 and children[a.pk].counts.leads == 5
    assert dict(children[a.pk].won) == {"first_touch": 3_000_001, "last_touch": 0, "linear": 2_000_001}
    assert children[a.pk].roi("linear") == Decimal("1.8571")
    assert children[b.pk].roi("linear") == Decimal("2.3333")
    assert children[b.pk].roi("last_touch") == Decimal("9.0000")
    assert children[b.pk].roi("first_touch") == Decimal("-1.0000")
    assert roi.nodes[a.pk].own.won["linear"] == 1_000_001


def test_no_cost_no_roi_and_no_leads_no_cost_per_lead(org):
    from l2c.apps.marketing.roi import campaign_tree_roi

    figures = campaign_tree_roi(make_campaign(org["marketing"])).root.rollup
    assert figures.roi("linear") is None and figures.cost_per_lead is None


def test_roi_costs_a_constant_number_of_queries(org, tree, touched):
    from l2c.apps.marketing.roi import campaign_tree_roi

    root = tree[0]
    with CaptureQueriesContext(connection) as small:
        campaign_tree_roi(root)
    parent = tree[3]
    for index in range(6):
        child = make_campaign(org["marketing"], f"更多{index}", parent=parent)
        make_lead(org["rep1"], f"更多线索{index}", campaign=child)
        parent = child if index % 2 else parent
    with CaptureQueriesContext(connection) as large:
        campaign_tree_roi(root)
    assert len(large) == len(small) <= 8


def test_attribution_rows_list_only_accounts_the_caller_may_see(org, tree, touched, api_client_for,
                                                                django_capture_on_commit_callbacks):
    _root, a, _b, _a1 = tree
    _win(org, touched, django_capture_on_commit_callbacks)
    owner = api_client_for("rep1").get(f"/api/v1/campaigns/{a.pk}/attributions").json()["items"]
    assert sorted((row["model"], row["amount"]) for row in owner) == [("first_touch", 3_000_001),
                                                                      ("linear", 1_000_001)]
    # rep3 (another department) may view the campaign but not 杭州云帆: no rows, the totals stay in the ROI.
    other = api_client_for("rep3")
    assert other.get(f"/api/v1/campaigns/{a.pk}/attributions").json()["items"] == []
    roi = other.get(f"/api/v1/campaigns/{a.pk}/roi").json()
    assert roi["figures"]["won"] == {"first_touch": 3_000_001, "last_touch": 0, "linear": 1_000_001}


def test_rollup_counts_each_person_and_deal_once_by_hand(org):
    """R ├ A └ A1, R └ B.  Lead L: invited at A, registered at B.  Contact C: invited at A, checked in at
    A1.  Lead M: no-show at A1, registered at R.  Lead N: invited at B.
    Distinct persons at their furthest status (invited < registered < no-show < checked in):
        A1: C checked_in, M no_show                               → total 2
        A:  L invited, C checked_in, M no_show                    → total 3, registered_total 2
        B:  L registered, N invited                               → total 2
        R:  L registered, C checked_in, M no_show, N invited      → total 4 (plain sums gave 7)
    Deals (linear rows): D1 at A, A1 and B; D2 at A1 → distinct A 2, A1 2, B 1, R 2 (plain sums 3 and 4)."""
    from l2c.apps.marketing.models import CampaignAttribution
    from l2c.apps.marketing.roi import campaign_tree_roi

    user, rep = org["marketing"], org["rep1"]
    root = make_campaign(user, "R")
    a = make_campaign(user, "A", parent=root)
    b = make_campaign(user, "B", parent=root)
    a1 = make_campaign(user, "A1", parent=a)
    lead_l, lead_m, lead_n = make_lead(rep, "L"), make_lead(rep, "M"), make_lead(rep, "N")
    contact_c = make_contact(rep, make_account(rep, "杭州云帆信息技术有限公司"), "C")
    for campaign, person, status in ((a, {"lead": lead_l}, "invited"), (b, {"lead": lead_l}, "registered"),
                                     (a, {"contact": contact_c}, "invited"),
                                     (a1, {"contact": contact_c}, "checked_in"),
                                     (a1, {"lead": lead_m}, "no_show"), (root, {"lead": lead_m}, "registered"),
                                     (b, {"lead": lead_n}, "invited")):
        _member(campaign, **person, status=status, days_ago=1, stamp="invited_at")
    now = timezone.now()
    for campaign, source_id in ((a, 1), (a1, 1), (b, 1), (a1, 2)):
        CampaignAttribution.objects.create(campaign=campaign, model="linear", source="transaction",
                                           source_id=source_id, amount=100, currency="CNY", won_at=now)
    roi = campaign_tree_roi(root)
    rollups = {pk: node.rollup for pk, node in roi.nodes.items()}
    assert dict(rollups[root.pk].members) == {"invited": 1, "registered": 1, "checked_in": 1, "no_show": 1}
    assert dict(rollups[a.pk].members) == {"invited": 1, "registered": 0, "checked_in": 1, "no_show": 1}
    assert dict(rollups[a1.pk].members) == {"invited": 0, "registered": 0, "checked_in": 1, "no_show": 1}
    assert dict(rollups[b.pk].members) == {"invited": 1, "registered": 1, "checked_in": 0, "no_show": 0}
    assert (rollups[root.pk].member_total, rollups[root.pk].registered_total, roi.people) == (4, 3, 4)
    assert (rollups[a.pk].member_total, rollups[a.pk].registered_total) == (3, 2)
    assert {pk: figures.won_deals for pk, figures in rollups.items()} == {root.pk: 2, a.pk: 2, a1.pk: 2, b.pk: 1}
    assert rollups[root.pk].won["linear"] == 400
    own = {pk: node.own for pk, node in roi.nodes.items()}
    assert dict(own[a.pk].members) == {"invited": 2, "registered": 0, "checked_in": 0, "no_show": 0}
    assert {pk: figures.won_deals for pk, figures in own.items()} == {root.pk: 0, a.pk: 1, a1.pk: 2, b.pk: 1}


def test_a_deleted_transaction_takes_its_won_revenue_out_of_the_roi(org, tree, touched,
                                                                    django_capture_on_commit_callbacks):
    from l2c.apps.customers.rfm import transaction_delete
    from l2c.apps.marketing.models import CampaignAttribution
    from l2c.apps.marketing.roi import campaign_tree_roi

    root = tree[0]
    record = _win(org, touched, django_capture_on_commit_callbacks)
    other = _win(org, touched, django_capture_on_commit_callbacks, "SO-2")  # a second order of the same account
    assert CampaignAttribution.objects.count() == 10
    transaction_delete(actor=org["admin"], transaction_id=record.pk)
    assert set(CampaignAttribution.objects.values_list("source_id", flat=True)) == {other.pk}
    rollup = campaign_tree_roi(root).root.rollup
    assert dict(rollup.won) == {"first_touch": 3_000_001, "last_touch": 3_000_001, "linear": 3_000_001}
    assert rollup.won_deals == 1


def test_a_failed_transaction_delete_keeps_the_attribution(org, tree, touched, django_capture_on_commit_callbacks):
    from l2c.apps.customers.rfm import transaction_delete
    from l2c.apps.marketing.models import CampaignAttribution
    from l2c.kernel.errors import NotFound, PermissionDenied

    record = _win(org, touched, django_capture_on_commit_callbacks)
    with pytest.raises((NotFound, PermissionDenied)):
        transaction_delete(actor=org["rep3"], transaction_id=record.pk)
    assert CampaignAttribution.objects.count() == 5
