"""Reads of accounts and contacts — always narrowed by the access choke point first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import BooleanField, F, Func, Q, QuerySet, TextField, Value
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from l2c.apps.identity import access
from l2c.apps.identity.models import User
from l2c.db.prepared import ID_LIST_SQL, PreparedQuery, id_list_param
from l2c.kernel.uscc import normalize_uscc

from .models import Account, Contact
from .validation import SearchGroup, search_phone_digits, search_query_groups

ACCOUNT_SORTS = {
    "-updated_at": "-updated_at", "updated_at": "updated_at", "name": "name", "-name": "-name",
    "-created_at": "-created_at", "created_at": "created_at", "-id": "-id",
}
CONTACT_SORTS = {"-updated_at": "-updated_at", "name": "name", "-name": "-name", "-created_at": "-created_at",
                 "-id": "-id"}
# A search is listed newest first (by id) unless the caller picks a sort: that order is the order
# of the full-text index, so a page costs the rows read, however many rows match (see FullTextStream).
SEARCH_SORT = "-id"
LIST_SORT = "-updated_at"


def default_sort(q: str | None) -> str:
    return SEARCH_SORT if q and q.strip() else LIST_SORT


ACCOUNT_FILTERS = ("q", "owner_id", "department_id", "industry", "province", "city", "status", "level", "size",
                   "source", "tag", "created_from", "created_to", "rfm_segment", "risk_level")


# The FTS5 tables of migration customers 0003; the MATCH expression is a parameter.
_SQLITE_MATCH_SQL = {
    table: f"SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH %s"  # noqa: S608 (constant SQL)
    for table in ("customers_account", "customers_contact")
}


@dataclass(frozen=True)
class FullTextStream:
    """The ids of one table's rows matching an FTS5 query, read from the index in id order.

    FTS5 yields rowids in order and stops when told, so reading the next `size` matches below (or
    above) an id costs those matches only. `keyset_page` pages a search sorted by id through batches
    of this stream instead of a filter on every match: a term found in most names ("有限公") then
    costs the same as a rare one, where the filter form collects all of its matches before sorting.
    """

    table: str
    match: str

    def batch(self, *, bound: int | None, descending: bool, size: int) -> list[int]:
        """The next `size` matching ids past `bound` (exclusive), in the stream's direction."""
        sql = _SQLITE_MATCH_SQL[self.table]
        params: list[Any] = [self.match]
        if bound is not None:
            sql += " AND rowid < %s" if descending else " AND rowid > %s"
            params.append(bound)
        sql += f" ORDER BY rowid {'DESC' if descending else 'ASC'} LIMIT %s"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, size])
            return [row[0] for row in cursor.fetchall()]


def _sqlite_match(groups: list[SearchGroup]) -> str:
    return " AND ".join('"' + " ".join(group.tokens) + '"' + ("*" if group.prefix else "") for group in groups)


def _text_q(groups: list[SearchGroup]) -> Q:
    """The groups checked on each row's `search_text` (no index): tokens are space-separated and
    Chinese tokens single characters, so a phrase is a substring and a prefix follows a space."""
    condition = Q()
    for group in groups:
        phrase = " ".join(group.tokens)
        condition &= Q(search_text__startswith=phrase) | Q(search_text__contains=" " + phrase)
    return condition


def _postgresql_match(query: str) -> Func:
    """to_tsvector('simple', search_text) @@ to_tsquery('simple', query): the expression of the GIN
    index of migration customers 0003, so the planner may answer it from the index."""
    vector = Func(F("search_text"), template="to_tsvector('simple', %(expressions)s)", output_field=TextField())
    tsquery = Func(Value(query), template="to_tsquery('simple', %(expressions)s)", output_field=TextField())
    return Func(vector, tsquery, template="(%(expressions)s)", arg_joiner=" @@ ", output_field=BooleanField())


def _full_text_q(table: str, groups: list[SearchGroup]) -> Q:
    """Rows of `table` whose `search_text` holds every group, through the database's full-text
    index (migration customers 0003). Group tokens are letters, digits and single Chinese
    characters only (see `search_query_groups`), so no query text built here holds user syntax.

    SQLite: an FTS5 query (phrases of characters, prefix words). PostgreSQL: the GIN index answers
    "has all these tokens" (no phrase operators: a phrase needs each candidate's to_tsvector
    computed again, 100+ ms for common characters) and the substring check of `_text_q` decides
    order and adjacency on the candidates. Both conditions are on the row itself, so the planner
    may instead walk the list's sort index when a term is in most names, checking the cheap
    substring condition first."""
    if not groups:
        return Q(pk__in=[])
    vendor = connection.vendor
    if vendor == "sqlite":
        return Q(pk__in=RawSQL(_SQLITE_MATCH_SQL[table], [_sqlite_match(groups)]))  # noqa: S611 (constant SQL)
    if vendor == "postgresql":
        query = " & ".join(f"'{token}'" + (":*" if group.prefix else "")
                           for group in groups for token in group.tokens)
        return Q(_postgresql_match(query)) & _text_q(groups)
    return _text_q(groups)  # any other database: no index


