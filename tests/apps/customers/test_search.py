"""Account and contact search through the full-text indexes (SQLite FTS5, PostgreSQL GIN): Chinese
infixes, pinyin initials from the start or inside the name, full-pinyin prefixes, credit codes,
phone numbers and e-mail addresses; query syntax in the term is never an error; visibility holds;
the index follows inserts, updates and deletes."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client

from l2c.apps.customers.validation import search_query_groups, search_text
from tests.conftest import make_account, make_contact

VALID_CODE = "91110000600037341L"


@pytest.fixture
def accounts(org: Any) -> dict[str, Any]:
    return {
        "星河": make_account(org["rep1"], "北京星河智能科技有限公司", short_name="星河智能", credit_code=VALID_CODE),
        "长安": make_account(org["rep1"], "重庆长安汽车股份有限公司", short_name="长安汽车", phone="023-67591234"),
        "星辰": make_account(org["rep1"], "上海星辰贸易有限公司", short_name="星辰贸易"),
    }


def account_names(client: Client, q: str) -> list[str]:
    response = client.get("/api/v1/accounts", {"q": q, "limit": 200})
    assert response.status_code == 200, response.content
    return sorted(item["name"] for item in response.json()["items"])


def contact_names(client: Client, q: str) -> list[str]:
    response = client.get("/api/v1/contacts", {"q": q, "limit": 200})
    assert response.status_code == 200, response.content
    return sorted(item["name"] for item in response.json()["items"])


# --- the stored text and the query ----------------------------------------------------------------
def test_search_text_spaces_chinese_characters_and_adds_pinyin_initials_and_their_suffixes() -> None:
    assert search_text("北京星河智能科技有限公司", "星河智能") == (
        "北 京 星 河 智 能 科 技 有 限 公 司 beijingxinghezhinengkejiyouxiangongsi xinghezhineng "
        "北京 京星 星河 河智 智能 能科 科技 技有 有限 限公 公司 "
        "bjxhznkjyxgs xhzn "
        "jxhznkjyxgs xhznkjyxgs hznkjyxgs znkjyxgs nkjyxgs kjyxgs jyxgs yxgs xgs gs hzn zn")


def test_search_text_of_a_contact_keeps_the_mobile_as_digits_and_the_e_mail_as_words() -> None:
    assert search_text("王强", "138-0013-8000", "Wang.Qiang@Example.com") == (
        "王 强 wangqiang 13800138000 wang qiang example com 王强 wq")


def test_search_text_keeps_the_words_of_a_part_that_is_only_part_of_an_earlier_word() -> None:
    assert search_text("Xab Y", "ab") == "xab y ab"


def test_search_text_folds_full_width_letters_and_drops_punctuation() -> None:
    assert search_text("ＡＢＣ（北京）科技", "") == "abc 北 京 科 技 beijingkeji 北京 京科 科技 bjkj jkj kj"


def test_search_text_pairs_each_part_on_its_own() -> None:
    assert search_text("远景公司", "星火") == (
        "远 景 公 司 yuanjinggongsi 星 火 xinghuo 远景 景公 公司 星火 yjgs xh jgs gs")


def test_search_text_is_cut_at_a_token_boundary_to_fit_both_columns() -> None:
    text = search_text("中" * 200, "国" * 100)

    assert len(text) <= 600
    assert text.split(" ") == ["中"] * 200 + ["国"] * 100


def test_search_query_groups_keep_only_letters_digits_and_chinese_characters() -> None:
    groups = search_query_groups('星河" OR bj* NEAR(长安) -x:1 &|!')

    assert [(group.tokens, group.prefix) for group in groups] == [
        (("星河",), False), (("or",), True), (("bj",), True), (("near",), True), (("长安",), False),
        (("x",), True), (("1",), True)]


def test_a_run_of_chinese_characters_is_asked_for_as_the_phrase_of_its_pairs() -> None:
    assert [group.tokens for group in search_query_groups("州金盛建 星")] == [("州金", "金盛", "盛建"), ("星",)]


# --- accounts -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("q", "expected"), [
    ("星河", ["北京星河智能科技有限公司"]),
    ("星", ["上海星辰贸易有限公司", "北京星河智能科技有限公司"]),
    ("长安", ["重庆长安汽车股份有限公司"]),
    ("安汽车股", ["重庆长安汽车股份有限公司"]),
    ("河星", []),
    ("bjxh", ["北京星河智能科技有限公司"]),
    ("BJXH", ["北京星河智能科技有限公司"]),
    ("xhzn", ["北京星河智能科技有限公司"]),
    ("cqca", ["重庆长安汽车股份有限公司"]),
    ("caqc", ["重庆长安汽车股份有限公司"]),
    ("beijingxing", ["北京星河智能科技有限公司"]),
    ("xinghe", ["北京星河智能科技有限公司"]),
    ("xing", ["上海星辰贸易有限公司", "北京星河智能科技有限公司"]),
    ("星河 bj", ["北京星河智能科技有限公司"]),
    ("上海 星", ["上海星辰贸易有限公司"]),
    ("有限公司", ["上海星辰贸易有限公司", "北京星河智能科技有限公司", "重庆长安汽车股份有限公司"]),
    ("ＢＪＸＨ", ["北京星河智能科技有限公司"]),
    (VALID_CODE, ["北京星河智能科技有限公司"]),
    (VALID_CODE.lower(), ["北京星河智能科技有限公司"]),
    ("023-6759", ["重庆长安汽车股份有限公司"]),
    ("67591234", ["重庆长安汽车股份有限公司"]),
])
def test_account_search_finds_infixes_initials_pinyin_codes_and_phones(org, api_client_for, accounts, q, expected):
    assert account_names(api_client_for("rep1"), q) == expected


@pytest.mark.parametrize(("q", "expected"), [
    ('星" OR *', []),
    ('"星河"', ["北京星河智能科技有限公司"]),
    ("NEAR(", []),
    ("NEAR(星 河)", []),
    ("星河 AND", []),
    ("OR", []),
    ("NOT 星", []),
    ("bj*", ["北京星河智能科技有限公司"]),
    ("星河:*", ["北京星河智能科技有限公司"]),
    ("长安 & | ! ( ) <-> '", ["重庆长安汽车股份有限公司"]),
    ("***", []),
    ("'", []),
    ("\\", []),
    ("^星河", ["北京星河智能科技有限公司"]),
    ("-星辰", ["上海星辰贸易有限公司"]),
    ("星河{}[]", ["北京星河智能科技有限公司"]),
])
def test_query_syntax_in_the_term_is_no_error(org, api_client_for, accounts, q, expected):
    client = api_client_for("rep1")

    assert account_names(client, q) == expected
    assert client.get("/api/v1/accounts/count", {"q": q}).json() == {"count": len(expected)}


def test_a_short_name_outside_the_name_is_found_by_its_characters_and_pinyin(org, api_client_for, accounts):
    make_account(org["rep1"], "中国石油天然气股份有限公司", short_name="中石油")
    client = api_client_for("rep1")

    assert account_names(client, "中石油") == ["中国石油天然气股份有限公司"]
    assert account_names(client, "zsy") == ["中国石油天然气股份有限公司"]
    assert account_names(client, "zhongshiyou") == ["中国石油天然气股份有限公司"]
    assert account_names(client, VALID_CODE[:10]) == []  # part of a credit code is no credit code
    assert account_names(client, "司中石") == []  # the name's end and the short name are not one run


def test_account_search_applies_visibility(org, api_client_for, accounts):
    make_account(org["rep2"], "天津星河物流有限公司")

    assert account_names(api_client_for("rep2"), "星河") == ["天津星河物流有限公司"]
    assert account_names(api_client_for("rep2"), "bjxh") == []
    assert account_names(api_client_for("rep2"), VALID_CODE) == []
    assert account_names(api_client_for("rep1"), "星河") == ["北京星河智能科技有限公司"]
    assert account_names(api_client_for("manager"), "星河") == ["北京星河智能科技有限公司", "天津星河物流有限公司"]


def test_a_renamed_account_is_found_by_its_new_name_only(org, api_client_for, accounts):
    from l2c.apps.customers.services import account_update

    account_update(actor=org["rep1"], account_id=accounts["星河"].pk,
                   data={"name": "北京银河智能科技有限公司", "short_name": "银河智能"})

    client = api_client_for("rep1")
    assert account_names(client, "星河") == []
    assert account_names(client, "bjxh") == []
    assert account_names(client, "银河") == ["北京银河智能科技有限公司"]
    assert account_names(client, "bjyh") == ["北京银河智能科技有限公司"]
    assert account_names(client, "智能") == ["北京银河智能科技有限公司"]


def test_a_deleted_account_is_not_found(org, api_client_for, accounts):
    from l2c.apps.customers.services import account_delete

    account_delete(actor=org["admin"], account_id=accounts["星河"].pk)

    client = api_client_for("rep1")
    assert account_names(client, "星河") == []
    assert account_names(client, "星") == ["上海星辰贸易有限公司"]


def test_accounts_loaded_in_bulk_are_indexed(org, api_client_for):
    from l2c.apps.customers.models import Account

    Account.objects.bulk_create(
        Account(name=name, owner=org["rep1"], department=org.north, search_text=search_text(name))
        for name in ("成都蜀道装备有限公司", "成都天府软件有限公司"))

    assert account_names(api_client_for("rep1"), "cdsd") == ["成都蜀道装备有限公司"]
    assert account_names(api_client_for("rep1"), "成都") == ["成都天府软件有限公司", "成都蜀道装备有限公司"]


def _insert_trigger_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'customers_account_fts_insert'")
        return cursor.fetchone()[0] == 1


def test_rows_written_with_the_index_deferred_are_indexed_and_the_trigger_returns(org, api_client_for):
    from django.db import transaction

    from l2c.apps.customers.models import Account
    from l2c.apps.customers.search_index import search_index_deferred

    names = ("成都蜀道装备有限公司", "成都天府软件有限公司")
    with transaction.atomic():
        with search_index_deferred(Account, [9001, 9002]):
            if connection.vendor == "sqlite":
                assert not _insert_trigger_exists()
            Account.objects.bulk_create(
                Account(pk=pk, name=name, owner=org["rep1"], department=org.north, search_text=search_text(name))
                for pk, name in zip((9001, 9002), names, strict=True))
        make_account(org["rep1"], "成都锦江物流有限公司")  # after the block: through the trigger again

    assert account_names(api_client_for("rep1"), "成都") == ["成都天府软件有限公司", "成都蜀道装备有限公司",
                                                             "成都锦江物流有限公司"]
    if connection.vendor == "sqlite":
        assert _insert_trigger_exists()


def test_a_failed_deferred_write_leaves_the_trigger_in_place(db):
    from django.db import transaction

    from l2c.apps.customers.models import Account
    from l2c.apps.customers.search_index import search_index_deferred

    with pytest.raises(ZeroDivisionError), transaction.atomic(), search_index_deferred(Account, [1]):
        1 / 0  # noqa: B018

    if connection.vendor == "sqlite":
        assert _insert_trigger_exists()


def test_the_index_cannot_be_deferred_outside_a_transaction(db):
    from l2c.apps.customers.models import Account
    from l2c.apps.customers.search_index import search_index_deferred

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    # pytest-django wraps each test in a transaction; leave it to check the guard.
    connection.in_atomic_block, saved = False, connection.in_atomic_block
    try:
        with pytest.raises(RuntimeError, match="needs a transaction"), search_index_deferred(Account, [1]):
            pass
    finally:
        connection.in_atomic_block = saved


# --- contacts -------------------------------------------------------------------------------------
@pytest.fixture
def contacts(org: Any, accounts: dict[str, Any]) -> dict[str, Any]:
    return {
        "王强": make_contact(org["rep1"], accounts["星河"], "王强", mobile="13800138000",
                           email="wang.qiang@example.com"),
        "李娜": make_contact(org["rep1"], accounts["长安"], "李娜", mobile="139-1234-5678", email="lina@corp.cn"),
        "王芳": make_contact(org["rep3"], make_account(org["rep3"], "杭州西湖电子有限公司"), "王芳",
                           mobile="13600000000"),
    }


@pytest.mark.parametrize(("q", "expected"), [
    ("王强", ["王强"]),
    ("强", ["王强"]),
    ("王", ["王强"]),
    ("wq", ["王强"]),
    ("wangq", ["王强"]),
    ("ln", ["李娜"]),
    ("138001", ["王强"]),
    ("13800138000", ["王强"]),
    ("139-1234", ["李娜"]),
    ("139 1234 5678", ["李娜"]),
    ("1360000", []),  # rep3's contact
    ("lina@corp.cn", ["李娜"]),
    ("LINA@CORP.CN", ["李娜"]),
    ("@corp.cn", ["李娜"]),
    ("wang.qiang@ex", ["王强"]),
    ("qiang@example", ["王强"]),
    ("wang@example.com", []),
    ("example", ["王强"]),
    ('王" OR *', []),
    ("***", []),
])
def test_contact_search_by_name_pinyin_mobile_and_e_mail(org, api_client_for, contacts, q, expected):
    assert contact_names(api_client_for("rep1"), q) == expected


def test_contact_search_follows_updates_and_deletes(org, api_client_for, contacts):
    from l2c.apps.customers.services import contact_delete, contact_update

    contact_update(actor=org["rep1"], contact_id=contacts["王强"].pk, data={"name": "张伟", "mobile": "13700000000"})
    contact_delete(actor=org["admin"], contact_id=contacts["李娜"].pk)

    client = api_client_for("rep1")
    assert contact_names(client, "王强") == []
    assert contact_names(client, "138001") == []
    assert contact_names(client, "张伟") == ["张伟"]
    assert contact_names(client, "137000") == ["张伟"]
    assert contact_names(client, "李娜") == []
    assert contact_names(client, "lina@corp.cn") == []


# --- pages ----------------------------------------------------------------------------------------
def test_search_page_and_list_pages_search_through_the_index(org, contacts):
    browser = Client()
    browser.force_login(org["rep1"])

    search_page = browser.get("/search/", {"q": "王"}).content.decode()
    account_page = browser.get("/accounts/", {"q": "cqca"}).content.decode()
    contact_page = browser.get("/contacts/", {"q": "wq"}).content.decode()
    account_search_page = browser.get("/search/", {"q": "星河"}).content.decode()
    syntax_page = browser.get("/search/", {"q": 'NEAR(" *'})

    assert "王强" in search_page and "李娜" not in search_page and "王芳" not in search_page
    assert "重庆长安汽车股份有限公司" in account_page and "北京星河智能科技有限公司" not in account_page
    assert "王强" in contact_page and "李娜" not in contact_page
    assert "北京星河智能科技有限公司" in account_search_page and "上海星辰贸易有限公司" not in account_search_page
    assert syntax_page.status_code == 200


# --- the index itself -----------------------------------------------------------------------------
def test_the_sqlite_full_text_tables_and_triggers_exist(db):
    """A migration that makes Django rebuild customers_account or customers_contact on SQLite drops
    these triggers; it must create them again (see customers migration 0003)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT type, name FROM sqlite_master WHERE name LIKE 'customers_%_fts%' "
                       "AND type IN ('table', 'trigger') AND name NOT LIKE '%_fts_%data' "
                       "AND name NOT LIKE '%_fts_idx' AND name NOT LIKE '%_fts_config' "
                       "AND name NOT LIKE '%_fts_docsize' ORDER BY name")
        found = cursor.fetchall()

    assert found == [(kind, f"customers_{table}_fts{suffix}")
                     for table in ("account", "contact")
                     for kind, suffix in (("table", ""), ("trigger", "_delete"), ("trigger", "_insert"),
                                          ("trigger", "_update"))]


def test_the_postgresql_search_uses_the_gin_index(org, accounts):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from l2c.apps.customers import selectors

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'customers_%_search_fts' "
                       "ORDER BY indexname")
        assert cursor.fetchall() == [("customers_account_search_fts",), ("customers_contact_search_fts",)]
        # Three rows are cheaper to scan: forbid plain scans so only an index on the condition is left.
        cursor.execute("SET enable_seqscan = off; SET enable_indexscan = off")
        plan = selectors.account_list(user=org["admin"], filters={"q": "星河"}).explain()
        cursor.execute("RESET enable_seqscan; RESET enable_indexscan")

    assert "customers_account_search_fts" in plan
