import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from l2c.kernel.uscc import (
    USCC_CHARSET,
    normalize_uscc,
    uscc_check_char,
    uscc_error,
    uscc_generate,
    uscc_is_valid,
)

# Real and sample codes, each checked by this module and by python-stdnum.
VALID_CODES = [
    "91350100M000100Y43",
    "91110000600037341L",
    "91110108551385082Q",
    "914403001922038216",
    "91440300708461136T",
    "91330100716105852F",
    "91110000101159659D",
    "12100000400000000W",
    "51110000500000000B",
]

digits = st.sampled_from("0123456789")
code_chars = st.sampled_from(USCC_CHARSET)
seeds = st.tuples(
    st.text(code_chars, min_size=2, max_size=2),
    st.text(digits, min_size=6, max_size=6),
    st.text(code_chars, min_size=9, max_size=9),
).map("".join)


@pytest.mark.parametrize("code", VALID_CODES)
def test_known_valid_codes(code):
    assert uscc_is_valid(code)
    assert uscc_error(code) is None
    assert stdnum_uscc.is_valid(code)
    assert uscc_check_char(code[:17]) == code[17]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("", "must be 18 characters"),
        ("12345", "must be 18 characters"),
        ("91350100M000100Y4", "must be 18 characters"),
        ("91350100M000100Y431", "must be 18 characters"),
        ("9135I100M000100Y43", "contains invalid character 'I' at position 5"),
        ("91350100M000100O43", "contains invalid character 'O' at position 16"),
        ("91350100M00010-Y43", "contains invalid character '-' at position 15"),
        ("9135 100M000100Y43", "contains invalid character ' ' at position 5"),
        ("91350100M000100Y4Z", "contains invalid character 'Z' at position 18"),
        (
            "913A0100M000100Y43",
            "administrative division code (positions 3-8) must be digits, found 'A' at position 4",
        ),
        ("91350100M000100Y44", "check character should be '3'"),
        ("911100001011596599", "check character should be 'D'"),
        ("91110000600037341M", "check character should be 'L'"),
    ],
)
def test_invalid_codes_table(code, reason):
    assert uscc_error(code) == reason
    assert not uscc_is_valid(code)
    assert not stdnum_uscc.is_valid(code.replace(" ", "_"))


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("91350100m000100y43", "91350100M000100Y43"),
        ("  91350100M000100Y43\n", "91350100M000100Y43"),
        ("\u3000９１３５０１００ｍ０００１００ｙ４３\u3000", "91350100M000100Y43"),
        ("ＡＢＣ", "ABC"),
    ],
)
def test_normalize_uscc(raw, normalized):
    assert normalize_uscc(raw) == normalized


def test_validation_normalizes_first():
    assert uscc_is_valid(" ９１３５０１００ｍ０００１００ｙ４３ ")
    assert uscc_is_valid("91350100m000100y43")


def test_letters_in_the_first_two_positions_are_valid_unlike_stdnum():
    # GB 32100 authority codes include letters (Y: other authorities, N: agriculture).
    assert uscc_is_valid("Y1110000MA0000000U")
    assert uscc_is_valid("N2110000MA00000001")
    assert not stdnum_uscc.is_valid("Y1110000MA0000000U")


def test_check_char_rejects_bad_input():
    with pytest.raises(ValueError, match="need 17 characters, got 18"):
        uscc_check_char("91350100M000100Y43")
    with pytest.raises(ValueError, match="invalid character 'I' at position 5"):
        uscc_check_char("9135I100M000100Y4")
    with pytest.raises(ValueError, match="must be digits"):
        uscc_check_char("913A0100M000100Y4")


@pytest.mark.parametrize(
    ("seed", "code"),
    [
        ("91350100M000100Y4", "91350100M000100Y43"),
        ("91110000101159659", "91110000101159659D"),
        ("91310000MA1FL0000", "91310000MA1FL0000N"),
        ("00000000000000000", "000000000000000000"),
    ],
)
def test_generate_table(seed, code):
    assert uscc_generate(seed) == code


def test_generate_rejects_invalid_seeds():
    with pytest.raises(ValueError):
        uscc_generate("9135010")
    with pytest.raises(ValueError):
        uscc_generate("91350100m000100y4")


@given(seed=seeds)
def test_generated_codes_are_valid(seed):
    code = uscc_generate(seed)

    assert code[:17] == seed
    assert uscc_is_valid(code)
    if seed[:2].isdigit():
        assert stdnum_uscc.is_valid(code)


@given(seed=seeds, data=st.data())
def test_every_single_character_substitution_is_detected(seed, data):
    code = uscc_generate(seed)
    position = data.draw(st.integers(min_value=0, max_value=17))
    allowed = "0123456789" if 2 <= position <= 7 else USCC_CHARSET
    replacement = data.draw(st.sampled_from(allowed).filter(lambda char: char != code[position]))

    tampered = code[:position] + replacement + code[position + 1 :]

    assert not uscc_is_valid(tampered)
    assert uscc_error(tampered) is not None
