"""Normalise raw web text for BERT-Chinese input, then keep it or name the filter that drops it.

Each rule is a pure function; `clean_documents` returns, for a batch, the cleaned text or the rejection
reason of each document, and the Beam edge turns reasons into ledger lines and counters.

Simple twin: `normalize_text`, which is `_normalize(text, ..., ALL_STEPS)`: every step on every text.
Read it first. The fast path is the same function told which costly steps (NFKC, OpenCC, the
invisible-character sweep, each PII pattern) a text calls for: `steps_needed` finds them for a whole
batch in a few numpy passes over per-code-point bit tables, and a text skips the rest. Read the bit
tables only when a step changes. tests/pipeline/test_clean_normalize.py pins the two together
(`test_steps_needed_skips_steps_without_changing_any_result_on_the_real_sample`, and
`test_steps_needed_lets_every_pattern_see_what_nfkc_and_invisible_characters_make`); what the skipping
saves is in bench/README.md ("Cleaning"), `python -m bench.cleaning`.
"""
from __future__ import annotations

import html
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from pipeline.arrays import code_points
from pipeline.clean_rules import PHONE_SEPARATORS, remove_pii, split_rule_lines
from pipeline.config import CleanConfig
from pipeline.quality import quality_reasons

# Full-width punctuation is what Chinese text (and so fine-tuning data) uses, and bert-base-chinese
# has an id for each: NFKC would fold "，" into ","; we shield these from it. The ellipsis too: NFKC
# turns "……" into "......", while BERT-Chinese has its own id for "…".
_PROTECTED = "".join(
    chr(c)
    for c in range(0xFF01, 0xFF5F)
    if not chr(c).isalnum()
) + "\uff5f\uff60\uff61\uff62\uff63\uff64\uff65\u2026"
# NFKC leaves these and the CJK unified ideographs alone and never reaches across one (each is a
# starter that NFKC keeps and that composes with nothing), so only the text between their runs goes
# through NFKC, piece by piece: the same result as shielding the protected ones, and far cheaper on
# Chinese text, where those pieces are a few characters long (bench/README.md, "Cleaning").
_INERT_RUN = re.compile("([" + re.escape(_PROTECTED) + "\u3400-\u4dbf\u4e00-\u9fff]+)")

# Control, zero-width, bidi, soft hyphen, lone surrogates (undecodable input bytes), BOM, specials and
# private use (BMP and supplementary planes).
_INVISIBLE_RANGES = [(0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x200B, 0x200F),
                     (0x202A, 0x202E), (0x2060, 0x206F), (0xD800, 0xDFFF), (0xFEFF, 0xFEFF),
                     (0xFFF0, 0xFFFD), (0xE000, 0xF8FF), (0xF0000, 0x10FFFF)]
