"""The deterministic demo company: an organisation, its sales staff and ~540 customers.

`demo_load` writes everything in one transaction with a handful of set-based statements per table;
the customers themselves come from the pure generator in `data.py` (same names, codes and owners
on every run). Dates are placed relative to the start of today in the site's time zone.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from l2c.apps.activity.audit import audit_bulk
from l2c.apps.activity.custom_fields import clean_custom_values
from l2c.apps.activity.models import AuditEvent, CustomField, FollowUp, Notification, Todo
from l2c.apps.catalog.demo import catalog_demo
from l2c.apps.customers import duplicates
from l2c.apps.customers.models import Account, AccountTeamMember, Contact, Tag
from l2c.apps.customers.pool_demo import pool_demo
from l2c.apps.customers.rfm_demo import rfm_demo
from l2c.apps.customers.risk_demo import risk_events_demo
from l2c.apps.customers.validation import search_text
from l2c.apps.identity.models import Department, Share, User
from l2c.apps.identity.services import department_create, roles_ensure_builtin, user_create
from l2c.apps.leads.demo import leads_demo
from l2c.apps.leads.pool_demo import lead_pools_demo
from l2c.apps.marketing.demo import campaigns_demo
from l2c.apps.opportunities.demo import opportunities_demo
from l2c.apps.pricing.demo import pricing_demo
from l2c.apps.tenders.demo import tenders_demo
from l2c.apps.tenders.models import TenderNotice
from l2c.kernel import request_context
from l2c.kernel.errors import FieldError, ValidationFailed

from .data import (
    CUSTOM_FIELD_ANNUAL_PURCHASE,
    CUSTOM_FIELD_CONTRACT_TIER,
    DemoDataset,
    demo_dataset,
)

DEMO_USERS: list[tuple[str, str, str]] = [
    ("admin", "系统管理员", "admin"),
    ("manager", "王建华", "sales manager (华北销售部)"),
    ("rep1", "李明", "sales rep (华北销售部)"),
    ("rep2", "张伟", "sales rep (华北销售部)"),
    ("rep3", "刘洋", "sales rep (华东销售部)"),
    ("presales", "陈静", "pre-sales (销售中心)"),
    ("marketing", "赵敏", "marketing (市场部)"),
    ("finance", "孙丽", "finance (财务部)"),
]

# username -> (department key or None, role codes, superuser)
DEMO_USER_ROLES: dict[str, tuple[str | None, tuple[str, ...], bool]] = {
    "admin": (None, ("admin",), True),
    "manager": ("north", ("sales_manager",), False),
    "rep1": ("north", ("sales_rep",), False),
    "rep2": ("north", ("sales_rep",), False),
    "rep3": ("east", ("sales_rep",), False),
    "presales": ("center", ("presales",), False),
    "marketing": ("marketing", ("marketing",), False),
    "finance": ("finance", ("finance",), False),
}
DEMO_EMAIL_DOMAIN = "demo.l2c.example.com"
AUDIT_SUMMARY = "demo data"


def _say(stdout: Any, message: str) -> None:
    if stdout is not None:
        stdout.write(message + "\n")
        flush = getattr(stdout, "flush", None)
        if flush is not None:
            flush()


def _anchor() -> dt.datetime:
    """Midnight at the start of today in the site's time zone: every demo date is relative to it."""
    return timezone.localtime(timezone.now()).replace(hour=0, minute=0, second=0, microsecond=0)


def _at(anchor: dt.datetime, *, days: int, hour: int, minute: int = 0) -> dt.datetime:
    """`days` days after the anchor (negative: before) at a local wall-clock time."""
    return anchor + dt.timedelta(days=days, hours=hour, minutes=minute)


def _account_url(account_id: int) -> str:
    try:
        return reverse("customers:account_detail", args=[account_id])
    except NoReverseMatch:
        return ""


def _organisation() -> tuple[dict[str, Department], dict[str, User]]:
    """Departments, built-in roles and the eight demo users, all sharing one password hash."""
    taken = list(User.objects.filter(username__in=[username for username, *_ in DEMO_USERS])
                 .values_list("username", flat=True))
    if taken:
        raise ValidationFailed(
            "The demo company is already loaded (or its usernames are taken).",
            errors=[FieldError("username", f"users already exist: {', '.join(sorted(taken))}", "taken")],
        )
    roles_ensure_builtin()
    center = department_create(name="销售中心")
    departments = {
        "center": center,
        "north": department_create(name="华北销售部", parent_id=center.pk),
        "east": department_create(name="华东销售部", parent_id=center.pk),
        "marketing": department_create(name="市场部"),
        "finance": department_create(name="财务部"),
    }
    users: dict[str, User] = {}
    for username, display_name, _label in DEMO_USERS:
        department_key, role_codes, superuser = DEMO_USER_ROLES[username]
        users[username] = user_create(
            username=username, password=None, display_name=display_name,
            email=f"{username}@{DEMO_EMAIL_DOMAIN}",
            department_id=departments[department_key].pk if department_key else None,
            role_codes=role_codes, is_staff=superuser, is_superuser=superuser,
        )
    # One (slow, salted) hash of the published demo password serves every demo user.
    password_hash = make_password(settings.DEMO_PASSWORD)
    User.objects.filter(pk__in=[user.pk for user in users.values()]).update(password=password_hash)
    Department.objects.filter(pk=departments["north"].pk).update(manager=users["manager"])
    return departments, users


