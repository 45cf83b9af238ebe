"""The one choke point for data visibility and permissions.

Every list, detail, update, delete, export, search, count and job asks this module which records a
user may reach. Business apps register their object types in `AppConfig.ready()`.

Rules (per object type):
- A user's permissions are the union over their roles; the data scope is the widest scope among
  roles that grant `view`. Superusers and the `admin` role reach everything.
- view: records in scope, records shared with the user or their department, and records reached
  through the type's extra relations (e.g. account team membership).
- edit: needs the `edit` permission, and the record in scope, or shared with edit access, or an
  extra relation granting edit.
- delete / transfer: need the permission and the record in scope (shares never grant them).
- export: needs `export` and applies the view filter. create / import: permission only.
Records whose object type delegates to a parent (contacts → account) inherit the parent's reach.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db.models import BooleanField, Expression, Model, Q, QuerySet, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from l2c.db.prepared import PreparedQuery
from l2c.kernel.errors import NotFound, PermissionDenied

from .models import SCOPE_ORDER, Action, DataScope, Department, Role, Share, ShareAccess

if TYPE_CHECKING:
    from .models import User

ALL_ACTIONS = tuple(Action.values)
RECORD_ACTIONS = ("view", "edit", "delete", "transfer")


@dataclass(frozen=True)
class ObjectType:
    """How the choke point reaches one kind of business record."""

    key: str
    model: type[Model]
    label: Any
    # The singular noun in messages ("no account with id 7"); the key when not given.
    noun: Any = None
    owner_field: str | None = "owner"
    department_field: str | None = "department"
    # Extra visibility: (user, action) -> Q over the model, OR-ed into the scope filter. It may read
    # only user.pk, user.department_id and the action (its SQL is memoised under those, see
    # `restrict`), and reach other tables through uncorrelated subqueries, read when the query runs.
    extra: tuple[Callable[[User, str], Q | None], ...] = ()
    # Delegation: the record is reached iff its parent (a field name) is reached.
    parent_field: str | None = None
    parent_type: str | None = None
    # Built-in role code -> (scope, actions) created when missing after migrate; admins may edit.
    default_grants: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)


_REGISTRY: dict[str, ObjectType] = {}


def register(object_type: ObjectType) -> None:
    _REGISTRY[object_type.key] = object_type


def object_type(key: str) -> ObjectType:
    return _REGISTRY[key]


def object_types() -> list[ObjectType]:
    return list(_REGISTRY.values())


# Lower-case verbs of the actions, for messages ("you may not edit contact records").
ACTION_VERBS = {
    "view": pgettext_lazy("action verb", "查看"),
    "create": pgettext_lazy("action verb", "新建"),
    "edit": pgettext_lazy("action verb", "编辑"),
    "delete": pgettext_lazy("action verb", "删除"),
    "export": pgettext_lazy("action verb", "导出"),
    "import": pgettext_lazy("action verb", "导入"),
    "transfer": pgettext_lazy("action verb", "转移"),
}


def noun(key: str) -> str:
    """The singular noun of object type `key` in the active language, for messages."""
    spec = _REGISTRY.get(key)
    return str(spec.noun) if spec is not None and spec.noun is not None else key


def verb(action: str) -> str:
    return str(ACTION_VERBS.get(action, action))


@dataclass
class Grant:
    """A user's effective permission on one object type."""

    scope: str = DataScope.NONE
    actions: set[str] = field(default_factory=set)
    sources: list[tuple[str, str]] = field(default_factory=list)  # (role name, data scope) of each role


def is_admin(user: User) -> bool:
    """Superusers and holders of the admin role reach every record and every job run."""
    return bool(user.is_superuser) or "admin" in _role_codes(user)


def _role_codes(user: User) -> set[str]:
    _load(user)
    return user._l2c_role_codes  # type: ignore[attr-defined,no-any-return]


def _grants(user: User) -> dict[str, Grant]:
    _load(user)
    return user._l2c_grants  # type: ignore[attr-defined,no-any-return]


# Role codes and grants of one user: a prepared query (run on every request, never rebuilt).
_GRANT_ROWS = PreparedQuery(
    lambda user_id: Role.objects.filter(users=user_id).values_list(
        "code", "name", "permissions__object_type", "permissions__scope",
        *(f"permissions__can_{action}" for action in ALL_ACTIONS)),
    user_id=int,
)


