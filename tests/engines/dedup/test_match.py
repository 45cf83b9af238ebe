"""Rules, scores and blocking keys of the duplicate engine, by hand-checked examples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz import fuzz

from l2c.engines.dedup import (
    KeyKind,
    Rule,
    RuleAction,
    RuleField,
    RuleKind,
    best_match,
    blocking_keys,
    company_name,
    fingerprint,
    key_kinds,
    min_shared_grams,
    name_grams,
    name_score,
    name_scores,
    probe_keys,
    rank,
)

CREDIT = Rule("credit", RuleKind.EXACT, RuleField.CREDIT_CODE, RuleAction.BLOCK)
PHONE = Rule("phone", RuleKind.EXACT, RuleField.PHONE, RuleAction.WARN)
NAME_90 = Rule("name90", RuleKind.FUZZY, RuleField.NAME, RuleAction.WARN, threshold=90)
NAME_80 = Rule("name80", RuleKind.FUZZY, RuleField.NAME, RuleAction.REPORT, threshold=80)
RULES = (CREDIT, PHONE, NAME_90, NAME_80)


def test_a_rule_must_compare_a_field_its_kind_can_compare():
    with pytest.raises(ValueError, match="fuzzy rule cannot compare credit_code"):
        Rule("bad", RuleKind.FUZZY, RuleField.CREDIT_CODE, RuleAction.WARN, threshold=90)
    with pytest.raises(ValueError, match=r"threshold must be 1\.\.100"):
        Rule("bad", RuleKind.FUZZY, RuleField.NAME, RuleAction.WARN, threshold=0)


@pytest.mark.parametrize(("a", "b", "score"), [
    ("北京星河智能科技有限公司", "星河智能科技（北京）有限公司", 100),  # same core
    ("北京星河智能科技有限公司", "北京星河智能科技股份有限公司", 100),
    ("北京星河智能科技有限公司", "北京星河智能技术有限公司", 83),  # 星河智能科技 ~ 星河智能技术: 2·5/12
    ("北京星河智能科技有限公司", "上海星河贸易有限公司", 40),  # 星河智能科技 ~ 星河贸易: 2·2/10
    ("北京星河智能科技有限公司", "北京云帆网络科技有限公司", 33),
    # brand pinyin equal (0.6 · 100) + xinghezhinengkeji ~ xinghetechnology (0.4 · 55)
    ("北京星河智能科技有限公司", "Xinghe Technology Co., Ltd.", 82),
])
def test_name_scores(a, b, score):
    assert name_score(company_name(a), company_name(b)) == score


def test_the_same_script_score_is_the_indel_ratio_of_the_cores():
    a, b = company_name("星河智能科技有限公司"), company_name("星河智慧科技有限公司")

    assert name_score(a, b) == round(fuzz.ratio(a.core, b.core)) == 83


def test_the_strongest_action_wins_and_every_fired_rule_is_a_reason():
    probe = fingerprint(record_id=None, name="北京星河智能科技有限公司", credit_code="91110000600037341L",
                        phones=["010-62345678"])
    candidate = fingerprint(record_id=7, name="星河智能科技（北京）有限公司", credit_code="91110000600037341l",
                            phones=["+86 10 6234 5678"])

    match = best_match(probe, candidate, RULES)

    assert (match.record_id, match.rule.key, match.score) == (7, "credit", 100)
    # in the order of the rules' strength: block, then warn by score and key, then report
    assert [reason.code for reason in match.reasons] == ["credit_code_equal", "name_similar", "phone_equal"]
    assert match.reasons[0].values == (("value", "91110000600037341L"),)
    assert match.reasons[1].values == (("score", "100"), ("probe", "星河智能科技"), ("candidate", "星河智能科技"))
    assert match.reasons[2].values == (("value", "01062345678"),)


def test_a_fuzzy_rule_fires_at_its_threshold_only():
    probe = fingerprint(record_id=None, name="北京星河智能科技有限公司")
    close = fingerprint(record_id=1, name="北京星河智能技术有限公司")  # 83
    far = fingerprint(record_id=2, name="上海星河贸易有限公司")  # 40

    assert best_match(probe, close, RULES).rule.key == "name80"
    assert best_match(probe, close, (NAME_90,)) is None
    assert best_match(probe, far, RULES) is None


def test_rank_orders_by_action_then_score_then_id():
    probe = fingerprint(record_id=None, name="北京星河智能科技有限公司", phones=["13800138000"])
    candidates = [
        fingerprint(record_id=3, name="北京星河智能技术有限公司"),  # report 83
        fingerprint(record_id=2, name="上海云帆网络有限公司", phones=["138-0013-8000"]),  # warn (phone) 100
        fingerprint(record_id=1, name="星河智能科技有限公司"),  # warn (name 100)
        fingerprint(record_id=4, name="广州远景物流有限公司"),  # nothing
    ]

    assert [(m.record_id, m.rule.key, m.score) for m in rank(probe, candidates, RULES)] == [
        (1, "name90", 100), (2, "phone", 100), (3, "name80", 83)]


def test_a_record_is_never_its_own_duplicate():
    record = fingerprint(record_id=5, name="北京星河智能科技有限公司")

    assert best_match(record, record, RULES) is None


@given(st.text(alphabet=st.sampled_from(list("北京上海星河智能科技贸易有限公司集团()abc")), min_size=1, max_size=24))
def test_a_record_always_matches_a_copy_of_itself(name):
    probe = fingerprint(record_id=None, name=name)
    copy = fingerprint(record_id=1, name=name)

    match = best_match(probe, copy, (NAME_90,))

    assert (match is not None) == bool(probe.name.core)
    if match is not None:
        assert match.score == 100
        assert blocking_keys(probe) == blocking_keys(copy)


def test_blocking_keys_of_a_record():
    record = fingerprint(record_id=1, name="北京星河智能科技有限公司", credit_code="91110000600037341L",
                         phones=["010-62345678", "13800138000", ""], emails=["Sales+x@Gmail.com"])

    assert blocking_keys(record) == {
        (KeyKind.CREDIT_CODE, "91110000600037341L"), (KeyKind.PHONE, "01062345678"),
        (KeyKind.PHONE, "13800138000"), (KeyKind.EMAIL, "sales@gmail.com"), (KeyKind.CORE, "星河智能科技"),
        (KeyKind.DELETION, "河智能科技"), (KeyKind.DELETION, "星智能科技"), (KeyKind.DELETION, "星河能科技"),
        (KeyKind.DELETION, "星河智科技"), (KeyKind.DELETION, "星河智能技"), (KeyKind.DELETION, "星河智能科"),
        (KeyKind.BRAND_PINYIN, "xinghe"),
    }


def test_long_cores_are_also_stored_by_their_grams():
    keys = blocking_keys(fingerprint(record_id=1, name="中国石油天然气管道工程有限公司"))

    assert sorted(value for kind, value in keys if kind == KeyKind.GRAM) == sorted(
        ["中国", "国石", "石油", "油天", "天然", "然气", "气管", "管道", "道工", "工程"])


core_characters = st.sampled_from(list("星河智能科技贸易云帆网络恒达精密机械"))


@given(st.text(alphabet=core_characters, min_size=3, max_size=12), st.data())
def test_names_one_edit_apart_meet_in_the_index_when_the_edit_can_reach_the_threshold(core, data):
    """Insertion, deletion or substitution of one character: when the pair scores at least the
    threshold, the probe's look-up keys for that threshold hit a key the other record stored."""
    position = data.draw(st.integers(0, len(core)))
    character = data.draw(core_characters)
    edit = data.draw(st.sampled_from(["insert", "delete", "substitute"]))
    if edit == "insert":
        other = core[:position] + character + core[position:]
    elif edit == "delete" and position < len(core) and len(core) > 3:
        other = core[:position] + core[position + 1:]
    elif edit == "substitute" and position < len(core):
        other = core[:position] + character + core[position + 1:]
    else:
        other = core
    probe = fingerprint(record_id=None, name=f"{core}有限公司")
    stored = fingerprint(record_id=1, name=f"{other}有限公司")
    if probe.name.core != core or stored.name.core != other:
        return  # an industry word or region at an end changed the core; not this property's case
    for threshold in (75, 80, 85, 90, 95):
        if name_score(probe.name, stored.name) >= threshold:
            assert probe_keys(probe, threshold) & blocking_keys(stored), threshold


