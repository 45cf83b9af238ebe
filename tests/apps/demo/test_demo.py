"""The demo company: organisation, logins, customers, visibility, determinism and idempotent loading."""

from __future__ import annotations

import hashlib
import io
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=False)

SALES_OWNERS = {"rep1", "rep2", "rep3", "manager"}
PROVINCE_DIVISION_PREFIX = {
    "北京市": "11", "天津市": "12", "河北省": "13", "山西省": "14", "内蒙古自治区": "15", "辽宁省": "21",
    "上海市": "31", "江苏省": "32", "浙江省": "33", "安徽省": "34", "福建省": "35", "山东省": "37",
    "河南省": "41", "湖北省": "42", "广东省": "44", "四川省": "51", "陕西省": "61",
}


@dataclass(frozen=True)
class LoadedDemo:
    loaded: bool
    output: str
    seconds: float


@pytest.fixture(scope="module")
def demo(django_db_setup: Any, django_db_blocker: Any) -> Any:
    """The demo company loaded once for this module (into an empty database) and rolled back after it."""
    from django.db import transaction

    from l2c.apps.demo.services import demo_load_if_empty

    with django_db_blocker.unblock(), transaction.atomic():
        output = io.StringIO()
        started = time.perf_counter()
        loaded = demo_load_if_empty(stdout=output)
        yield LoadedDemo(loaded=loaded, output=output.getvalue(), seconds=time.perf_counter() - started)
        transaction.set_rollback(True)


def _user(username: str) -> Any:
    from l2c.apps.identity.models import User

    return User.objects.get(username=username)


def _counts() -> dict[str, int]:
    from l2c.apps.activity.models import AuditEvent, FollowUp, Notification, Todo
    from l2c.apps.customers.models import Account, Contact
    from l2c.apps.identity.models import Department, Share, User

    models = (Account, Contact, User, Department, FollowUp, Todo, Notification, Share, AuditEvent)
    return {model.__name__: model.objects.count() for model in models}


def test_empty_database_is_loaded_with_progress_lines_and_fast(demo):
    assert demo.loaded is True
    lines = demo.output.splitlines()
    assert lines[0] == "Loading the demo company…"
    assert lines[1] == "  5 departments, 8 users"
    assert re.fullmatch(r"  540 accounts, \d{4} contacts", lines[2])
    assert re.fullmatch(r"  \d+ follow-ups, \d+ to-dos, \d+ notifications", lines[3])
    assert lines[4] == "  60 accounts in public pools, " + lines[4].split(", ")[1]
    assert re.fullmatch(r"\d+ held under pool rules", lines[4].split(", ")[1])
    assert re.fullmatch(r"  duplicate-control keys for \d{4} records", lines[5])
    assert re.fullmatch(r"  \d+ campaigns", lines[6])
    assert re.fullmatch(r"  leads: \d+ owned, \d+ captured, \d+ qualified, 6 converted, \d+ disqualified, "
                        r"\d+ events", lines[7])
    assert lines[8] == "  opportunities: 72 open, 87 won, 173 lost"  # seeded: the same every load
    assert lines[9] == "  20 products, 3 price books, 15 promotions"
    assert re.fullmatch(r"Demo company loaded in \d+\.\d s\.", lines[10])
    assert len(lines) == 11


def test_public_pools_hold_quiet_prospects_and_govern_the_rest(demo):
    from l2c.apps.customers.models import Account, AccountStatus
    from l2c.apps.customers.pool import held_accounts, member_pools, pool_accounts

    [north] = member_pools(_user("rep1"))
    [east] = member_pools(_user("rep3"))
    assert (north.name, east.name) == ("华北公海", "华东公海")
    assert pool_accounts(user=_user("rep1"), pool=north).count() == 40
    assert pool_accounts(user=_user("rep3"), pool=east).count() == 20
    held = list(held_accounts(_user("rep1")))
    assert held and all(account.status == AccountStatus.POTENTIAL for account in held)
    assert all(account.reclaim_due_at is not None and account.reclaim_due_at > account.held_since for account in held)
    assert not Account.objects.filter(owner__isnull=True, pool__isnull=True).exists()