def _load(user: User) -> None:
    """Role codes and per-object-type grants of the user in ONE query, cached on the user object
    for the request (a LEFT JOIN of roles to their permissions: roles without permissions count)."""
    if getattr(user, "_l2c_grants", None) is not None:
        return
    codes: set[str] = set()
    grants: dict[str, Grant] = {}
    if user.pk and user.is_active:
        for code, role_name, object_type, scope, *allowed in _GRANT_ROWS.rows(user_id=user.pk):
            codes.add(code)
            if object_type is None:
                continue
            grant = grants.setdefault(object_type, Grant())
            grant.actions.update(action for action, ok in zip(ALL_ACTIONS, allowed, strict=True) if ok)
            can_view = allowed[ALL_ACTIONS.index("view")]
            if can_view and SCOPE_ORDER[DataScope(scope)] > SCOPE_ORDER[DataScope(grant.scope)]:
                grant.scope = scope
            grant.sources.append((role_name, scope))
    user._l2c_role_codes = codes  # type: ignore[attr-defined]
    user._l2c_grants = grants  # type: ignore[attr-defined]


def grant_for(user: User, key: str) -> Grant:
    if not user.is_authenticated or not user.is_active:
        return Grant()
    if is_admin(user):
        return Grant(scope=DataScope.ALL, actions=set(ALL_ACTIONS), sources=[("admin", DataScope.ALL)])
    return _grants(user).get(key, Grant())


def can(user: User, key: str, action: str) -> bool:
    """Whether the user's roles grant `action` on object type `key` at all."""
    return action in grant_for(user, key).actions


def require(user: User, key: str, action: str) -> None:
    if not can(user, key, action):
        raise PermissionDenied(_("你没有%(action)s%(object)s的权限。") % {"action": verb(action), "object": noun(key)})


def assignable_owners(user: User, key: str) -> QuerySet[Any]:
    """Active users whom `user` may make owners of `key` records: themselves, plus (with the
    transfer permission) everybody inside their data scope."""
    from .models import User as UserModel

    active = UserModel.objects.filter(is_active=True)
    self_only = active.filter(pk=user.pk)
    if not can(user, key, "transfer"):
        return self_only
    scope = grant_for(user, key).scope
    if scope == DataScope.ALL:
        return active
    if scope == DataScope.SUBTREE and user.department_id is not None:
        return active.filter(Q(pk=user.pk) | Q(department_id__in=department_subtree_ids(user.department_id)))
    if scope == DataScope.DEPARTMENT and user.department_id is not None:
        return active.filter(Q(pk=user.pk) | Q(department_id=user.department_id))
    return self_only


def department_subtree_ids(department_id: int | None) -> list[int]:
    if department_id is None:
        return []
    path = Department.objects.filter(pk=department_id).values_list("path", flat=True).first()
    if not path:
        return [department_id]
    return list(Department.objects.filter(path__startswith=path).values_list("pk", flat=True))


def _scope_q(user: User, spec: ObjectType, scope: str) -> Q | None:
    """Q for records inside the scope; None means "everything"; Q(pk__in=[]) means nothing."""
    if scope == DataScope.ALL:
        return None
    nothing = Q(pk__in=[])
    own = Q(**{spec.owner_field: user.pk}) if spec.owner_field else nothing
    if scope == DataScope.OWN:
        return own
    if spec.department_field is None or user.department_id is None:
        return own
    if scope == DataScope.DEPARTMENT:
        return own | Q(**{spec.department_field: user.department_id})
    if scope == DataScope.SUBTREE:
        # A subquery, so the subtree costs no extra round trip: departments whose path starts with
        # the user's department path.
        user_path = Department.objects.filter(pk=user.department_id).values("path")[:1]
        subtree = Department.objects.filter(path__startswith=Subquery(user_path)).values("pk")
        return own | Q(**{f"{spec.department_field}__in": subtree})
    return nothing


def _share_q(user: User, spec: ObjectType, edit_only: bool) -> Q:
    shares = Share.objects.filter(object_type=spec.key)
    target = Q(user_id=user.pk)
    if user.department_id is not None:
        target |= Q(department_id=user.department_id)
    shares = shares.filter(target)
    if edit_only:
        shares = shares.filter(access=ShareAccess.EDIT)
    return Q(pk__in=shares.values("object_id"))