def _custom_fields() -> list[CustomField]:
    CustomField.objects.bulk_create([
        CustomField(object_type="account", key=CUSTOM_FIELD_CONTRACT_TIER, label="合同等级",
                    kind=CustomField.Kind.CHOICE, choices=["A", "B", "C"], show_in_list=True, position=1),
        CustomField(object_type="account", key=CUSTOM_FIELD_ANNUAL_PURCHASE, label="年采购额（万元）",
                    kind=CustomField.Kind.DECIMAL, min_value=0, max_value=10_000_000, position=2),
    ], ignore_conflicts=True)
    return list(CustomField.objects.filter(
        object_type="account", key__in=[CUSTOM_FIELD_CONTRACT_TIER, CUSTOM_FIELD_ANNUAL_PURCHASE]
    ))


def _accounts(dataset: DemoDataset, *, anchor: dt.datetime, users: dict[str, User]) -> list[Account]:
    custom_fields = _custom_fields()
    accounts: list[Account] = []
    for item in dataset.accounts:
        created_at = _at(anchor, days=-item.created_days_ago, hour=10)
        last = item.followups[-1] if item.followups else None
        last_followed_up_at = _at(anchor, days=-last.days_ago, hour=last.hour, minute=last.minute) if last else None
        owner = users[item.owner]
        accounts.append(Account(
            name=item.name, short_name=item.short_name, credit_code=item.credit_code, industry=item.industry,
            size=item.size, province=item.province, city=item.city, district=item.district, address=item.address,
            phone=item.phone, website=item.website, source=item.source, level=item.level, status=item.status,
            owner=owner, department_id=owner.department_id, legal_representative=item.legal_representative,
            registered_capital=item.registered_capital, founded_on=dt.date(*item.founded_on),
            business_status=item.business_status, last_followed_up_at=last_followed_up_at,
            custom=clean_custom_values("account", dict(item.custom), fields=custom_fields),
            search_text=search_text(item.name, item.short_name), created_by=owner,
            # bulk_create stamps both dates with "now"; the real ones are written back below.
            created_at=created_at, updated_at=last_followed_up_at or created_at,
        ))
    dates = [(account.created_at, account.updated_at) for account in accounts]
    Account.objects.bulk_create(accounts, batch_size=500)
    for account, (created_at, updated_at) in zip(accounts, dates, strict=True):
        account.created_at, account.updated_at = created_at, updated_at
    Account.objects.bulk_update(accounts, ["created_at", "updated_at"], batch_size=500)

    names = list(dict.fromkeys(tag for item in dataset.accounts for tag in item.tags))
    Tag.objects.bulk_create([Tag(name=name) for name in names], ignore_conflicts=True)
    tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    through = Account.tags.through
    through.objects.bulk_create([
        through(account_id=account.pk, tag_id=tag_ids[tag])
        for account, item in zip(accounts, dataset.accounts, strict=True) for tag in item.tags
    ], batch_size=1000)
    return accounts


def _contacts(dataset: DemoDataset, accounts: list[Account]) -> list[Contact]:
    """Contacts level by level of the reporting lines, so every `reports_to` points at a saved row."""
    depth: dict[tuple[int, int], int] = {}
    for account_index, item in enumerate(dataset.accounts):
        for contact_index, person in enumerate(item.contacts):  # a boss always comes before their reports
            boss = person.reports_to
            depth[(account_index, contact_index)] = 0 if boss is None else depth[(account_index, boss)] + 1
    by_position: dict[tuple[int, int], Contact] = {}
    for level in range(max(depth.values(), default=-1) + 1):
        batch: list[Contact] = []
        for account_index, (account, item) in enumerate(zip(accounts, dataset.accounts, strict=True)):
            for contact_index, person in enumerate(item.contacts):
                if depth[(account_index, contact_index)] != level:
                    continue
                contact = Contact(
                    name=person.name, title=person.title, department=person.department, mobile=person.mobile,
                    phone=person.phone, email=person.email, wechat=person.wechat, account=account,
                    is_primary=person.is_primary, created_by=account.owner,
                    reports_to=None if person.reports_to is None else by_position[(account_index, person.reports_to)],
                    search_text=search_text(person.name, person.mobile, person.email),
                )
                by_position[(account_index, contact_index)] = contact
                batch.append(contact)
        Contact.objects.bulk_create(batch, batch_size=1000)
    contacts = [by_position[key] for key in sorted(by_position)]
    account_created_at = Subquery(Account.objects.filter(pk=OuterRef("account_id")).values("created_at")[:1])
    Contact.objects.filter(pk__in=[contact.pk for contact in contacts]).update(
        created_at=account_created_at, updated_at=account_created_at,
    )
    return contacts


