"""Normalisation of company names, phone numbers and e-mail addresses for duplicate control.

Pure functions. The only data read is static reference data at import: OpenCC's table of
traditional → simplified characters (one character to one; phrase-level variants do not matter
for matching names).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pypinyin import lazy_pinyin

from .regions import CITIES, PROVINCE_FULL_NAMES, PROVINCES, REGION_SUFFIXES

# Bump when a change alters keys. Nothing reads it at run time: the same change must ship a
# migration that re-keys the stored records (`customers.duplicates.keys_rebuild`, as customers/0006
# did for the first index), or old keys and new probes stop meeting.
NORMALIZATION_VERSION = 1

# --- traditional → simplified -----------------------------------------------------------------------


def _traditional_table() -> dict[int, str]:
    text = resources.files("opencc").joinpath("dictionary/TSCharacters.txt").read_text(encoding="utf-8")
    table: dict[int, str] = {}
    for line in text.splitlines():
        source, _, targets = line.partition("\t")
        if len(source) == 1 and targets:
            table[ord(source)] = targets.split(" ")[0]
    return table


_SIMPLIFIED = _traditional_table()


def simplified(text: str) -> str:
    """Traditional characters replaced by their simplified form (東華 → 东华)."""
    return text.translate(_SIMPLIFIED)


# --- company names ------------------------------------------------------------------------------------
# Legal forms removed from the end of a name, longest first; repeated (集团股份有限公司 → 集团 → "").
LEGAL_FORMS = (
    "股份有限公司", "有限责任公司", "有限公司", "股份公司", "集团公司", "总公司", "分公司", "子公司", "公司",
    "有限合伙", "合伙企业", "普通合伙", "个人独资企业", "个体工商户", "集团", "控股", "分厂", "总厂", "厂",
    "分店", "商行", "经营部", "门市部", "工作室", "事务所", "办事处", "代表处", "分部", "中心",
)
ENGLISH_LEGAL_FORMS = (
    "company limited", "co ltd", "co limited", "limited", "ltd", "company", "co", "incorporated", "inc",
    "corporation", "corp", "llc", "plc", "gmbh", "group", "holdings", "holding", "pte", "sa", "ag", "bv",
)
# Words of the line of business after the trade name (字号 + 行业 + 组织形式); the brand is what is
# left before them. Longest first so 信息技术 goes before 技术.
INDUSTRY_WORDS = tuple(sorted({
    "信息技术", "网络技术", "软件技术", "电子商务", "供应链管理", "供应链", "企业管理", "管理咨询", "技术服务",
    "科技", "技术", "信息", "网络", "软件", "数据", "智能", "智造", "电子", "电气", "电器", "通信", "通讯",
    "贸易", "商贸", "国际贸易", "进出口", "实业", "投资", "发展", "控股", "资产管理", "资本", "金融", "保险",
    "机械", "设备", "机电", "自动化", "仪器", "仪表", "制造", "工业", "重工", "精密", "五金", "模具",
    "化工", "材料", "新材料", "塑料", "橡胶", "钢铁", "金属", "建材", "玻璃", "陶瓷", "纸业", "包装", "印刷",
    "建设", "建筑", "工程", "装饰", "装修", "设计", "规划", "园林", "景观", "市政", "路桥", "房地产", "置业",
    "地产", "物业", "物业管理", "物流", "运输", "货运", "快递", "仓储", "航运", "船务", "汽车", "汽车服务",
    "汽车零部件", "零部件", "配件", "能源", "新能源", "电力", "光伏", "环保", "环境", "节能", "水务",
    "医疗", "医药", "医疗器械", "器械", "生物", "生物科技", "健康", "药业", "制药", "食品", "餐饮", "饮料",
    "酒业", "农业", "农牧", "养殖", "种业", "渔业", "林业", "纺织", "服装", "服饰", "鞋业", "家居", "家具",
    "文化", "传媒", "广告", "影视", "教育", "培训", "咨询", "服务", "商务", "人力资源", "旅游", "酒店",
    "体育", "娱乐", "会展", "营销", "策划", "商业", "百货", "超市", "连锁", "电商", "网络科技",
    "信息科技", "智能科技", "电子科技", "生物技术", "环保科技", "新能源科技", "产业", "经营", "销售", "开发",
}, key=len, reverse=True))

ENGLISH_INDUSTRY_WORDS = (
    "technology", "technologies", "tech", "information", "software", "network", "networks", "electronics",
    "electronic", "electric", "trading", "trade", "industrial", "industries", "industry", "international",
    "machinery", "equipment", "engineering", "construction", "logistics", "consulting", "services",
    "service", "medical", "pharmaceutical", "pharma", "biotech", "food", "foods", "energy", "materials",
    "development", "investment", "management", "culture", "media", "education", "manufacturing",
)

_REGION_BARE = frozenset((*PROVINCES, *CITIES))
# Every region word as it may be written: bare (北京), with a suffix (北京市, 浦东新区), or full (广西壮族自治区).
_REGION_WORDS = frozenset({*_REGION_BARE, *PROVINCE_FULL_NAMES,
                           *(bare + suffix for bare in _REGION_BARE for suffix in REGION_SUFFIXES)})
_BRACKETS = re.compile(r"[(\[{（【「『〔《<＜](.*?)[)\]}）】」』〕》>＞]")
_NOT_WORD = re.compile(r"[^0-9a-z\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
_HAN = re.compile(r"[\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_BRANCH = re.compile(r"(分公司|分店|分厂|办事处|代表处|营业部|分部)$")
_MAX_REGION_LENGTH = max(len(word) for word in _REGION_WORDS)


@lru_cache(maxsize=262144)
def _chunk_pinyin(chunk: str) -> str:
    return "".join(syllable for syllable in lazy_pinyin(chunk) if syllable.isascii() and syllable.isalnum())


def _pinyin(text: str) -> str:
    """Pinyin letters of `text`, converted in cached two-character chunks: names reuse a small
    vocabulary, so a million names cost seconds (whole-name conversion: minutes), and two-character
    words (重庆, 银行) keep their phrase reading."""
    return "".join(_chunk_pinyin(text[start:start + 2]) for start in range(0, len(text), 2))


# Industry words as they appear in Latin-script names: English, and the pinyin of the Chinese ones.
_LATIN_INDUSTRY_SET = frozenset({*ENGLISH_INDUSTRY_WORDS, *(_pinyin(word) for word in INDUSTRY_WORDS)})
_LATIN_INDUSTRY_LONGEST = max(len(word) for word in _LATIN_INDUSTRY_SET)


@dataclass(frozen=True)
class NameKey:
    """The comparable forms of a company name.

    - `full`: every letter, digit and Chinese character, simplified, lower case.
    - `core`: `full` without leading region words, bracketed regions/branches and legal forms —
      what two spellings of one company share (北京星河智能科技有限公司 → 星河智能科技).
    - `brand`: `core` without trailing industry words (星河智能科技 → 星河); equals `core` when
      nothing would be left.
    - `pinyin`: pinyin of `core` (Chinese) or `core` itself (Latin).
    - `brand_pinyin`: pinyin of `brand`, or a Latin name's brand, where 星河智能科技 and
      "Xinghe Technology Co., Ltd." meet (xinghe).
    """

    full: str
    core: str
    brand: str
    pinyin: str
    brand_pinyin: str


def _fold(text: str) -> str:
    return simplified(unicodedata.normalize("NFKC", text)).lower()


def address(text: str) -> str:
    """A comparable address: folded like names, letters, digits and Chinese characters only."""
    return _NOT_WORD.sub("", _fold(text or ""))


def _region_suffix_length(text: str) -> int:
    """Length of a region word at the end of `text` (…有限公司北京 → 2), or 0."""
    for length in range(min(len(text) - 1, _MAX_REGION_LENGTH), 1, -1):
        if text[-length:] in _REGION_WORDS:
            return length
    return 0


def _region_prefix_length(text: str) -> int:
    """Length of the region word (with its suffix, e.g. 北京市, 浦东新区) at the start of `text`, or 0."""
    for length in range(min(len(text), _MAX_REGION_LENGTH), 1, -1):
        if text[:length] in _REGION_WORDS:
            return length
    return 0


def _is_region(text: str) -> bool:
    return text in _REGION_WORDS


def _strip_suffix_words(text: str, words: frozenset[str], longest: int) -> str:
    """Trailing `words` removed, longest first, repeatedly (星河智能科技 → 星河; 智能科技 → "")."""
    while text:
        for length in range(min(len(text), longest), 0, -1):
            if text[-length:] in words:
                text = text[:-length]
                break
        else:
            return text
    return text


_INDUSTRY_SET = frozenset(INDUSTRY_WORDS)
_INDUSTRY_LONGEST = max(len(word) for word in INDUSTRY_WORDS)


def _strip_industry(text: str) -> str:
    return _strip_suffix_words(text, _INDUSTRY_SET, _INDUSTRY_LONGEST)


def _strip_legal(text: str, forms: tuple[str, ...]) -> str:
    changed = True
    while changed and text:
        changed = False
        for form in forms:
            if text.endswith(form) and len(text) > len(form):
                text = text[: -len(form)]
                changed = True
                break
    return text


def _strip_english_legal(words: list[str]) -> list[str]:
    """Trailing English legal-form words removed (["xinghe", "tech", "co", "ltd"] → ["xinghe", "tech"])."""
    while len(words) > 1:
        for form in ENGLISH_LEGAL_FORMS:
            parts = form.split(" ")
            if len(words) > len(parts) and words[-len(parts):] == parts:
                del words[-len(parts):]
                break
        else:
            return words
    return words


@lru_cache(maxsize=65536)
def company_name(name: str) -> NameKey:
    """The comparable forms of a company name (see `NameKey`). Cached: a file or a batch names the
    same companies again and again, and the result is immutable."""
    folded = _fold(name or "")

    # Brackets: a region (北京) or a branch marker goes, anything else stays as plain text.
    def bracket(match: re.Match[str]) -> str:
        inside = _NOT_WORD.sub("", match.group(1))
        if _is_region(inside) or _BRANCH.search(inside) or inside in ("中国", "集团"):
            return " "
        return f" {match.group(1)} "

    unbracketed = _BRACKETS.sub(bracket, folded)
    words = [word for word in _NOT_WORD.split(unbracketed) if word]
    full = "".join(_NOT_WORD.sub("", folded).split())
    latin = not any(_HAN.search(word) for word in words)
    if latin:
        core = "".join(_strip_english_legal(list(words))) or full
        brand = _strip_suffix_words(core, _LATIN_INDUSTRY_SET, _LATIN_INDUSTRY_LONGEST)
        brand = brand if len(brand) >= 3 else core
        return NameKey(full=full, core=core, brand=brand, pinyin=core, brand_pinyin=brand)
    # Legal forms and a branch's region at the end (…有限公司北京分公司 → …), repeatedly.
    text = "".join(words)
    while True:
        stripped = _strip_legal(text, LEGAL_FORMS)
        region = _region_suffix_length(stripped)
        if region and len(stripped) - region >= 2:
            stripped = stripped[:-region]
        if stripped == text:
            break
        text = stripped
    # Leading region words go (广东省深圳市星河 → 星河) unless nothing distinctive would be left: a
    # name that is a region plus industry words (上海电气) keeps its region.
    while region := _region_prefix_length(text):
        rest = text[region:]
        if len(_strip_industry(rest)) < 2:
            break
        text = rest
    core = text or full
    brand = _strip_industry(core)
    if len(brand) < 2 or _is_region(brand):  # 上海电气: the region is the brand's part
        brand = core
    return NameKey(full=full, core=core, brand=brand, pinyin=_pinyin(core), brand_pinyin=_pinyin(brand))


# --- phones -----------------------------------------------------------------------------------------
_EXTENSION = re.compile(r"(转|分机|ext\.?|x|#)\s*\d{1,6}\s*$", re.IGNORECASE)


def phone(text: str) -> str:
    """A Chinese phone number as digits: +86/0086/86 country code dropped, a landline keeps its
    area code with the leading 0 (010-6234 5678 → 01062345678), an extension (转 123, ext 12, #3,
    or a trailing -123 after a full landline) is dropped; "" when there are fewer than 7 digits."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    text = _EXTENSION.sub("", text)
    groups = re.findall(r"\d+", text)
    digits = "".join(groups)
    if text.startswith("+86") or digits.startswith("0086"):
        digits = digits[4:] if digits.startswith("0086") else digits[2:]
        mobile = len(digits) == 11 and digits.startswith("1")
        if digits and not mobile and not digits.startswith("0"):
            digits = "0" + digits  # +86 10 6234 5678 → 010…
    elif digits.startswith("86") and len(digits) == 13 and digits[2] == "1":
        digits = digits[2:]  # 8613800138000
    if len(groups) >= 2 and digits.startswith("0"):
        # Landline written with separators: a last group of 1–4 digits after a full number is an extension.
        head = "".join(groups[:-1])
        head = head[4:] if head.startswith("0086") else head
        if len(groups[-1]) <= 4 and 10 <= len(head) <= 12:
            digits = head
    if len(digits) == 11 and digits.startswith("1"):
        return digits
    if len(digits) < 7:
        return ""
    return digits[:12]


# --- e-mail -------------------------------------------------------------------------------------------
# Providers that ignore +tags; Gmail also ignores dots in the local part.
PLUS_TAG_PROVIDERS = frozenset({"gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com",
                                "icloud.com", "me.com", "yahoo.com", "protonmail.com", "proton.me"})
_DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}


def email(text: str) -> str:
    """A comparable e-mail address: lower case; for providers that ignore them, +tags (and Gmail's
    dots) removed; "" when it is no address."""
    address = unicodedata.normalize("NFKC", text or "").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain:
        return ""
    domain = _DOMAIN_ALIASES.get(domain, domain)
    if domain in PLUS_TAG_PROVIDERS:
        local = local.split("+", 1)[0]
    if domain == "gmail.com":
        local = local.replace(".", "")
    return f"{local}@{domain}"