def test_department_tree_and_managers(demo):
    from l2c.apps.identity.models import Department

    departments = {department.name: department for department in Department.objects.all()}

    assert sorted(departments) == sorted(["销售中心", "华北销售部", "华东销售部", "市场部", "财务部"])
    center = departments["销售中心"]
    assert center.parent_id is None
    assert departments["华北销售部"].parent_id == center.pk
    assert departments["华东销售部"].parent_id == center.pk
    assert departments["华北销售部"].path == f"/{center.pk}/{departments['华北销售部'].pk}/"
    assert departments["市场部"].parent_id is None
    assert departments["财务部"].parent_id is None
    assert {name: department.manager.username if department.manager else None
            for name, department in departments.items()} == {
        "销售中心": None, "华北销售部": "manager", "华东销售部": None, "市场部": None, "财务部": None,
    }


def test_users_have_their_departments_and_roles(demo):
    from l2c.apps.identity.models import User

    users = {
        user.username: (user.department.name if user.department else None,
                        sorted(user.roles.values_list("code", flat=True)), user.is_superuser, user.is_staff)
        for user in User.objects.select_related("department")
    }

    assert users == {
        "admin": (None, ["admin"], True, True),
        "manager": ("华北销售部", ["sales_manager"], False, False),
        "rep1": ("华北销售部", ["sales_rep"], False, False),
        "rep2": ("华北销售部", ["sales_rep"], False, False),
        "rep3": ("华东销售部", ["sales_rep"], False, False),
        "presales": ("销售中心", ["presales"], False, False),
        "marketing": ("市场部", ["marketing"], False, False),
        "finance": ("财务部", ["finance"], False, False),
    }


def test_every_demo_user_logs_in_with_the_demo_password(demo):
    from django.conf import settings
    from django.contrib.auth import authenticate

    from l2c.apps.demo.services import DEMO_USERS

    for username, display_name, _label in DEMO_USERS:
        user = authenticate(username=username, password=settings.DEMO_PASSWORD)
        assert user is not None and user.username == username
        assert user.display_name == display_name
        assert authenticate(username=username, password=settings.DEMO_PASSWORD + "x") is None


def test_accounts_have_unique_names_and_valid_unique_credit_codes(demo):
    from l2c.apps.customers.models import Account, Industry
    from l2c.kernel.uscc import uscc_is_valid

    rows = list(Account.objects.values_list("name", "credit_code", "province", "industry"))

    assert len(rows) >= 500
    assert len({name for name, *_ in rows}) == len(rows)
    assert len({code for _, code, *_ in rows}) == len(rows)
    assert [code for _, code, *_ in rows if not uscc_is_valid(code)] == []
    assert [code for _, code, *_ in rows if not code.startswith("91")] == []
    assert [(code, province) for _, code, province, _ in rows
            if code[2:4] != PROVINCE_DIVISION_PREFIX[province]] == []
    assert {industry for *_, industry in rows} <= set(Industry.values)


def test_accounts_are_fully_described(demo):
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.validation import ACCOUNT_FIELDS, clean_fields, search_text

    accounts = list(Account.objects.select_related("owner", "department").prefetch_related("tags"))

    for account in accounts:
        data = {name: getattr(account, name) for name in ACCOUNT_FIELDS}
        cleaned, errors = clean_fields(ACCOUNT_FIELDS, data, partial=False)
        assert errors == [], (account.name, errors)
        assert cleaned["website"] == account.website
        assert re.fullmatch(r"0\d{2,3}-[5-8]\d{6,7}", account.phone)
        # Accounts released into a public pool have no owner and keep their department.
        assert account.owner.username in SALES_OWNERS if account.owner else account.pool is not None
        assert account.owner is None or account.department_id == account.owner.department_id
        assert account.search_text == search_text(account.name, account.short_name)
        assert account.legal_representative and account.address.startswith(account.province)
        assert account.registered_capital > Decimal(0) and account.founded_on is not None
    assert sum(1 for account in accounts if account.tags.all()) > len(accounts) // 2
    owners = {username: sum(1 for a in accounts if a.owner and a.owner.username == username)
              for username in SALES_OWNERS}
    assert min(owners.values()) > 0
    north = [a for a in accounts if a.department.name == "华北销售部" and a.owner]
    assert sum(1 for a in north if a.owner.username in ("rep1", "rep2")) > 0.8 * len(north)
    assert {a.owner.username for a in accounts if a.department.name == "华东销售部" and a.owner} == {"rep3"}