def _followups(dataset: DemoDataset, *, anchor: dt.datetime, accounts: list[Account],
               users: dict[str, User]) -> list[FollowUp]:
    rows = [
        FollowUp(
            object_type="account", object_id=account.pk, kind=followup.kind,
            occurred_at=_at(anchor, days=-followup.days_ago, hour=followup.hour, minute=followup.minute),
            content=followup.content, outcome=followup.outcome, next_step=followup.next_step,
            next_step_at=(_at(anchor, days=followup.next_step_in_days, hour=10)
                          if followup.next_step_in_days is not None else None),
            owner=users[followup.owner],
        )
        for account, item in zip(accounts, dataset.accounts, strict=True) for followup in item.followups
    ]
    FollowUp.objects.bulk_create(rows, batch_size=1000)
    FollowUp.objects.filter(pk__in=[row.pk for row in rows]).update(created_at=F("occurred_at"))
    return rows


def _work_items(dataset: DemoDataset, *, anchor: dt.datetime, accounts: list[Account], users: dict[str, User],
                departments: dict[str, Department]) -> tuple[int, int]:
    """To-dos, account teams, shares and inbox notifications; returns (to-dos, notifications)."""
    now = timezone.now()
    todos = []
    for todo in dataset.todos:
        due_at = _at(anchor, days=todo.due_in_days, hour=todo.hour)
        account = accounts[todo.account] if todo.account is not None else None
        todos.append(Todo(
            title=todo.title, due_at=due_at, assignee=users[todo.assignee],
            object_type="account" if account else "", object_id=account.pk if account else None,
            # Overdue items were already reminded about; the reminder job must not fire for them again.
            reminded_at=due_at - dt.timedelta(minutes=30) if due_at < now else None,
            created_by=users[todo.assignee],
        ))
    Todo.objects.bulk_create(todos)
    AccountTeamMember.objects.bulk_create([
        AccountTeamMember(account=accounts[member.account], user=users[member.user], role=member.role,
                          access=member.access)
        for member in dataset.team_members
    ])
    Share.objects.bulk_create([
        Share(object_type="account", object_id=accounts[share.account].pk,
              user=users[share.user] if share.user else None,
              department=departments[share.team] if share.team else None,
              access=share.access, created_by=users[share.shared_by])
        for share in dataset.shares
    ])
    notifications = [
        Notification(
            recipient=users[item.recipient], kind=item.kind, title=item.title, body=item.body,
            url=_account_url(accounts[item.account].pk) if item.account is not None else "",
            read_at=now if item.is_read else None,
        )
        for item in dataset.notifications
    ]
    Notification.objects.bulk_create(notifications)
    return len(todos), len(notifications)


def _audit(accounts: list[Account], contacts: list[Contact], *, actor: User) -> int:
    events = [
        {"object_type": "account", "object_id": account.pk, "action": AuditEvent.Kind.CREATE,
         "object_repr": account.name, "summary": AUDIT_SUMMARY}
        for account in accounts
    ] + [
        {"object_type": "contact", "object_id": contact.pk, "action": AuditEvent.Kind.CREATE,
         "object_repr": contact.name, "summary": AUDIT_SUMMARY}
        for contact in contacts
    ]
    return audit_bulk(events=events, actor_id=actor.pk)