def record_filter(user: User, key: str, action: str = "view") -> Q | None:
    """The filter selecting records of `key` on which `user` may perform `action`.

    None means unrestricted; `Q(pk__in=[])` means nothing.
    """
    spec = _REGISTRY[key]
    nothing = Q(pk__in=[])
    if not user.is_authenticated or not user.is_active:
        return nothing
    if spec.parent_type and spec.parent_field:
        # The child's own permission gates the action; the parent's reach gates the records.
        if not can(user, key, action if action != "transfer" else "edit"):
            return nothing
        parent_spec = _REGISTRY[spec.parent_type]
        if action in ("delete", "transfer"):
            # Shares and teams never grant delete/transfer: only parents inside the user's scope count.
            parent_grant = grant_for(user, spec.parent_type)
            if "view" not in parent_grant.actions:
                return nothing
            parent_q = _scope_q(user, parent_spec, parent_grant.scope)
        else:
            # Export applies the view filter; edit needs the parent editable.
            parent_q = record_filter(user, spec.parent_type, "edit" if action == "edit" else "view")
        if parent_q is None:
            return None
        parent_model = parent_spec.model
        return Q(**{f"{spec.parent_field}__in": parent_model._default_manager.filter(parent_q).values("pk")})
    grant = grant_for(user, key)
    required = "view" if action == "export" else action
    if action == "export" and "export" not in grant.actions:
        return nothing
    if required not in grant.actions:
        return nothing
    base = _scope_q(user, spec, grant.scope)
    if base is None:
        return None
    if action in ("view", "export"):
        base = base | _share_q(user, spec, edit_only=False)
    elif action == "edit":
        base = base | _share_q(user, spec, edit_only=True)
    if action in ("view", "export", "edit"):
        for extra in spec.extra:
            extra_q = extra(user, action)
            if extra_q is not None:
                base = base | extra_q
    return base


def restrict(queryset: QuerySet[Any], user: User, key: str, action: str = "view") -> QuerySet[Any]:
    """Narrow any queryset of `key` records to those `user` may `action`. Use it everywhere."""
    condition = _compiled_filter(user, key, action, queryset)
    if condition is None:
        return queryset
    return queryset.filter(condition)


# --- the record filter as compiled SQL ------------------------------------------------------------
# Building `record_filter`'s Q (subqueries for the department subtree, shares and teams) and compiling
# it costs more than running the list query it narrows. For an active user who is not a superuser,
# its SQL is a pure function of what `record_filter` reads: the user's id, department, role codes and
# grants (loaded fresh on every request by `_load`), the object type's registration, and the action.
# Shares, team membership and the department tree are subqueries, read when the query runs. So the
# compiled SQL is memoised under exactly those inputs: a revoked role or a moved user changes the
# key, and the next request compiles its own filter; nothing is ever invalidated.
_COMPILED_FILTERS: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]] | None] = {}
_COMPILED_FILTERS_MAX = 4096
_NOT_COMPILED: Any = object()


class CompiledCondition(Expression):
    """A WHERE condition over one table compiled earlier; follows the table's alias in the query."""

    conditional = True

    def __init__(self, sql: str, params: tuple[Any, ...], table: str, alias: str | None = None) -> None:
        super().__init__(output_field=BooleanField())
        self.sql, self.params, self.table, self.alias = sql, params, table, alias or table

    def resolve_expression(self, query: Any = None, allow_joins: bool = True, reuse: Any = None,
                           summarize: bool = False, for_save: bool = False) -> CompiledCondition:
        alias = query.get_initial_alias() if query is not None else self.table
        return CompiledCondition(self.sql, self.params, self.table, alias)

    def relabeled_clone(self, change_map: Mapping[str, str]) -> CompiledCondition:
        return CompiledCondition(self.sql, self.params, self.table, change_map.get(self.alias, self.alias))

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        sql = self.sql
        if self.alias != self.table:  # the table's own columns are written "<table>"."<column>"
            sql = sql.replace(f"{connection.ops.quote_name(self.table)}.",
                              f"{compiler.quote_name_unless_alias(self.alias)}.")
        return f"({sql})", list(self.params)

    def get_group_by_cols(self) -> list[Any]:
        return []


def _filter_key(user: User, key: str, action: str, using: str) -> tuple[Any, ...]:
    grants = tuple(sorted((object_type, grant.scope, tuple(sorted(grant.actions)))
                          for object_type, grant in _grants(user).items()))
    return (using, key, id(_REGISTRY[key]), action, user.pk, user.department_id, tuple(sorted(_role_codes(user))),
            grants)


def _compiled_filter(user: User, key: str, action: str, queryset: QuerySet[Any]) -> Q | CompiledCondition | None:
    """`record_filter(user, key, action)` for `queryset`, as memoised SQL where it can be.

    None means unrestricted. Anonymous, inactive and superusers, and querysets of another table, get
    the Q itself (cheap there, or not worth a cache entry; a superuser's grants are never loaded)."""
    spec = _REGISTRY[key]
    table = spec.model._meta.db_table
    if (not user.is_authenticated or not user.is_active or user.is_superuser
            or queryset.model._meta.db_table != table):
        return record_filter(user, key, action)
    cache_key = _filter_key(user, key, action, queryset.db)
    compiled = _COMPILED_FILTERS.get(cache_key, _NOT_COMPILED)
    if compiled is _NOT_COMPILED:
        condition = record_filter(user, key, action)
        compiled = _compile_filter(condition, spec, queryset.db)
        if len(_COMPILED_FILTERS) >= _COMPILED_FILTERS_MAX:  # a bound, not an invalidation
            _COMPILED_FILTERS.clear()
        _COMPILED_FILTERS[cache_key] = compiled
        if compiled is None:
            return condition
    if compiled is None:  # unrestricted, or a filter that compiles to "nothing": use the Q as is
        return record_filter(user, key, action)
    return CompiledCondition(compiled[0], compiled[1], table)