def test_a_short_name_does_not_look_up_edits_that_cannot_reach_the_threshold():
    probe = fingerprint(record_id=None, name="信兴水务有限公司")  # core 信兴水务: a substitution scores 75

    keys = probe_keys(probe, 90)

    assert (KeyKind.DELETION, "兴水务") not in keys  # substitution: 3/4 = 75 < 90
    assert (KeyKind.CORE, "兴水务") not in keys  # deletion: 2·3/7 = 86 < 90
    assert (KeyKind.DELETION, "信兴水务") not in keys  # insertion: 2·4/9 = 89 < 90
    assert {(KeyKind.CORE, "兴水务"), (KeyKind.DELETION, "信兴水务")} <= probe_keys(probe, 85)
    assert (KeyKind.DELETION, "兴水务") not in probe_keys(probe, 85)


def test_chinese_and_latin_records_meet_by_brand_only_across_scripts():
    chinese = fingerprint(record_id=1, name="北京星河智能科技有限公司")
    latin = fingerprint(record_id=2, name="Xinghe Technology Co., Ltd.")
    other_chinese = fingerprint(record_id=3, name="上海星河贸易有限公司")

    assert probe_keys(latin, 90) & blocking_keys(chinese) == {(KeyKind.BRAND_PINYIN, "xinghe")}
    assert probe_keys(chinese, 90) & blocking_keys(latin) == {(KeyKind.LATIN_BRAND, "xinghe")}
    assert not probe_keys(chinese, 90) & blocking_keys(other_chinese)  # same brand, same script


