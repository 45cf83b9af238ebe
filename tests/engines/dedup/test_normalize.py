"""Normalisation of company names, phones and e-mail addresses: many real spellings of one company
meet in one core; different companies do not. No database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2c.engines.dedup import company_name, email, phone, simplified

XINGHE = "星河智能科技"


@pytest.mark.parametrize("name", [
    "北京星河智能科技有限公司",
    "北京市星河智能科技有限公司",
    "北京市星河智能科技股份有限公司",
    "星河智能科技有限公司",
    "星河智能科技有限责任公司",
    "星河智能科技（北京）有限公司",
    "星河智能科技(北京)有限公司",
    "星河智能科技【北京】有限公司",
    "星河智能科技有限公司北京分公司",
    "星河智能科技有限公司（北京分公司）",
    "星河智能科技集团有限公司",
    "星河智能科技集团股份有限公司",
    "星河 智能 科技 有限公司",
    "星河·智能-科技有限公司",
    "北京星河智能科技有限公司 ",
    "北京\u3000星河智能科技有限公司",  # ideographic space
])
def test_spellings_of_one_chinese_company_share_one_core(name):
    assert company_name(name).core == XINGHE


@pytest.mark.parametrize(("name", "core", "brand"), [
    ("廣東省深圳市華為技術有限公司", "华为技术", "华为"),
    ("华为技术有限公司深圳分公司", "华为技术", "华为"),
    ("上海電氣集團股份有限公司", "上海电气", "上海电气"),  # region + industry only: the region stays
    ("上海电气", "上海电气", "上海电气"),
    ("中国石油天然气股份有限公司", "中国石油天然气", "中国石油天然气"),
    ("苏州恒达精密机械有限公司", "恒达精密机械", "恒达"),
    ("恒达精密机械（苏州）有限公司", "恒达精密机械", "恒达"),
    ("浙江省杭州市西湖区星火贸易有限公司", "星火贸易", "星火"),
    ("深圳市南山区云帆网络科技有限公司", "云帆网络科技", "云帆"),
    ("朝阳科技有限公司", "朝阳科技", "朝阳科技"),  # 朝阳 is also a district: kept, and a region is no brand
    ("广西壮族自治区柳州五菱汽车有限公司", "五菱汽车", "五菱"),
    ("ＡＢＣ（北京）科技有限公司", "abc科技", "abc"),
])
def test_core_and_brand(name, core, brand):
    key = company_name(name)

    assert (key.core, key.brand) == (core, brand)


@pytest.mark.parametrize(("name", "core", "brand"), [
    ("Xinghe Zhineng Technology Co., Ltd.", "xinghezhinengtechnology", "xinghe"),
    ("XINGHE ZHINENG CO LTD", "xinghezhineng", "xinghe"),
    ("Xinghe Technology Company Limited", "xinghetechnology", "xinghe"),
    ("Huawei Technologies Co., Ltd.", "huaweitechnologies", "huawei"),
    ("Acme Inc.", "acme", "acme"),
])
def test_latin_names_drop_legal_forms_and_industry_words_for_the_brand(name, core, brand):
    key = company_name(name)

    assert (key.core, key.brand, key.brand_pinyin) == (core, brand, brand)


def test_a_chinese_name_carries_the_pinyin_of_its_core_and_brand():
    key = company_name("北京星河智能科技有限公司")

    assert (key.pinyin, key.brand_pinyin) == ("xinghezhinengkeji", "xinghe")


def test_traditional_characters_become_simplified():
    assert simplified("東華電腦資訊股份有限公司") == "东华电脑资讯股份有限公司"
    assert company_name("東華電腦資訊股份有限公司").core == company_name("东华电脑资讯股份有限公司").core


@pytest.mark.parametrize(("raw", "expected"), [
    ("13800138000", "13800138000"),
    ("138-0013-8000", "13800138000"),
    ("138 0013 8000", "13800138000"),
    ("+86 138 0013 8000", "13800138000"),
    ("+86-13800138000", "13800138000"),
    ("0086 13800138000", "13800138000"),
    ("8613800138000", "13800138000"),
    ("（+86）13800138000", "13800138000"),
    ("010-62345678", "01062345678"),
    ("010 6234 5678", "01062345678"),
    ("(010) 6234-5678", "01062345678"),
    ("+86 10 6234 5678", "01062345678"),
    ("0086-10-62345678", "01062345678"),
    ("010-62345678 转 123", "01062345678"),
    ("010-62345678转8001", "01062345678"),
    ("010-62345678 ext. 12", "01062345678"),
    ("010-62345678#3", "01062345678"),
    ("010-62345678-123", "01062345678"),
    ("0755-88886666", "075588886666"),
    ("０７５５－８８８８６６６６", "075588886666"),
    ("62345678", "62345678"),
    ("123", ""),
    ("", ""),
    ("无", ""),
])
def test_phone_numbers(raw, expected):
    assert phone(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Wang.Qiang@Example.com", "wang.qiang@example.com"),
    ("wang.qiang+crm@gmail.com", "wangqiang@gmail.com"),
    ("W.A.N.G@googlemail.com", "wang@gmail.com"),
    ("sales+cn@outlook.com", "sales@outlook.com"),
    ("sales+cn@corp.cn", "sales+cn@corp.cn"),  # unknown provider: the tag may matter
    ("  li@QQ.com ", "li@qq.com"),
    ("no-at-sign", ""),
    ("@example.com", ""),
    ("a@localhost", ""),
])
def test_email_addresses(raw, expected):
    assert email(raw) == expected


# --- properties -------------------------------------------------------------------------------------
NAME_CHARACTERS = list("北京上海星河智能科技有限公司集团（）() -·abcXYZ東華電氣0123")
names = st.text(alphabet=st.sampled_from(NAME_CHARACTERS), max_size=30)


@given(names)
def test_normalising_the_full_form_again_changes_nothing(name):
    key = company_name(name)

    assert company_name(key.full).full == key.full


@given(st.text(alphabet=st.sampled_from(list("0123456789+-() 转#ext")), max_size=25))
def test_phone_normalisation_is_idempotent(raw):
    assert phone(phone(raw)) == phone(raw)


@given(st.emails())
def test_email_normalisation_is_idempotent(raw):
    assert email(email(raw)) == email(raw)