def test_account_custom_fields_are_defined_and_filled_validly(demo):
    from l2c.apps.activity.custom_fields import clean_custom_values, definitions
    from l2c.apps.activity.models import CustomField
    from l2c.apps.customers.models import Account

    fields = definitions("account")

    assert [(field.key, field.label, field.kind, field.choices, field.show_in_list) for field in fields] == [
        ("contract_tier", "合同等级", CustomField.Kind.CHOICE, ["A", "B", "C"], True),
        ("annual_purchase", "年采购额（万元）", CustomField.Kind.DECIMAL, [], False),
    ]
    customs = list(Account.objects.values_list("custom", flat=True))
    for custom in customs:
        assert clean_custom_values("account", custom, fields=fields) == custom
    assert sum(1 for custom in customs if "contract_tier" in custom) > 100
    assert sum(1 for custom in customs if "annual_purchase" in custom) > 100


def test_contacts_one_primary_per_account_and_plausible_details(demo):
    from django.db.models import Count, Q

    from l2c.apps.customers.models import Account, Contact

    contacts = list(Contact.objects.select_related("reports_to"))
    primaries = Account.objects.annotate(primaries=Count("contacts", filter=Q(contacts__is_primary=True)))

    assert len(contacts) >= 1500
    assert set(primaries.values_list("primaries", flat=True)) == {1}
    assert [c.mobile for c in contacts if not re.fullmatch(r"1[3-9]\d{9}", c.mobile)] == []
    assert len({c.mobile for c in contacts}) == len(contacts)
    assert [c.email for c in contacts if c.email and not re.fullmatch(r"[a-z0-9.]+@[a-z0-9.-]+\.[a-z]+", c.email)] == []
    with_boss = [c for c in contacts if c.reports_to_id]
    assert len(with_boss) > 300
    assert [c.pk for c in with_boss if c.reports_to.account_id != c.account_id or c.reports_to_id == c.pk] == []
    assert {c.title for c in contacts} >= {"采购经理", "技术总监", "总经理", "财务总监"}


def test_follow_ups_cover_the_last_120_days_and_set_last_followed_up_at(demo):
    import datetime as dt

    from django.db.models import Max
    from django.utils import timezone

    from l2c.apps.activity.models import FollowUp
    from l2c.apps.customers.models import Account

    now = timezone.now()
    latest = dict(FollowUp.objects.filter(object_type="account").values("object_id")
                  .annotate(latest=Max("occurred_at")).values_list("object_id", "latest"))
    accounts = dict(Account.objects.values_list("pk", "last_followed_up_at"))
    followups = list(FollowUp.objects.filter(object_type="account"))  # deals have their own (older) ones

    assert {pk: at for pk, at in accounts.items() if at is not None} == latest
    assert len(latest) > 0.8 * len(accounts)
    assert all(now - dt.timedelta(days=121) < f.occurred_at < now for f in followups)
    assert {f.kind for f in followups} >= {"call", "visit", "meeting", "wechat"}
    assert all(f.content and re.search(r"[\u4e00-\u9fff]", f.content) for f in followups)
    assert sum(1 for f in followups if f.next_step) > len(followups) // 2


def test_rep_sees_only_own_shared_and_team_accounts(demo):
    from l2c.apps.customers.models import Account, AccountTeamMember
    from l2c.apps.customers.selectors import account_list
    from l2c.apps.identity.models import Share

    rep1 = _user("rep1")
    own = set(Account.objects.filter(owner=rep1).values_list("pk", flat=True))
    shared = set(Share.objects.filter(object_type="account", user=rep1).values_list("object_id", flat=True))
    team = set(AccountTeamMember.objects.filter(user=rep1).values_list("account_id", flat=True))

    visible = set(account_list(user=rep1).values_list("pk", flat=True))

    assert shared and team and len(own) > 100
    assert visible == own | shared | team


def test_manager_sees_all_north_accounts(demo):
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.selectors import account_list

    north = set(Account.objects.filter(department__name="华北销售部").values_list("pk", flat=True))

    visible = set(account_list(user=_user("manager")).values_list("pk", flat=True))

    assert len(north) > 250
    assert north <= visible