def _search_q(q: str) -> Q:
    """Accounts found by a search term: every Chinese infix and every word (a prefix of a word,
    full pinyin or pinyin initials, from the start or from inside the name) of the name or short
    name; or an exact credit code; or, for a term of digits and dashes, part of the phone number.

    Every branch is indexed except the phone one, which is therefore used alone: an OR with an
    unindexed condition would turn the whole search into a table scan."""
    term = q.strip()
    code = normalize_uscc(term)
    credit_code = Q(credit_code=code) if len(code) == 18 else None
    if term.replace("-", "").isdigit() and len(term) >= 5:
        condition = Q(phone__contains=term)
    else:
        condition = _full_text_q(Account._meta.db_table, search_query_groups(term))
    return condition | credit_code if credit_code is not None else condition


def _contact_search_q(q: str) -> Q:
    """Contacts found by a search term: every Chinese infix and word prefix of the name (and its
    pinyin); a term that looks like a phone number is a prefix of the mobile number, one with an
    @ part of the e-mail address. All through the full-text index of `search_text`, which holds
    the mobile number as one digit token and the e-mail address as words."""
    term = q.strip()
    table = Contact._meta.db_table
    digits = search_phone_digits(term)
    if digits:
        return _full_text_q(table, [SearchGroup((digits,), prefix=True)])
    condition = _full_text_q(table, search_query_groups(term))
    if "@" in term:  # the index narrows to the rows holding these words; the column decides
        condition &= Q(email__icontains=term)
    return condition