def demo_load(*, stdout: Any = None) -> None:
    """Load the demo company into the database in one transaction (all or nothing).

    Raises ValidationFailed when a demo username is already taken; nothing is written then.
    """
    started = time.perf_counter()
    _say(stdout, "Loading the demo company…")
    dataset = demo_dataset()
    anchor = _anchor()
    context = request_context.RequestContext(request_id=request_context.new_request_id(), source="cli")
    with request_context.bind(context), transaction.atomic():
        departments, users = _organisation()
        _say(stdout, f"  {len(departments)} departments, {len(users)} users")
        accounts = _accounts(dataset, anchor=anchor, users=users)
        contacts = _contacts(dataset, accounts)
        _say(stdout, f"  {len(accounts)} accounts, {len(contacts)} contacts")
        followups = _followups(dataset, anchor=anchor, accounts=accounts, users=users)
        todo_count, notification_count = _work_items(dataset, anchor=anchor, accounts=accounts, users=users,
                                                     departments=departments)
        _say(stdout, f"  {len(followups)} follow-ups, {todo_count} to-dos, {notification_count} notifications")
        _audit(accounts, contacts, actor=users["admin"])
        # A few risk events, ingested like the API does (graded, alerted, audited): the risk badge shows.
        risk_events_demo(accounts=accounts, actor=users["admin"], today=anchor.date())
        # Two years of orders and the first RFM computation: the RFM panel and segment filter show something.
        rfm_demo(accounts=accounts, actor=users["admin"], today=anchor.date())
        # Public pools: quiet prospects lie in the pools, the other prospects are held under their rules.
        pooled = pool_demo(accounts=accounts, users=users, departments=departments, anchor=anchor)
        _say(stdout, f"  {pooled['pooled']} accounts in public pools, {pooled['held']} held under pool rules")
        # Bulk-written records get their duplicate-control keys set-based, as imports do.
        duplicate_keys = sum(duplicates.keys_rebuild(object_type) for object_type in ("account", "contact"))
        _say(stdout, f"  duplicate-control keys for {duplicate_keys} records")
        # The top of the funnel (MTL, ADR 0004): tender notices matched to subscriptions, lead pools and
        # routing rules, then leads made through the services (keys, routing, scores as for a user).
        tenders_demo(users=users, anchor=anchor)
        lead_pools_demo(users=users, departments=departments, anchor=anchor)
        campaigns = campaigns_demo(users=users, anchor=anchor, accounts=accounts, contacts=contacts)
        _say(stdout, f"  {len(campaigns)} campaigns")
        _campaign_orders(anchor=anchor, users=users)
        notice_ids = list(TenderNotice.objects.order_by("-published_on", "-id").values_list("pk", flat=True)[:3])
        lead_counts = leads_demo(users=users, anchor=anchor, accounts=accounts,
                                 campaign_ids=[campaign.pk for campaign in campaigns[1:]],
                                 tender_notice_ids=notice_ids)
        _say(stdout, "  leads: " + ", ".join(f"{count} {kind}" for kind, count in lead_counts.items()))
        # Deals (ADR 0005): an open pipeline and fifteen months of closed history, health computed.
        deal_counts = opportunities_demo(users=users, anchor=anchor, accounts=accounts,
                                         campaign_ids=[campaign.pk for campaign in campaigns[1:]])
        _say(stdout, "  opportunities: " + ", ".join(f"{count} {status}" for status, count in deal_counts.items()))
        # CPQ (ADR 0006): the catalogue with a configurable server, then books and promotions over it.
        products = catalog_demo()
        price_counts = pricing_demo(users=users, departments=departments, anchor=anchor)
        _say(stdout, f"  {products} products, " + ", ".join(f"{count} {kind}" for kind, count in price_counts.items()))
    _say(stdout, f"Demo company loaded in {time.perf_counter() - started:.1f} s.")


def _campaign_orders(*, anchor: dt.datetime, users: dict[str, User]) -> int:
    """Orders placed after a campaign by accounts whose contacts checked in: recorded like a rep
    does (their account's owner), they are attributed to the campaigns after commit, so the ROI
    report shows won revenue."""
    from l2c.apps.customers.rfm import transaction_create
    from l2c.apps.marketing.models import CampaignMember

    members = (CampaignMember.objects.filter(status="checked_in", contact__account__owner__isnull=False)
               .select_related("contact__account").order_by("pk"))
    done: set[int] = set()
    for member in members:
        account = member.contact.account
        if account.pk in done or len(done) >= 8 or member.checked_in_at is None:
            continue
        day = min(timezone.localtime(member.checked_in_at).date() + dt.timedelta(days=10), anchor.date())
        transaction_create(actor=account.owner, account_id=account.pk, data={
            "occurred_on": day, "amount": str(80_000 + 15_000 * len(done)), "currency": "CNY",
            "reference": f"CAMPAIGN-ORDER-{member.pk}", "note": "活动后签约"})
        done.add(account.pk)
    return len(done)


def demo_load_if_empty(*, stdout: Any = None) -> bool:
    """Load the demo company unless a user named admin exists; True when it was loaded."""
    if User.objects.filter(username="admin").exists():
        return False
    demo_load(stdout=stdout)
    return True