def test_rep3_sees_none_of_rep1s_accounts(demo):
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.selectors import account_list

    visible = account_list(user=_user("rep3"))

    assert visible.count() > 100
    assert not visible.filter(owner__username="rep1").exists()
    assert not Account.objects.filter(owner__username="rep3").exclude(pk__in=visible.values("pk")).exists()


def test_presales_works_accounts_through_the_account_team(demo):
    from l2c.apps.customers.models import AccountTeamMember
    from l2c.apps.customers.selectors import account_list

    presales = _user("presales")
    team = set(AccountTeamMember.objects.filter(user=presales).values_list("account_id", flat=True))

    visible = set(account_list(user=presales).values_list("pk", flat=True))

    assert len(team) >= 5
    assert visible == team


def test_open_todos_and_notifications_for_every_user(demo):
    import datetime as dt

    from django.utils import timezone

    from l2c.apps.activity.models import Notification, Todo
    from l2c.apps.demo.services import DEMO_USERS

    now = timezone.now()
    for username in ("rep1", "rep2", "rep3", "manager", "presales"):
        todos = list(Todo.objects.filter(assignee__username=username, done_at__isnull=True))
        assert len(todos) >= 3, username
        assert all(now - dt.timedelta(days=4) < todo.due_at < now + dt.timedelta(days=9) for todo in todos)
    for username, *_ in DEMO_USERS:
        assert Notification.objects.filter(recipient__username=username).count() >= 2, username
    assert Notification.objects.filter(read_at__isnull=True).exists()


def test_todos_point_at_accounts_their_assignee_may_see(demo):
    from l2c.apps.activity.models import Todo
    from l2c.apps.customers.selectors import account_list

    for todo in Todo.objects.filter(object_type="account").select_related("assignee"):
        assert account_list(user=todo.assignee).filter(pk=todo.object_id).exists(), todo.title


def test_creation_is_audited_in_bulk(demo):
    from l2c.apps.activity.models import AuditEvent
    from l2c.apps.customers.models import Account, Contact

    events = AuditEvent.objects.filter(action="create", summary="demo data")

    assert events.filter(object_type="account").count() == Account.objects.count()
    # Contacts made by the demo's lead conversions are audited by the conversion, not as demo data.
    assert events.filter(object_type="contact").count() == Contact.objects.filter(converted_leads=None).count()
    assert events.values("request_id").distinct().count() == 1
    assert set(events.values_list("actor__username", flat=True)) == {"admin"}


def test_loaded_accounts_match_the_pure_generator(demo):
    from l2c.apps.customers.models import Account
    from l2c.apps.demo.data import demo_dataset

    dataset = demo_dataset()

    from l2c.apps.identity.models import OwnershipTransfer

    # A pooled account's generated owner is the one who released it.
    released_by = dict(OwnershipTransfer.objects.filter(object_type="account", via="release")
                       .values_list("object_id", "from_user__username"))
    loaded = [(name, code, owner or released_by[pk]) for pk, name, code, owner in
              Account.objects.order_by("pk").values_list("pk", "name", "credit_code", "owner__username")]

    assert loaded == [(a.name, a.credit_code, a.owner) for a in dataset.accounts]


def test_generator_is_deterministic():
    from l2c.apps.demo.data import demo_dataset

    def digest(dataset: Any) -> str:
        text = "\n".join(f"{a.name}|{a.credit_code}|{a.owner}" for a in dataset.accounts)
        return hashlib.sha256(text.encode()).hexdigest()

    first, second = demo_dataset(), demo_dataset()

    assert first == second
    assert digest(first) == digest(second)
    assert len(first.accounts) >= 500


def test_load_if_empty_does_nothing_the_second_time(demo):
    from l2c.apps.demo.services import demo_load_if_empty

    before = _counts()
    output = io.StringIO()

    loaded = demo_load_if_empty(stdout=output)

    assert loaded is False
    assert output.getvalue() == ""
    assert _counts() == before


def test_load_refuses_when_demo_users_exist_and_changes_nothing(demo):
    from l2c.apps.demo.services import demo_load
    from l2c.kernel.errors import ValidationFailed

    before = _counts()

    with pytest.raises(ValidationFailed) as failure:
        demo_load()

    assert failure.value.errors[0].field == "username"
    assert _counts() == before