def _without_nul(filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """Filter input minus NUL characters: PostgreSQL cannot compare text with them and no stored value has one."""
    return {key: value.replace("\x00", "") if isinstance(value, str) else value
            for key, value in (filters or {}).items()}


def account_list(*, user: User, filters: Mapping[str, Any] | None = None, action: str = "view",
                 rows: QuerySet[Account, Any] | None = None) -> QuerySet[Account]:
    """Accounts the user may `action`, narrowed by allow-listed filters. `rows` is what to narrow
    (default every account; e.g. a prepared `.values()` queryset of the columns a page shows)."""
    queryset = access.restrict(Account.objects.all() if rows is None else rows, user, "account", action)
    filters = _without_nul(filters)
    if filters.get("q"):
        queryset = queryset.filter(_search_q(str(filters["q"])))
    for name in ("owner_id", "department_id", "pool_id"):
        if filters.get(name) not in (None, ""):
            queryset = queryset.filter(**{name: int(filters[name])})
    for name in ("industry", "province", "city", "status", "level", "size", "source"):
        if filters.get(name):
            queryset = queryset.filter(**{name: filters[name]})
    if filters.get("tag"):
        queryset = queryset.filter(tags__name=filters["tag"])
    if filters.get("created_from"):
        queryset = queryset.filter(created_at__date__gte=_as_date(filters["created_from"]))
    if filters.get("created_to"):
        queryset = queryset.filter(created_at__date__lte=_as_date(filters["created_to"]))
    if filters.get("custom"):
        queryset = queryset.filter(custom_field_q("account", filters["custom"]))
    if filters.get("rfm_segment"):
        from .rfm import segment_filter

        queryset = segment_filter(queryset, str(filters["rfm_segment"]))
    if filters.get("risk_level"):  # the risk badge's column: "any" = with any open risk event
        level = str(filters["risk_level"])
        queryset = queryset.filter(risk_level__isnull=False) if level == "any" else queryset.filter(risk_level=level)
    return queryset


def _search_stream(table: str, q: str) -> FullTextStream | None:
    """The full-text stream of a search term when the term is answered by the FTS5 index alone
    (not a phone number or credit code, which have their own conditions), on SQLite."""
    term = q.strip()
    if connection.vendor != "sqlite" or not term:
        return None
    if table == Account._meta.db_table:
        if len(normalize_uscc(term)) == 18 or (term.replace("-", "").isdigit() and len(term) >= 5):
            return None
        groups = search_query_groups(term)
    else:
        digits = search_phone_digits(term)
        if "@" in term:
            return None
        groups = [SearchGroup((digits,), prefix=True)] if digits else search_query_groups(term)
    return FullTextStream(table, _sqlite_match(groups)) if groups else None


def account_page_source(*, user: User, filters: Mapping[str, Any] | None = None, sort: str,
                        rows: QuerySet[Account, Any] | None = None) -> tuple[QuerySet[Account], FullTextStream | None]:
    """What `keyset_page` pages for an account list: the visible, filtered accounts (of `rows`, see
    `account_list`), and for a search sorted by id on SQLite, the full-text stream that replaces the
    search filter."""
    filters = dict(filters or {})
    stream = _search_stream(Account._meta.db_table, str(filters.get("q") or "")) if sort == SEARCH_SORT else None
    if stream is not None:
        filters.pop("q")
    return account_list(user=user, filters=filters, rows=rows), stream


def contact_page_source(*, user: User, filters: Mapping[str, Any] | None = None,
                        sort: str) -> tuple[QuerySet[Contact], FullTextStream | None]:
    filters = dict(filters or {})
    stream = _search_stream(Contact._meta.db_table, str(filters.get("q") or "")) if sort == SEARCH_SORT else None
    if stream is not None:
        filters.pop("q")
    return contact_list(user=user, filters=filters), stream


def custom_field_q(object_type: str, conditions: Mapping[str, str] | list[str]) -> Q:
    """Filter on custom fields: {key: value} or ["key:value", …]. Keys must be defined fields; values
    are matched as stored (multi-choice and boolean fields are matched by containment/truth)."""
    from l2c.apps.activity.custom_fields import definitions
    from l2c.apps.activity.models import CustomField
    from l2c.kernel.errors import FieldError, ValidationFailed

    if isinstance(conditions, list):
        pairs = [item.split(":", 1) for item in conditions]
        if any(len(pair) != 2 for pair in pairs):
            raise ValidationFailed(_("自定义字段筛选条件无效。"),
                                   errors=[FieldError("custom", _("请使用“字段键:值”的格式。"))])
        conditions = {key: value for key, value in pairs}
    fields = {field.key: field for field in definitions(object_type)}
    condition = Q()
    for key, value in conditions.items():
        field = fields.get(key)
        if field is None:
            raise ValidationFailed(_("未知的自定义字段。"),
                                   errors=[FieldError(f"custom.{key}", _("没有这个自定义字段。"), "unknown_field")])
        if field.kind == CustomField.Kind.BOOLEAN:
            condition &= Q(**{f"custom__{key}": value.lower() in {"1", "true", "yes", "是"}})
        elif field.kind == CustomField.Kind.NUMBER:
            try:
                condition &= Q(**{f"custom__{key}": int(value)})
            except ValueError:
                raise ValidationFailed(_("自定义字段筛选条件无效。"), errors=[
                    FieldError(f"custom.{key}", _("必须是整数。"))]) from None
        elif field.kind == CustomField.Kind.MULTI_CHOICE:
            condition &= Q(**{f"custom__{key}__icontains": f'"{value}"'})
        else:
            condition &= Q(**{f"custom__{key}": value})
    return condition


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def contact_list(*, user: User, filters: Mapping[str, Any] | None = None, action: str = "view") -> QuerySet[Contact]:
    queryset = access.restrict(Contact.objects.all(), user, "contact", action)
    filters = _without_nul(filters)
    if filters.get("q"):
        queryset = queryset.filter(_contact_search_q(str(filters["q"])))
    if filters.get("account_id") not in (None, ""):
        queryset = queryset.filter(account_id=int(filters["account_id"]))
    return queryset


def _tag_rows(ids: str) -> QuerySet[Any]:
    if connection.vendor not in ID_LIST_SQL:
        raise NotImplementedError(connection.vendor)
    through: Any = Account.tags.through
    return through.objects.filter(  # type: ignore[no-any-return]
        account_id__in=RawSQL(ID_LIST_SQL[connection.vendor], [ids]),  # noqa: S611 (constant SQL)
    ).values_list("account_id", "tag__name")


# Every list page asks for the tags of its rows: one prepared query, the ids as one parameter.
_TAG_ROWS = PreparedQuery(_tag_rows, ids=str)


def account_tag_names(account_ids: list[int]) -> dict[int, list[str]]:
    """Sorted tag names per account id, in one query."""
    names: dict[int, list[str]] = {}
    if not account_ids:
        return names
    if connection.vendor in ID_LIST_SQL:
        rows = _TAG_ROWS.rows(ids=id_list_param(account_ids))
    else:
        rows = list(Account.tags.through.objects.filter(account_id__in=account_ids).values_list(
            "account_id", "tag__name"))
    for account_id, name in rows:
        names.setdefault(account_id, []).append(name)
    return {account_id: sorted(values) for account_id, values in names.items()}


def account_detail(*, user: User, account_id: int) -> Account:
    return access.get_for_action(
        user, "account", account_id, "view",
        queryset=Account.objects.select_related("owner", "department").prefetch_related("tags"),
    )


def contact_detail(*, user: User, contact_id: int) -> Contact:
    return access.get_for_action(user, "contact", contact_id, "view",
                                 queryset=Contact.objects.select_related("account", "reports_to"))
