"""RFM: transactions, the set-based recompute on a hand-computed example, window and currency,
visibility, segment names, settings and the API shapes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import translation

from l2c.apps.activity.models import AuditEvent, JobRun
from l2c.apps.customers import rfm
from l2c.apps.customers.models import AccountRfm, CustomerTransaction, RfmSegmentName, TransactionSource
from l2c.kernel.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from tests.conftest import make_account

AS_OF = dt.date(2026, 6, 30)


def _add(account, day: str, amount_minor: int, currency: str = "CNY", reference: str = "") -> None:
    CustomerTransaction.objects.create(account=account, occurred_on=dt.date.fromisoformat(day),
                                       amount_minor=amount_minor, currency=currency, reference=reference,
                                       source=TransactionSource.IMPORT)


@pytest.fixture
def example(org):
    """Five accounts with CNY transactions up to 2026-06-30, one with only USD, one only after as-of.

    account  dates (amount in fen)                                      R    F  M
    A        06-29 10000, 06-01 20000, 05-01 30000                      1    3  60000
    B        06-20 5000                                                 10   1  5000
    C        03-01 100000, 02-01 100000                                 121  2  200000
    D        2025-06-30 1000                                            365  1  1000
    E        06-30 2000, 06-15 2000, 06-10 2000, 06-01 2000             0    4  8000
    """
    rep = org["rep1"]
    names = {key: make_account(rep, f"北京RFM{key}科技有限公司") for key in "ABCDEFG"}
    _add(names["A"], "2026-06-29", 10000)
    _add(names["A"], "2026-06-01", 20000)
    _add(names["A"], "2026-05-01", 30000)
    _add(names["B"], "2026-06-20", 5000)
    _add(names["C"], "2026-03-01", 100000)
    _add(names["C"], "2026-02-01", 100000)
    _add(names["D"], "2025-06-30", 1000)
    for day in ("2026-06-30", "2026-06-15", "2026-06-10", "2026-06-01"):
        _add(names["E"], day, 2000)
    _add(names["F"], "2026-06-01", 99999, currency="USD")
    _add(names["G"], "2026-07-15", 50000)
    return names


def _rows(accounts) -> dict[str, tuple]:
    by_id = {account.pk: key for key, account in accounts.items()}
    return {by_id[row.account_id]: (row.recency_days, row.frequency, row.monetary_minor, row.recency_score,
                                    row.frequency_score, row.monetary_score, row.segment)
            for row in AccountRfm.objects.all()}


def test_hand_computed_example_gives_exact_values_scores_and_segments(example):
    # Quintile edges over the five accounts: scores are 1 + the number of edges below the value.
    # R (negated) -365 -121 -10 -1 0 → edges -365 -121 -10 -1; F 1 1 2 3 4 → edges 1 1 2 3;
    # M 1000 5000 8000 60000 200000 → edges 1000 5000 8000 60000. "High" is a score above 3.
    result = rfm.rfm_recompute(as_of=AS_OF)

    assert _rows(example) == {
        "A": (1, 3, 60000, 4, 4, 4, "important_value"),
        "B": (10, 1, 5000, 3, 2, 2, "general_recovery"),
        "C": (121, 2, 200000, 2, 3, 5, "important_recovery"),
        "D": (365, 1, 1000, 1, 2, 1, "general_recovery"),
        "E": (0, 4, 8000, 5, 5, 3, "general_value"),
    }
    assert (result.accounts, result.transactions, result.currency, result.window_start) == (5, 11, "CNY", None)
    assert result.segments["general_recovery"] == 2
    assert set(AccountRfm.objects.values_list("as_of", "currency")) == {(AS_OF, "CNY")}


def test_recompute_rewrites_all_rows_and_is_idempotent(example):
    rfm.rfm_recompute(as_of=AS_OF)
    first = _rows(example)
    CustomerTransaction.objects.filter(account=example["B"]).delete()

    rfm.rfm_recompute(as_of=AS_OF)
    rfm.rfm_recompute(as_of=AS_OF)

    rows = _rows(example)
    assert "B" not in rows  # no transaction any more: its row is gone
    assert len(rows) == 4 and AccountRfm.objects.count() == 4
    assert rows["A"][:3] == first["A"][:3]


def test_window_counts_only_the_last_n_days_up_to_as_of(org, example):
    rfm.settings_update(actor=org["admin"], data={"window_days": 30})

    result = rfm.rfm_recompute(as_of=AS_OF)

    # Window 2026-06-01 … 06-30: A keeps 06-29 and 06-01; C and D fall out.
    # n=3, edges at positions 0 0 0 1: R -10 -1 0 → [-10,-10,-10,-1]; F 1 2 4 → [1,1,1,2];
    # M 5000 8000 30000 → [5000,5000,5000,8000].
    assert result.window_start == dt.date(2026, 6, 1)
    assert _rows(example) == {
        "A": (1, 2, 30000, 4, 4, 5, "important_value"),
        "B": (10, 1, 5000, 2, 2, 2, "general_recovery"),
        "E": (0, 4, 8000, 5, 5, 4, "important_value"),
    }


def test_only_the_settings_currency_counts(org, example):
    rfm.settings_update(actor=org["admin"], data={"currency": "usd"})

    rfm.rfm_recompute(as_of=AS_OF)

    assert _rows(example) == {"F": (29, 1, 99999, 5, 5, 5, "important_value")}  # a lone customer scores best


def test_bins_setting_changes_the_score_range(org, example):
    rfm.settings_update(actor=org["admin"], data={"bins": 2})

    rfm.rfm_recompute(as_of=AS_OF)

    scores = {key: row[3:6] for key, row in _rows(example).items()}
    # Two bins: the edge is the value at position 5*1//2-1 = 1 of each sorted dimension.
    assert scores == {"A": (2, 2, 2), "B": (2, 1, 1), "C": (1, 2, 2), "D": (1, 1, 1), "E": (2, 2, 2)}


# --- settings and segment names ---------------------------------------------------------------------
def test_settings_are_admin_only_validated_and_audited(org):
    with pytest.raises(PermissionDenied):
        rfm.settings_update(actor=org["manager"], data={"bins": 4})
    with pytest.raises(ValidationFailed) as failure:
        rfm.settings_update(actor=org["admin"], data={"bins": 11, "window_days": 0, "currency": "XXX"})
    assert sorted(error.field for error in failure.value.errors) == ["bins", "currency", "window_days"]
    assert rfm.settings_get().bins == 5  # nothing saved

    settings = rfm.settings_update(actor=org["admin"], data={"bins": 4, "window_days": 365})

    assert (settings.bins, settings.window_days, settings.currency) == (4, 365, "CNY")
    event = AuditEvent.objects.get(object_type="rfm_settings")
    assert event.changes == {"bins": [5, 4], "window_days": [None, 365]}


def test_segment_names_default_translated_and_renamed_by_admin(org):
    with translation.override("zh-hans"):
        assert rfm.segment_names()["important_value"] == "重要价值客户"
    with translation.override("en"):
        assert rfm.segment_names()["important_value"] == "Key value customers"
        assert rfm.segment_names()["general_recovery"] == "Ordinary customers to win back"

    rfm.segment_names_set(actor=org["admin"], names={"important_value": " 金牌客户 "})

    assert rfm.segment_names()["important_value"] == "金牌客户"
    assert RfmSegmentName.objects.get().name == "金牌客户"
    rfm.segment_names_set(actor=org["admin"], names={"important_value": ""})
    assert not RfmSegmentName.objects.exists()
    with pytest.raises(ValidationFailed) as failure:
        rfm.segment_names_set(actor=org["admin"], names={"vip": "x", "general_value": "A", "general_retention": "A"})
    assert [error.field for error in failure.value.errors] == ["names.vip", "names"]
    with pytest.raises(PermissionDenied):
        rfm.segment_names_set(actor=org["manager"], names={"important_value": "x"})
    assert not RfmSegmentName.objects.exists()


# --- transactions -----------------------------------------------------------------------------------
def test_transaction_create_on_an_editable_account_is_audited(org):
    account = make_account(org["rep1"], "北京交易科技有限公司")

    record = rfm.transaction_create(actor=org["rep1"], account_id=account.pk, data={
        "occurred_on": "2026-03-01", "amount": "1,234.50", "currency": "cny", "reference": "SO-1", "note": "首单"})

    assert (record.amount_minor, record.currency, record.reference, record.source, record.created_by_id) == (
        123450, "CNY", "SO-1", "manual", org["rep1"].pk)
    event = AuditEvent.objects.filter(object_type="account", object_id=account.pk).latest("id")
    assert event.summary == "新增交易记录：2026-03-01 CNY 1234.50 #SO-1"
    assert event.changes["transaction"][1]["amount_minor"] == 123450


@pytest.mark.parametrize(("amount", "message"), [
    ("12.345", "金额最多 2 位小数（CNY）"),
    ("abc", "“abc”不是有效的金额"),
    ("", "必填：金额"),
    ("NaN", "“NaN”不是有效的金额"),
])
def test_bad_amounts_are_refused_with_the_reason(org, amount, message):
    account = make_account(org["rep1"], "北京金额科技有限公司")

    with translation.override("zh-hans"), pytest.raises(ValidationFailed) as failure:
        rfm.transaction_create(actor=org["rep1"], account_id=account.pk,
                               data={"occurred_on": "2026-03-01", "amount": amount})

    assert [(error.field, error.message) for error in failure.value.errors] == [("amount", message)]
    assert not CustomerTransaction.objects.exists()


def test_every_bad_field_is_reported_and_future_dates_refused(org):
    account = make_account(org["rep1"], "北京字段科技有限公司")
    tomorrow = dt.date.today() + dt.timedelta(days=2)

    with translation.override("en"), pytest.raises(ValidationFailed) as failure:
        rfm.transaction_create(actor=org["rep1"], account_id=account.pk,
                               data={"occurred_on": tomorrow.isoformat(), "amount": "1", "currency": "EURO"})

    assert [(error.field, error.message) for error in failure.value.errors] == [
        ("currency", "Unsupported currency “EURO”: use the three-letter ISO 4217 code, such as CNY or USD."),
        ("occurred_on", "The transaction date cannot be later than today"),
    ]


def test_duplicate_reference_on_the_account_conflicts(org):
    account = make_account(org["rep1"], "北京单据科技有限公司")
    data = {"occurred_on": "2026-03-01", "amount": "10", "reference": "SO-9"}
    rfm.transaction_create(actor=org["rep1"], account_id=account.pk, data=data)

    with pytest.raises(Conflict):
        rfm.transaction_create(actor=org["rep1"], account_id=account.pk, data=data)

    assert CustomerTransaction.objects.count() == 1


def test_visibility_rep_cannot_read_or_add_to_another_reps_account(org):
    account = make_account(org["rep2"], "北京别人科技有限公司")
    _add(account, "2026-03-01", 100)

    with pytest.raises(NotFound):
        rfm.account_rfm(user=org["rep1"], account_id=account.pk)
    with pytest.raises(NotFound):
        rfm.transactions_for(user=org["rep1"], account_id=account.pk)
    with pytest.raises(NotFound):
        rfm.transaction_create(actor=org["rep1"], account_id=account.pk,
                               data={"occurred_on": "2026-03-01", "amount": "1"})
    with pytest.raises(PermissionDenied):  # marketing sees every account but edits none
        rfm.transaction_create(actor=org["marketing"], account_id=account.pk,
                               data={"occurred_on": "2026-03-01", "amount": "1"})
    assert [t.amount_minor for t in rfm.transactions_for(user=org["manager"], account_id=account.pk)] == [100]
    assert CustomerTransaction.objects.count() == 1


def test_transaction_delete_needs_the_account_in_scope(org):
    account = make_account(org["rep1"], "北京删除科技有限公司")
    record = rfm.transaction_create(actor=org["rep1"], account_id=account.pk,
                                    data={"occurred_on": "2026-03-01", "amount": "1"})

    with pytest.raises(NotFound):
        rfm.transaction_delete(actor=org["rep2"], transaction_id=record.pk)
    with pytest.raises(PermissionDenied):
        rfm.transaction_delete(actor=org["marketing"], transaction_id=record.pk)
    rfm.transaction_delete(actor=org["rep1"], transaction_id=record.pk)

    assert not CustomerTransaction.objects.exists()
    assert AuditEvent.objects.filter(object_id=account.pk, summary__startswith="删除交易记录").count() == 1


# --- jobs -------------------------------------------------------------------------------------------
def test_on_demand_recompute_runs_as_a_visible_job(org, example, django_capture_on_commit_callbacks):
    with pytest.raises(PermissionDenied):
        rfm.rfm_recompute_request(actor=org["rep1"])
    with django_capture_on_commit_callbacks(execute=True):
        run = rfm.rfm_recompute_request(actor=org["manager"])

    run.refresh_from_db()
    assert (run.name, run.status, run.created_by_id, run.progress, run.total) == (
        "customers.rfm_recompute", JobRun.Status.SUCCEEDED, org["manager"].pk, 6, 6)
    assert "segments: important_value=" in run.log
    # As of today G's July transaction counts as well; F has only USD.
    assert AccountRfm.objects.count() == 6 and not AccountRfm.objects.filter(account=example["F"]).exists()


def test_demo_transactions_give_every_segment_and_leave_usd_out(org):
    from l2c.apps.customers.rfm_demo import rfm_demo

    owner = org["rep1"]
    accounts = [make_account(owner, f"北京演示{index}科技有限公司", status=status)
                for index, status in enumerate(["active", "dormant", "lost", "potential"] * 30)]

    count, result = rfm_demo(accounts=accounts, actor=org["admin"], today=AS_OF)

    assert count == CustomerTransaction.objects.count() > 300
    dates = CustomerTransaction.objects.values_list("occurred_on", flat=True)
    assert AS_OF - dt.timedelta(days=730) <= min(dates) and max(dates) <= AS_OF
    assert result.accounts == AccountRfm.objects.count() > 80
    assert all(result.segments[code] > 0 for code in ("important_value", "general_recovery"))
    assert CustomerTransaction.objects.filter(currency="USD").exists()
    again_count = len(list(CustomerTransaction.objects.values_list("reference", flat=True).distinct()))
    assert again_count == count  # references are unique: re-importing them would be idempotent


def test_an_account_with_transactions_cannot_be_deleted(org):
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.services import account_delete

    account = make_account(org["rep1"], "北京历史科技有限公司")
    _add(account, "2026-03-01", 100)

    with translation.override("en"), pytest.raises(Conflict) as failure:
        account_delete(actor=org["manager"], account_id=account.pk)

    assert failure.value.detail == "The account “北京历史科技有限公司” has 1 transaction and cannot be deleted."
    assert Account.objects.filter(pk=account.pk).exists()


def test_one_transaction_is_at_most_a_hundred_billion_so_sums_never_overflow():
    from l2c.apps.customers.rfm import clean_amount_minor

    assert clean_amount_minor("100000000000", "CNY") == 10**13
    with pytest.raises(ValueError, match="金额太大（单笔最多 100,000,000,000）"):
        clean_amount_minor("100000000000.01", "CNY")