_INVISIBLE = re.compile("[" + "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in _INVISIBLE_RANGES) + "]+")
_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/tr|p|div|li|tr)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,500}>|<!--.*?-->", re.DOTALL)
_SPACES = re.compile(r"[^\S\n]+")
_SPACE_AROUND_NEWLINE = re.compile(r" *\n *")
_MANY_NEWLINES = re.compile(r"\n{3,}")
# OpenCC's phrase table changes these inside phrases although each alone converts to itself
# (沈 in 沈默, 覆 in 反覆, ...); tests/pipeline/test_clean_normalize.py re-derives the list from the
# installed dictionaries.
T2S_PHRASE_TRIGGERS = "么俱哩坏彷沈甦瞭藉衹覆"
# A text whose only such characters are triggers changes only if it holds one of these: every phrase
# OpenCC changes that holds no other changing character, less those holding a shorter one (the same
# test re-derives them). Most WuDao texts that call for OpenCC hold only 么, 覆 or 坏 and no phrase, so a
# search replaces a conversion (bench/README.md, "Cleaning").
T2S_PHRASES = (
    "一坏", "凌藉", "函覆", "反覆", "回覆", "土坏", "坏土", "坏子", "坏布", "墨沈沈", "意志消沈", "打坏", "批覆", "折戟沈沙", "折戟沈河",
    "拉坏", "拜覆", "捏坏", "明瞭", "明覆", "昏沈", "暗沈沈", "毛坏", "沈下", "沈冤", "沈厚", "沈吟", "沈寂", "沈思", "沈浮", "沈浸",
    "沈湎", "沈溺", "沈甸甸", "沈痛", "沈痼", "沈睡", "沈砂池", "沈筒", "沈船", "沈落", "沈迷", "沈醉", "沈重", "沈降", "沈陷",
    "沈香", "沈默", "浮沈", "海哩", "深沈", "滑藉", "狐藉虎威", "甦生", "甦醒", "申覆", "瞭如", "瞭然", "瞭若指掌", "瞭解", "破釜沈舟",
    "示覆", "答覆", "素藉", "耳沈", "英哩", "茵藉", "藉代", "藉以", "藉助", "藉卉", "藉口", "藉喻", "藉寇兵", "藉手", "藉故", "藉方",
    "藉槁", "藉此", "藉甚", "藉由", "藉着", "藉端", "衹得", "覆信", "覆呈", "覆命", "覆墓", "覆按", "覆文", "覆校", "重覆", "陶坏",
    "黑沈沈",
)


def _phrase_search() -> re.Pattern[str]:
    """One search for all T2S_PHRASES that starts at their triggers, which the regex engine scans for in
    C and Chinese text seldom holds, then looks at the rest of each phrase around it, where the plain
    alternation would try every first character (一, 明, 深 ...), which are everywhere."""
    triggers = [next(i for i, c in enumerate(phrase) if c in T2S_PHRASE_TRIGGERS) for phrase in T2S_PHRASES]
    around = [f"(?<={phrase[: i + 1]})" + (f"(?={phrase[i + 1:]})" if phrase[i + 1:] else "")
              for phrase, i in zip(T2S_PHRASES, triggers)]
    leads = "".join(sorted({phrase[i] for phrase, i in zip(T2S_PHRASES, triggers)}))
    return re.compile(f"[{leads}](?:{'|'.join(around)})")


_T2S_PHRASE = _phrase_search()


# Bits of `steps_needed`: which costly step a text calls for. The first four come from a per-code-point table;
# URL, EMAIL and PHONE say that the text holds the characters those patterns cannot do without.
NFKC, T2S, INVISIBLE, ODD_SPACE, URL, EMAIL, PHONE = 1, 2, 4, 8, 16, 32, 64
ALL_STEPS = 127
# Not a step: the text holds T2S_PHRASE_TRIGGERS and no other character OpenCC changes (T2S is not set),
# so OpenCC runs only if a T2S_PHRASES search finds one in the text as the earlier steps leave it.
T2S_PHRASE = 128
# Table bits, not steps: what may stand between a phone's digits once NFKC has run, invisible
# characters are gone and a dropped URL or address has closed up (printable ASCII, full-width separators);
# and a phrase trigger, in PHONE's slot of the table (PHONE comes from the digits, after the table's
# bits are reduced), moved to T2S_PHRASE in the result.
_PHONE_RUN = 128
_TRIGGER = PHONE
# The table's high byte: what a pattern looks for in two neighbours, as a bit for the first (lead) and
# the next bit up for the second, so `bits[i] & (bits[i + 1] >> 1)` keeps a lead bit where both hold.
# What _URL_HINT looks for ("//", "www.", ".com"): a dot or slash before an ASCII letter or a slash, a
# "w" before a dot (full-width dots and slashes count: clean_rules reads them as ASCII), where a character
# that NFKC changes, or an invisible one (it goes, and its neighbours meet), may stand for either side.
# And spacing that normalize_whitespace would change: a space before a space or newline, a newline
# before a space.
_URL_LEAD, _URL_NEXT, _W_LEAD, _W_NEXT = 1 << 8, 1 << 9, 1 << 10, 1 << 11
_SPACE_LEAD, _SPACE_NEXT, _NEWLINE_LEAD, _NEWLINE_NEXT = 1 << 12, 1 << 13, 1 << 14, 1 << 15
_ODD_SPACE_CHARS = "\t\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" \
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def _nfkc_changing() -> list[int]:
    """Characters NFKC would change (or that compose with a neighbour), minus the protected ones."""
    protected = set(_PROTECTED)
    return [
        c for c in range(0x30000)
        if not 0xD800 <= c < 0xE000 and chr(c) not in protected
        and (unicodedata.normalize("NFKC", chr(c)) != chr(c) or unicodedata.combining(chr(c))
             or 0x1100 <= c < 0x1200 or 0x3130 <= c < 0x3190)  # Hangul jamo compose into syllables
    ]