def test_demo_accounts_are_in_the_duplicate_index(demo):
    from l2c.apps.customers.models import Account, DuplicateKey

    account = Account.objects.order_by("pk").first()

    keys = set(DuplicateKey.objects.filter(object_type="account", record_id=account.pk).values_list("key", flat=True))
    assert f"credit:{account.credit_code}" in keys
    assert DuplicateKey.objects.filter(object_type="account").values("record_id").distinct().count() == 540


def test_demo_deals_have_history_health_and_a_learnable_structure(demo):
    from l2c.apps.opportunities.models import Opportunity, PipelineSnapshot, StageHistory

    open_deals = Opportunity.objects.filter(status="open")
    assert open_deals.count() == 72
    assert not open_deals.filter(health_index__isnull=True).exists()
    # Every deal's history ends in its current stage, still open for open deals.
    for deal in Opportunity.objects.order_by("pk")[:40]:
        current = StageHistory.objects.get(opportunity=deal, exited_at__isnull=True)
        assert current.stage_id == deal.stage_id
    assert PipelineSnapshot.objects.values("taken_on").distinct().count() == 6
    # Won deals reached further on average than lost ones (the structure the forecast model learns).
    won = Opportunity.objects.filter(status="won")
    lost = Opportunity.objects.filter(status="lost")
    assert won.count() and lost.count()

    def reached(queryset):
        positions = [StageHistory.objects.filter(opportunity=deal, stage__kind="open").count() for deal in queryset]
        return sum(positions) / len(positions)

    assert reached(won) > reached(lost)


def test_demo_trains_a_forecast_model_that_beats_the_stage_baseline(demo):
    from l2c.apps.opportunities.models import ForecastModel, Opportunity

    model = ForecastModel.objects.get(is_active=True)
    assert model.metrics["brier_model"] < model.metrics["brier_baseline"]
    assert not Opportunity.objects.filter(status="open").exclude(probability_source="model").exists()


def test_the_demo_catalogue_configures_and_prices(demo):
    """CPQ (ADR 0006): every demo rule, book and promotion compiles; the configurable server enforces
    its rules; a key account's cart is priced by the contracted book with the member price."""
    from django.utils import timezone

    from l2c.apps.catalog.configurator import configuration_validate
    from l2c.apps.customers.models import Account
    from l2c.apps.pricing.compiler import compiled_rules
    from l2c.engines.pricing import engine
    from l2c.engines.pricing.types import CustomerContext, LineInput, PricingRequest

    rules = compiled_rules()
    assert rules.facts.skipped == ()
    _compiled, _configuration, result = configuration_validate(user=_user("manager"), data={
        "product": "SRV-R740", "quantity": 1,
        "selections": [{"sku": "CPU-6330", "quantity": 2}, {"sku": "MEM-64G", "quantity": 8},
                       {"sku": "PSU-800W", "quantity": 2}, {"sku": "HDD-8T", "quantity": 5}]})
    # 5 × 8 TB need ceil(5 / 4) = 2 cache SSDs, added; 7 disks are not pairs; Gold with 800 W breaks two rules.
    assert sorted({violation.rule for violation in result.violations if violation.rule}) == [
        "disks-in-pairs", "gold-excludes-800w", "gold-needs-1100w"]
    assert [(line.sku, line.quantity, line.rule) for line in result.auto_added] == [
        ("SSD-960G", 2, "cache-ssd-per-4-hdd")]

    key_account = Account.objects.filter(level="key").order_by("pk").first()
    assert key_account is not None
    request = PricingRequest(currency="CNY", as_of=timezone.now(), customer=CustomerContext(
        account_id=key_account.pk, groups=frozenset({"level:key"})), lines=(
        LineInput("1", "SRV-R740-2U", 2), LineInput("2", "RAIL-KIT", 2)))
    priced = engine.price(rules.catalog, request)
    by_key = {line.key: line for line in priced.lines}
    assert [(line.key, line.sku, line.price_book, line.is_gift) for line in priced.lines] == [
        ("1", "SRV-R740-2U", "contract-key", False), ("1+gift:promo-gift", "FAN-6038", "base-cny", True),
        ("2", "RAIL-KIT", "contract-key", False)]  # two servers earn the gift (买两台送配件)
    assert "promo-member" in by_key["1"].promotions and priced.violations == ()
    assert sum(line.total_amount for line in priced.lines) == priced.totals.total_amount