def _compile_filter(condition: Q | None, spec: ObjectType, using: str) -> tuple[str, tuple[Any, ...]] | None:
    """SQL and parameters of `condition` over the type's table, its own columns named "<table>"."<column>"."""
    if condition is None:
        return None
    query = spec.model._default_manager.filter(condition).query
    compiler = query.get_compiler(using=using)
    try:
        sql, params = compiler.compile(query.where)
    except (EmptyResultSet, FullResultSet):
        return None
    return sql, tuple(params)


def visible(user: User, key: str, action: str = "view") -> QuerySet[Any]:
    return restrict(_REGISTRY[key].model._default_manager.all(), user, key, action)


def get_for_action(user: User, key: str, pk: Any, action: str = "view",
                   queryset: QuerySet[Any] | None = None) -> Any:
    """Fetch one record for an action: 404 if the user may not see it, 403 if they may see it but
    not perform `action`. Nothing is changed either way."""
    base = queryset if queryset is not None else _REGISTRY[key].model._default_manager.all()
    try:
        pk_value = int(pk)
    except (TypeError, ValueError):
        raise NotFound(_("没有 ID 为 %(id)s 的%(object)s。") % {"id": repr(pk), "object": noun(key)}) from None
    record = restrict(base, user, key, "view").filter(pk=pk_value).first()
    if record is None:
        raise NotFound(_("没有 ID 为 %(id)s 的%(object)s。") % {"id": pk_value, "object": noun(key)})
    if action != "view" and not restrict(base, user, key, action).filter(pk=pk_value).exists():
        raise PermissionDenied(_("你可以查看这个%(object)s，但没有%(action)s它的权限。")
                               % {"object": noun(key), "action": verb(action)})
    return record


def allowed_actions(user: User, key: str, record: Model) -> set[str]:
    """Which record-level actions the user may take on one record (for buttons in the UI)."""
    base = _REGISTRY[key].model._default_manager.filter(pk=record.pk)
    return {action for action in RECORD_ACTIONS if restrict(base, user, key, action).exists()}


@dataclass(frozen=True)
class Explanation:
    action: str
    allowed: bool
    reasons: tuple[str, ...]


def explain(user: User, key: str, record: Model) -> list[Explanation]:
    """Why `user` may or may not act on `record`: the admin page "why can X see Y" shows this."""
    spec = _REGISTRY[key]
    grant = grant_for(user, key)
    base = spec.model._default_manager.filter(pk=record.pk)
    results: list[Explanation] = []
    for action in RECORD_ACTIONS:
        reasons: list[str] = []
        if not user.is_active:
            reasons.append(_("用户已停用"))
        if is_admin(user):
            reasons.append(_("管理员：可访问所有记录"))
        if spec.parent_type:
            reasons.append(_("跟随所属%(parent)s") % {"parent": noun(spec.parent_type)})
        else:
            actions = ", ".join(verb(action) for action in ALL_ACTIONS if action in grant.actions) or _("无")
            reasons.append(_("角色授予：%(actions)s；数据范围：%(scope)s")
                           % {"actions": actions, "scope": DataScope(grant.scope).label})
            if grant.sources:
                sources = "; ".join(f"{role_name}: {DataScope(scope).label}" for role_name, scope in grant.sources)
                reasons.append(_("来自：%(sources)s") % {"sources": sources})
            owner_id = getattr(record, f"{spec.owner_field}_id", None) if spec.owner_field else None
            if owner_id == user.pk:
                reasons.append(_("用户是记录的负责人"))
            record_department = (
                getattr(record, f"{spec.department_field}_id", None) if spec.department_field else None
            )
            if record_department is not None and record_department == user.department_id:
                reasons.append(_("记录属于用户所在部门"))
            elif record_department in department_subtree_ids(user.department_id):
                reasons.append(_("记录属于用户所在部门的下级部门"))
            shares = Share.objects.filter(object_type=key, object_id=record.pk).filter(
                Q(user_id=user.pk) | Q(department_id=user.department_id)
            )
            for share in shares:
                label = ShareAccess(share.access).label
                reasons.append(_("共享给该用户（%(access)s）") % {"access": label} if share.user_id
                               else _("共享给用户所在部门（%(access)s）") % {"access": label})
        allowed = restrict(base, user, key, action).exists()
        results.append(Explanation(action=action, allowed=allowed, reasons=tuple(reasons)))
    return results