@lru_cache(maxsize=1)
def _opencc_t2s() -> Callable[[str], str]:
    import opencc  # loaded once per process; the conversion tables ship inside the package

    return opencc.OpenCC("t2s").convert


def _t2s_changing() -> list[int]:
    """Characters OpenCC t2s can change: one convert call over every CJK code point, plus the phrase
    triggers."""
    ranges = [(0x2E80, 0xA000), (0xF900, 0xFB00), (0xFE30, 0xFE50), (0x20000, 0x32000)]
    chars = [chr(c) for lo, hi in ranges for c in range(lo, hi)]
    converted = _opencc_t2s()("\n".join(chars)).split("\n")
    return [ord(c) for c, out in zip(chars, converted) if c != out] + [ord(c) for c in T2S_PHRASE_TRIGGERS]


@lru_cache(maxsize=1)
def _t2s_chars() -> frozenset[str]:
    return frozenset(map(chr, _t2s_changing()))


@lru_cache(maxsize=1)
def _step_table() -> np.ndarray:
    """Per code point, the costly steps it calls for; built once per process."""
    table = np.zeros(0x110000, dtype=np.uint16)
    nfkc, t2s = _nfkc_changing(), _t2s_chars()
    table[nfkc] |= NFKC
    table[[ord(c) for c in t2s - set(T2S_PHRASE_TRIGGERS)]] |= T2S
    table[[ord(c) for c in T2S_PHRASE_TRIGGERS]] |= _TRIGGER
    # NFKC brings a traditional character only by decomposing one that holds it (a compatibility
    # ideograph): no traditional character is a composite that composition could build from pieces.
    table[[c for c in nfkc if not t2s.isdisjoint(unicodedata.normalize("NFKC", chr(c)))]] |= T2S
    for lo, hi in _INVISIBLE_RANGES:
        table[lo: hi + 1] |= INVISIBLE
    table[[ord(c) for c in _ODD_SPACE_CHARS]] |= ODD_SPACE
    table[[ord("@"), ord("＠")] + [c for c in nfkc if "@" in unicodedata.normalize("NFKC", chr(c))]] |= EMAIL
    table[ord(" "): ord("~") + 1] |= _PHONE_RUN
    table[[ord(c) for c in PHONE_SEPARATORS + "．／："]] |= _PHONE_RUN  # and what a dropped URL may hold
    table[(table & (NFKC | INVISIBLE)) != 0] |= _PHONE_RUN | _URL_LEAD | _URL_NEXT | _W_LEAD | _W_NEXT
    table[[ord(c) for c in "./．／"]] |= _URL_LEAD
    table[[ord(c) for c in "/／" + string.ascii_letters]] |= _URL_NEXT
    table[[ord("w"), ord("W")]] |= _W_LEAD
    table[[ord("."), ord("．")]] |= _W_NEXT
    table[ord(" ")] |= _SPACE_LEAD | _SPACE_NEXT | _NEWLINE_NEXT
    table[ord("\n")] |= _NEWLINE_LEAD | _SPACE_NEXT
    return table


