"""Field cleaning shared by accounts, contacts and leads: what a bad phone number is told."""

from __future__ import annotations

import pytest
from django.utils import translation

from l2c.apps.customers.validation import CleanError, phone


@pytest.mark.parametrize(("raw", "expected"), [
    ("", ""), (None, ""), ("  010-6234 5678 转 12 ", "010-6234 5678 转 12"), ("12345", "12345"),
    ("+86 (138) 0013-8000 #3", "+86 (138) 0013-8000 #3"),
])
def test_a_phone_is_kept_as_written_without_its_outer_spaces(raw, expected):
    assert phone(raw) == expected


@pytest.mark.parametrize(("raw", "zh", "en"), [
    ("12", "电话号码太短：至少 5 个字符（现有 2 个）。",
     "Too short for a phone number: at least 5 characters (got 2)."),
    ("1" * 41, "电话号码太长：最多 40 个字符（现有 41 个）。",
     "Too long for a phone number: at most 40 characters (got 41)."),
    ("138-0013-800a", "不是有效的电话号码（只能包含数字、空格、+ - ( ) 和分机号）。",
     "Not a phone number (digits, spaces, + - ( ) and an extension only)."),
])
def test_a_bad_phone_is_told_why_in_the_readers_language(raw, zh, en):
    for language, message in (("zh-hans", zh), ("en", en)):
        with translation.override(language), pytest.raises(CleanError) as error:
            phone(raw)
        assert str(error.value) == message
