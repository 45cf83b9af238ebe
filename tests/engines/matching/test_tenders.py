"""Tender matching: keywords (any/all), exclusions, regions, budget edges, kinds, normalisation; and
the automaton gives exactly the results of the naive loop (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from l2c.engines.matching import (
    Matcher,
    MatchResult,
    Notice,
    Subscription,
    naive_match,
    normalize,
    region_key,
    split_region,
)

NOTICE = Notice(
    notice_id=1, title="深圳市第一中学智慧校园建设项目招标公告", buyer_name="深圳市第一中学",
    content="采购内容：服务器 20 台、交换机、网络安全设备及三年运维服务。", province="广东省", city="深圳市",
    budget_amount=350_000_00, kind="tender",
)


def sub(subscription_id: int = 7, keywords: tuple[str, ...] = ("智慧校园",), **fields: object) -> Subscription:
    return Subscription(subscription_id=subscription_id, keywords=keywords, **fields)  # type: ignore[arg-type]


def both(subscriptions: list[Subscription], notice: Notice = NOTICE) -> list[MatchResult]:
    fast = Matcher.build(subscriptions).match(notice)
    assert fast == naive_match(subscriptions, notice)
    return fast


@pytest.mark.parametrize(("subscription", "expected"), [
    # any: one of the keywords is enough; matched keywords as written, in the subscription's order
    (sub(keywords=("服务器", "云桌面", "交换机")), ("服务器", "交换机")),
    (sub(keywords=("云桌面",)), None),
    # all: every keyword must occur
    (sub(keywords=("服务器", "交换机"), match_all=True), ("服务器", "交换机")),
    (sub(keywords=("服务器", "云桌面"), match_all=True), None),
    # the buyer and the content are searched as well as the title
    (sub(keywords=("第一中学",)), ("第一中学",)),
    (sub(keywords=("运维服务",)), ("运维服务",)),
    # exclusions reject the notice, even when the keywords match
    (sub(keywords=("服务器",), excluded_words=("运维",)), None),
    (sub(keywords=("服务器",), excluded_words=("监理",)), ("服务器",)),
])
def test_keywords_and_exclusions(subscription: Subscription, expected: tuple[str, ...] | None) -> None:
    results = both([subscription])
    assert results == ([] if expected is None else [MatchResult(7, expected)])


@pytest.mark.parametrize(("keyword", "text"), [
    ("ＳＥＲＶＥＲ", "Dell server 采购"),  # full-width upper-case keyword, half-width lower-case text
    ("Server", "ＤＥＬＬ ＳＥＲＶＥＲ 采购"),  # and the other way round
    ("ＧＰＵ服务器", "gpu服务器 8 台"),
])
def test_keywords_match_only_after_nfkc_and_lower_case(keyword: str, text: str) -> None:
    notice = Notice(notice_id=4, title=text)
    assert keyword not in text and keyword.lower() not in text  # no match without normalisation
    assert normalize(keyword) in normalize(text)
    assert both([sub(keywords=(keyword,))], notice) == [MatchResult(7, (keyword,))]
    assert both([sub(keywords=(keyword,), excluded_words=(keyword.upper(),))], notice) == []


def test_full_width_upper_case_text_matches_half_width_lower_case_keyword() -> None:
    notice = Notice(notice_id=2, title="ＡＩ　服务器采购", content="含ＧＰＵ算力")
    assert both([sub(keywords=("ai 服务器",)), sub(8, ("gpu",))], notice) == [
        MatchResult(7, ("ai 服务器",)), MatchResult(8, ("gpu",))]


def test_invisible_characters_do_not_hide_a_word_and_fields_do_not_join() -> None:
    notice = Notice(notice_id=3, title="服\u200b务器采购", buyer_name="某某学", content="校")
    assert both([sub(keywords=("服务器",)), sub(8, ("学校",))], notice) == [MatchResult(7, ("服务器",))]


@pytest.mark.parametrize(("regions", "matches"), [
    ((), True),
    (("广东",), True),  # a province matches all its cities
    (("广东省",), True),
    (("广东/深圳",), True),
    (("广东省/深圳市",), True),
    (("广东／深圳",), True),  # full-width slash
    (("广东/广州",), False),  # another city of the same province
    (("北京",), False),
    (("北京", "广东/深圳"), True),  # any of the regions
])
def test_regions(regions: tuple[str, ...], matches: bool) -> None:
    assert bool(both([sub(regions=regions)])) is matches


def test_a_notice_without_province_matches_only_subscriptions_without_regions() -> None:
    notice = Notice(notice_id=4, title="智慧校园")
    assert both([sub(1), sub(2, regions=("广东",))], notice) == [MatchResult(1, ("智慧校园",))]


@pytest.mark.parametrize(("budget_min", "budget_max", "matches"), [
    (None, None, True),
    (350_000_00, None, True),  # inclusive lower bound
    (350_000_01, None, False),
    (None, 350_000_00, True),  # inclusive upper bound
    (None, 349_999_99, False),
    (350_000_00, 350_000_00, True),
    (100_000_00, 200_000_00, False),
])
def test_budget_bounds_are_inclusive(budget_min: int | None, budget_max: int | None, matches: bool) -> None:
    assert bool(both([sub(budget_min=budget_min, budget_max=budget_max)])) is matches


def test_a_notice_without_budget_matches_only_subscriptions_without_budget_bounds() -> None:
    notice = Notice(notice_id=5, title="智慧校园", budget_amount=None)
    results = both([sub(1), sub(2, budget_min=0), sub(3, budget_max=10**12)], notice)
    assert results == [MatchResult(1, ("智慧校园",))]


def test_kinds() -> None:
    award = Notice(notice_id=6, title="智慧校园中标结果", kind="award")
    results = both([sub(1), sub(2, kinds=("tender",)), sub(3, kinds=("award", "change"))], award)
    assert [result.subscription_id for result in results] == [1, 3]


def test_empty_keywords_never_match_and_duplicates_count_once() -> None:
    results = both([sub(1, ()), sub(2, ("  ",)), sub(3, ("服务器", "服务器", "ＳＥＲＶＥＲ"), match_all=True)])
    assert results == []
    assert both([sub(3, ("服务器", "服务器"), match_all=True)]) == [MatchResult(3, ("服务器",))]


def test_no_subscriptions() -> None:
    assert Matcher.build([]).match(NOTICE) == []


def test_many_subscriptions_share_words_and_results_come_in_id_order() -> None:
    subscriptions = [sub(i, ("服务器",) if i % 2 else ("智慧校园", "交换机"), match_all=i % 3 == 0)
                     for i in range(50, 0, -1)]
    results = both(subscriptions)
    assert [result.subscription_id for result in results] == list(range(1, 51))
    matcher = Matcher.build(subscriptions)
    assert matcher.subscription_count == 50 and matcher.word_count == 3
    assert matcher.match_many([NOTICE, Notice(notice_id=9, title="无关")]) == {1: results}


def test_normalize_and_regions() -> None:
    assert normalize(" ＡＢＣ\t１２３\n\n智慧　校园 ") == "abc 123 智慧 校园"
    assert region_key("广西壮族自治区") == "广西"
    assert region_key("新疆维吾尔自治区") == "新疆"
    assert region_key("深圳市") == "深圳"
    assert region_key("市") == "市"
    assert split_region("广东省 / 深圳市") == ("广东", "深圳")
    assert split_region("北京") == ("北京", "")


# --- the automaton is the naive loop, faster ------------------------------------------------------
WORDS = ["服务器", "服务", "器", "校园", "智慧校园", "ai", "ＡＩ", "网络", "安全", "网络安全", "医院", "a"]
TEXT_PIECES = [*WORDS, "采购", "项目", " ", "Ａ", "I", "，", "\u200b", "\t", "\x00", "\u3000"]
PROVINCES = ["广东省", "广东", "北京市", "浙江", ""]
CITIES = ["深圳市", "深圳", "广州", "杭州", ""]
REGIONS = ["广东", "广东/深圳", "广东省/广州市", "北京", "浙江/杭州", "浙江省"]
KINDS = ["tender", "award", "change"]
budgets = st.one_of(st.none(), st.integers(min_value=0, max_value=1000))

subscriptions_strategy = st.lists(
    st.builds(
        Subscription,
        subscription_id=st.integers(min_value=1, max_value=10_000),
        keywords=st.lists(st.sampled_from([*WORDS, " "]), max_size=4).map(tuple),
        match_all=st.booleans(),
        excluded_words=st.lists(st.sampled_from(WORDS), max_size=2).map(tuple),
        regions=st.lists(st.sampled_from(REGIONS), max_size=2).map(tuple),
        budget_min=budgets, budget_max=budgets,
        kinds=st.lists(st.sampled_from(KINDS), max_size=2).map(tuple),
    ),
    max_size=25, unique_by=lambda item: item.subscription_id,
)
notice_strategy = st.builds(
    Notice,
    notice_id=st.just(1),
    title=st.lists(st.sampled_from(TEXT_PIECES), max_size=6).map("".join),
    buyer_name=st.lists(st.sampled_from(TEXT_PIECES), max_size=3).map("".join),
    content=st.lists(st.sampled_from(TEXT_PIECES), max_size=20).map("".join),
    province=st.sampled_from(PROVINCES), city=st.sampled_from(CITIES),
    budget_amount=budgets, kind=st.sampled_from(KINDS),
)


@settings(max_examples=400, deadline=None)
@given(subscriptions=subscriptions_strategy, notices=st.lists(notice_strategy, min_size=1, max_size=5))
def test_automaton_equals_naive_loop(subscriptions: list[Subscription], notices: list[Notice]) -> None:
    matcher = Matcher.build(subscriptions)
    for notice in notices:
        assert matcher.match(notice) == naive_match(subscriptions, notice)