def steps_needed(texts: Sequence[str]) -> np.ndarray:
    """For each text, the costly steps of `_normalize` it calls for (the OR of its characters' bits, and
    of its neighbouring pairs'), a uint8 of step bits: a few numpy passes for the whole batch. Each
    text's bits depend on that text alone, so batching cannot change what a text goes through."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    needs = np.zeros(len(texts), dtype=np.uint8)
    filled = lengths > 0
    if not filled.any():
        return needs
    codes = code_points("".join(texts))
    bits = np.take(_step_table(), codes)  # take: cheaper than fancy indexing on a large table
    ends = np.cumsum(lengths)[filled] - 1
    starts = ends - lengths[filled] + 1
    pairs = np.zeros(codes.size, dtype=np.uint16)
    pairs[:-1] = bits[1:] >> 1
    pairs &= bits
    pairs[ends] = 0  # a pair across two texts
    low = bits.astype(np.uint8)
    low |= ((pairs & (_URL_LEAD | _W_LEAD)) != 0).view(np.uint8) * np.uint8(URL)
    # Spacing that normalize_whitespace would change: "  ", " \n", "\n ", "\n\n\n", or space at an end.
    uneven = (pairs & (_SPACE_LEAD | _NEWLINE_LEAD)) != 0
    uneven[:-2] |= (bits[:-2] & bits[1:-1] & bits[2:] & _NEWLINE_LEAD) != 0
    uneven[starts] |= (bits[starts] & (_SPACE_LEAD | _NEWLINE_LEAD)) != 0
    uneven[ends] |= (bits[ends] & (_SPACE_LEAD | _NEWLINE_LEAD)) != 0
    low |= uneven.view(np.uint8) * np.uint8(ODD_SPACE)
    bits = low
    found = np.bitwise_or.reduceat(bits, starts)
    phrase = (found & (T2S | _TRIGGER)) == _TRIGGER
    found &= ALL_STEPS & ~_TRIGGER
    found[phrase] |= T2S_PHRASE
    needs[filled] = found
    # Digits as the phone pattern will see them, after NFKC: a character NFKC changes counts as 3, the
    # most it can become (⅒ -> 1⁄10), so full-width digits (１３８…) count too.
    weight = (codes - ord("0") < 10).view(np.uint8) + (bits & NFKC) * np.uint8(3)
    many = np.add.reduceat(weight, starts, dtype=np.int32) >= 10  # every phone pattern has ten digits
    if many.any():
        # The runs of those texts alone, laid end to end.
        inside = np.repeat(many, lengths[filled])
        kept = lengths[filled][many]
        kept_ends = np.cumsum(kept) - 1
        many[many] = _ten_digit_runs(weight[inside], bits[inside], kept_ends - kept + 1, kept_ends)
        needs[np.flatnonzero(filled)[many]] |= PHONE
    return needs


def _ten_digit_runs(weight: np.ndarray, bits: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each text may hold ten digits (`weight`, per character) in one _PHONE_RUN, as every phone
    number does: academic text has many digits but seldom so many in a row."""
    run = (bits & _PHONE_RUN).astype(bool)
    first, last = run.copy(), run.copy()
    first[1:] &= ~run[:-1]
    last[:-1] &= ~run[1:]
    first[starts], last[ends] = run[starts], run[ends]  # a run ends with its text
    counted = np.cumsum(weight, dtype=np.int32)
    run_starts, run_ends = np.flatnonzero(first), np.flatnonzero(last)
    long_runs = run_starts[counted[run_ends] - counted[run_starts] + weight[run_starts] >= 10]
    found = np.zeros(starts.size, dtype=bool)
    found[np.searchsorted(starts, long_runs, side="right") - 1] = True
    return found


def strip_html(text: str) -> str:
    if "<" in text:
        text = _SCRIPT_STYLE.sub("", text)
        text = _BLOCK_TAG.sub("\n", text)
        text = _TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def remove_invisible(text: str) -> str:
    """Control, zero-width, bidi and private-use characters carry no text and confuse tokenizers."""
    return _INVISIBLE.sub("", text)


