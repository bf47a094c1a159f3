"""Normalise raw web text for BERT-Chinese input, then keep it or name the filter that drops it.

Each rule is a pure function; `clean_text` returns the cleaned text or the rejection reason, and the
Beam edge turns reasons into ledger lines and counters.
"""
from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from pipeline.config import CleanConfig

# Full-width punctuation is what Chinese text (and so fine-tuning data) uses, and bert-base-chinese
# has an id for each: NFKC would fold "，" into ","; we shield these from it.
_PROTECTED = "".join(
    chr(c)
    for c in range(0xFF01, 0xFF5F)
    if not chr(c).isalnum()
) + "\uff5f\uff60\uff61\uff62\uff63\uff64\uff65"
_SHIELD_BASE = 0xF0000  # supplementary private use: stripped from input before shielding, so no clash
_SHIELD = {ord(ch): chr(_SHIELD_BASE + i) for i, ch in enumerate(_PROTECTED)}
_UNSHIELD = {_SHIELD_BASE + i: ch for i, ch in enumerate(_PROTECTED)}


def _deletion_table() -> dict[int, None]:
    ranges = [(0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x200B, 0x200F),
              (0x202A, 0x202E), (0x2060, 0x206F), (0xFEFF, 0xFEFF), (0xFFF0, 0xFFFD), (0xE000, 0xF8FF)]
    table: dict[int, None] = {c: None for lo, hi in ranges for c in range(lo, hi + 1)}
    return table


_DELETE = _deletion_table()
_SUPPLEMENTARY_PRIVATE = re.compile("[\U000f0000-\U0010ffff]")
_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(r"<\s*(br|/p|/div|/li|/h[1-6]|/tr|p|div|li|tr)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,500}>|<!--.*?-->", re.DOTALL)
_SPACES = re.compile(r"[^\S\n]+")
_SPACE_AROUND_NEWLINE = re.compile(r" *\n *")
_MANY_NEWLINES = re.compile(r"\n{3,}")


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
    text = text.translate(_DELETE)
    if not text.isascii():
        text = _SUPPLEMENTARY_PRIVATE.sub("", text)
    return text


def normalize_unicode(text: str) -> str:
    """NFKC (full-width letters and digits to ASCII, compatibility ideographs to unified ones),
    keeping full-width punctuation as Chinese text writes it."""
    if text.isascii():
        return text
    shielded = text.translate(_SHIELD)
    if unicodedata.is_normalized("NFKC", shielded):
        return text
    return unicodedata.normalize("NFKC", shielded).translate(_UNSHIELD)


def normalize_whitespace(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u3000", " ")
    text = _SPACES.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    return _MANY_NEWLINES.sub("\n\n", text).strip()


@lru_cache(maxsize=1)
def _traditional_to_simplified() -> Callable[[str], str]:
    import opencc  # loaded once per process; the conversion tables ship inside the package

    return opencc.OpenCC("t2s").convert


def normalize_text(text: str, to_simplified: bool = True) -> str:
    """The one normalisation that cleaned text, lexicon entries and user dictionaries all share."""
    text = normalize_whitespace(normalize_unicode(remove_invisible(strip_html(text))))
    if to_simplified and not text.isascii():
        text = _traditional_to_simplified()(text)
    return text


def cjk_ratio(text: str) -> float:
    """Share of CJK ideographs among non-space characters, counted on code points in one numpy pass."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    visible = codes[(codes != 0x20) & (codes != 0x0A)]
    if visible.size == 0:
        return 0.0
    cjk = ((visible >= 0x4E00) & (visible <= 0x9FFF)) | ((visible >= 0x3400) & (visible <= 0x4DBF))
    cjk |= (visible >= 0x20000) & (visible <= 0x2FA1F)
    return float(cjk.sum()) / visible.size


def quality_reason(text: str, config: CleanConfig) -> str | None:
    """The name of the first filter the text fails, or None to keep it."""
    if not text:
        return "empty"
    if len(text) < config.min_chars:
        return "too_short"
    if len(text) > config.max_chars:
        return "too_long"
    if cjk_ratio(text) < config.min_cjk_ratio:
        return "low_cjk_ratio"
    return None


def clean_text(title: str, text: str, config: CleanConfig) -> tuple[str, str | None]:
    """Returns (cleaned text, None) to keep, or ("", reason) to reject."""
    if len(text) > config.max_chars * 4:
        return "", "too_long"  # refuse before spending time normalising a giant record
    body = normalize_text(text, config.to_simplified)
    if config.include_title and title.strip():
        head = normalize_text(title, config.to_simplified)
        if head and not body.startswith(head):
            body = f"{head}\n{body}"
    reason = quality_reason(body, config)
    return ("", reason) if reason else (body, None)