def test_latin_names_are_blocked_by_letter_triples():
    assert name_grams(company_name("Acme Inc.")) == ("acm", "cme")


@pytest.mark.parametrize(("name", "threshold", "shared"), [
    ("星河智能科技有限公司", 90, 3),  # 5 pairs; one edit (≤ 2·0.1·6/0.9 = 1.33) breaks at most 2
    ("星河智能科技有限公司", 80, 1),
    ("星河有限公司", 90, 1),
])
def test_min_shared_grams(name, threshold, shared):
    assert min_shared_grams(company_name(name), threshold) == shared


@given(st.text(alphabet=st.sampled_from(list("星河智能科技贸易云帆网络")), min_size=3, max_size=10),
       st.text(alphabet=st.sampled_from(list("星河智能科技贸易云帆网络")), min_size=3, max_size=10))
def test_names_above_the_threshold_share_at_least_the_minimum_grams(a, b):
    """The bound the blocking index relies on never misses a pair the brute force would find."""
    left, right = company_name(a + "有限公司"), company_name(b + "有限公司")
    for threshold in (80, 85, 90, 95):
        if name_score(left, right) >= threshold:
            shared = len(set(name_grams(left)) & set(name_grams(right)))
            assert shared >= min_shared_grams(left, threshold)


def test_key_kinds_follow_the_rules():
    assert key_kinds([CREDIT]) == {KeyKind.CREDIT_CODE}
    assert key_kinds([CREDIT, PHONE]) == {KeyKind.CREDIT_CODE, KeyKind.PHONE}
    assert key_kinds([NAME_90]) == {KeyKind.CORE, KeyKind.DELETION, KeyKind.BRAND_PINYIN, KeyKind.LATIN_BRAND}
    assert key_kinds([Rule("n", RuleKind.EXACT, RuleField.NAME, RuleAction.WARN)]) == {KeyKind.CORE}


NAMES = ["北京星河智能科技有限公司", "星河智能科技（北京）有限公司", "星河北京智能科技有限公司",
         "上海星河智能科技园有限公司", "星河智能有限公司", "Xinghe Technology Co., Ltd.", "Xinghe Tech Inc.",
         "星河", "", "有限公司", "星河智能科技"]


@pytest.mark.parametrize("probe", NAMES)
def test_name_scores_of_many_names_equal_their_name_scores_one_by_one(probe):
    names = [company_name(name) for name in NAMES]

    assert name_scores(company_name(probe), names) == [name_score(company_name(probe), name) for name in names]


@given(st.text(alphabet=st.sampled_from(list("星河智能科技贸易云帆网络北京有限公司()abcxyz ")), max_size=16),
       st.lists(st.text(alphabet=st.sampled_from(list("星河智能科技贸易云帆网络北京有限公司()abcxyz ")), max_size=16),
                max_size=8))
def test_name_scores_is_name_score_vectorised(probe, others):
    names = [company_name(name) for name in others]

    assert name_scores(company_name(probe), names) == [name_score(company_name(probe), name) for name in names]


def test_a_known_name_score_is_used_instead_of_computing_it():
    probe = fingerprint(record_id=None, name="星河智能科技有限公司")
    candidate = fingerprint(record_id=7, name="星河智能科技园有限公司")

    computed = best_match(probe, candidate, [NAME_90, NAME_80])
    given_score = best_match(probe, candidate, [NAME_90, NAME_80], name_score(probe.name, candidate.name))

    assert computed == given_score
    assert (computed.rule.key, computed.score) == ("name90", 92)