def normalize_unicode(text: str) -> str:
    """NFKC (full-width letters and digits to ASCII, compatibility ideographs to unified ones),
    keeping full-width punctuation as Chinese text writes it."""
    if text.isascii():
        return text
    pieces = _INERT_RUN.split(text)  # odd slots hold the runs NFKC leaves alone
    pieces[::2] = [unicodedata.normalize("NFKC", piece) for piece in pieces[::2]]
    return "".join(pieces)


def normalize_whitespace(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u3000", " ")
    text = _SPACES.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    return _MANY_NEWLINES.sub("\n\n", text).strip()


def normalize_text(text: str, to_simplified: bool = True) -> str:
    """The one normalisation that cleaned text, lexicon entries and user dictionaries all share."""
    return _normalize(text, to_simplified, "keep", ALL_STEPS)


def _normalize(text: str, simplified: bool, pii: str, needs: int) -> str:
    """`needs` (from `steps_needed`) lets a text skip the steps none of its characters calls for; with
    ALL_STEPS every step runs (`normalize_text`, the plain version), and the result is the same either
    way."""
    if ("<" in text or "&" in text) and (stripped := strip_html(text)) != text:
        text, needs = stripped, ALL_STEPS  # entities may have brought any character
    if needs & INVISIBLE:
        text = remove_invisible(text)
    if needs & NFKC:
        text = normalize_unicode(text)
    if pii != "keep" and needs & (URL | EMAIL | PHONE):
        before = text
        # A dropped address closes up its neighbours, which may then read "//" or ".com".
        url = bool(needs & URL or pii == "drop" and needs & EMAIL)
        text = remove_pii(text, drop=pii == "drop", url=url, email=bool(needs & EMAIL), phone=bool(needs & PHONE))
        if pii == "drop" and text != before:
            needs |= ODD_SPACE  # a dropped address can leave two spaces side by side
    if needs & ODD_SPACE:
        text = normalize_whitespace(text)
    if simplified and needs & (T2S | T2S_PHRASE) and not text.isascii() and (
            needs & T2S or _T2S_PHRASE.search(text)):
        text = _opencc_t2s()(text)
    return text


def clean_documents(items: Sequence[tuple[str, str]], config: CleanConfig) -> list[tuple[str, str | None]]:
    """(title, text) pairs in; for each, (cleaned text, None) to keep or ("", reason) to reject.

    Batched because `steps_needed` and the document-level statistics run as a few numpy passes over the
    whole batch.
    """
    too_long = [len(text) > config.max_chars * 4 for _, text in items]  # refused before any work
    texts = ["" if skip else text for (_, text), skip in zip(items, too_long)]
    titles = ["" if skip or not config.include_title or not title.strip() else title
              for (title, _), skip in zip(items, too_long)]
    bodies: list[str] = []
    early: list[str | None] = []
    needs, title_needs = steps_needed(texts).tolist(), steps_needed(titles).tolist()
    for text, title, need, title_need, skip in zip(texts, titles, needs, title_needs, too_long):
        if skip:
            bodies.append("")
            early.append("too_long")
            continue
        # Markup is all _normalize could change in a text that calls for no step (most of WuDao's).
        if need or "<" in text or "&" in text:
            body = _normalize(text, config.to_simplified, config.pii, need)
        else:
            body = text
        if title:
            head = _normalize(title, config.to_simplified, config.pii, title_need)
            if head and not body.startswith(head):
                body = f"{head}\n{body}"
        body, reason = split_rule_lines(body, config)
        bodies.append(body)
        early.append(reason)
    reasons = quality_reasons([b if r is None else "" for b, r in zip(bodies, early)], config)
    results: list[tuple[str, str | None]] = []
    for body, first, second in zip(bodies, early, reasons):
        reason = first or second
        results.append(("", reason) if reason else (body, None))
    return results


def clean_text(title: str, text: str, config: CleanConfig) -> tuple[str, str | None]:
    """Returns (cleaned text, None) to keep, or ("", reason) to reject."""
    return clean_documents([(title, text)], config)[0]
