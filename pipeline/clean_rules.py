"""Rules that rewrite text rather than judge it: personal data out, boilerplate and repeated lines out.

Boilerplate rules live in a text file (pipeline/rules/boilerplate.txt) that users extend with their own
file; the extra patterns travel inside CleanConfig, so every worker and the manifest see the same rules.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from pipeline.config import CleanConfig
from schemas.errors import UserInputError

# ASCII-only: a URL, address or number ends where Chinese text resumes.
_URL = re.compile(
    r"(?:(?:https?|ftp):?//|www\.)[\w\-.~:/?#\[\]@!$&'()*+,;=%]+"
    r"|\b[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.(?:com|cn|net|org|edu|gov|info|top|xyz|cc|io)"
    r"(?:\.cn)?\b(?:/[\w\-.~/?#@!$&+=%]*)?",
    re.ASCII | re.IGNORECASE,
)
_URL_TAIL = ".,;:!?)]'"
# Every URL holds one of these, and lies inside one run of printable ASCII (4 characters at least): the
# gate spares most texts the pattern, and the runs spare it the Chinese in between, where its many
# branches would be tried at every character. \b at a run's edge sees what it saw in the whole text.
# Written as "//", "www." or a dot before a top-level domain, case-blind; spelled out as below, it starts
# with a character set, which the regex engine scans for in C (tests/pipeline/test_clean_normalize.py:
# `test_the_url_hint_finds_what_the_plain_case_blind_pattern_finds` pins it to the plain pattern).
_URL_HINT = re.compile(
    r"[./wW](?:(?<=/)/|(?<=[wW])[wW]{2}\.|(?<=\.)(?:"
    + "|".join("".join(f"[{c}{c.upper()}]" for c in tld)
               for tld in ("com", "cn", "net", "org", "edu", "gov", "info", "top", "xyz", "cc", "io"))
    + "))"
)
_ASCII_RUN = re.compile(r"[!-~]{4,}")
# NFKC keeps full-width punctuation (clean._PROTECTED), so "ｗｗｗ．ｂａｉｄｕ．ｃｏｍ" arrives as
# "www．baidu．com": the URL patterns read a copy with these folded, one character for one.
_URL_FOLD = str.maketrans("．／", "./")
# Likewise "ｅｘａｍｐｌｅ＠ｑｑ．ｃｏｍ" arrives as "example＠qq．com".
_EMAIL = re.compile(r"\b[\w.%+\-]+[@＠][a-z0-9\-]+(?:[.．][a-z0-9\-]+)*[.．][a-z]{2,}\b", re.ASCII | re.IGNORECASE)
# Mainland mobile numbers, landlines written with an area code, and 400/800 service numbers. A bare
# 7-8 digit run is not taken: in WuDao it is far more often a count, a sum or an id than a phone.
# Separators may be full-width (０１０－１２３４５６７８ reaches here as 010－12345678: NFKC keeps them).
_PHONE = re.compile(
    r"(?<![\d.])(?:"
    r"(?:[+＋]?86[\-－ ]?)?1[3-9]\d(?:[\-－ ]?\d{4}){2}"
    r"|(?:[(（]0\d{2,3}[)）]|0\d{2,3}[\-－]) ?\d{7,8}(?:[\-－]\d{1,5})?"
    r"|[48]00[\-－ ]?\d{3}[\-－ ]?\d{4}"
    r")(?![\d])",
    re.ASCII,
)
PHONE_SEPARATORS = "－（）＋"  # the non-ASCII characters a phone may hold between its digits
# A cheap first pass (it starts with a character set, which the regex engine scans for quickly) finds
# digit runs worth a look; the exact patterns then run on those alone.
_PHONE_CANDIDATE = re.compile(r"[+＋(（\d][\d()+\- " + PHONE_SEPARATORS + r"]{9,24}", re.ASCII)
PLACEHOLDERS = {"url": "<url>", "email": "<email>", "phone": "<phone>"}


def remove_pii(text: str, drop: bool = False, url: bool = True, email: bool = True, phone: bool = True) -> str:
    """E-mail addresses, URLs and phone numbers replaced by a placeholder (or dropped). A caller that
    knows a kind cannot occur (clean.steps_needed does, for a whole batch) switches its pattern off."""
    if email and ("@" in text or "＠" in text):
        text = _EMAIL.sub("" if drop else PLACEHOLDERS["email"], text)
    if url:
        folded = text.translate(_URL_FOLD).replace("：//", "://") if "．" in text or "／" in text else text
        if folded is text:
            if _URL_HINT.search(text):
                text = _ASCII_RUN.sub(lambda m: _replace_urls(m.group(), drop), text)
        elif _URL_HINT.search(folded):
            text = _replace_folded_urls(text, folded, drop)
    if phone:
        text = _PHONE_CANDIDATE.sub(lambda m: _PHONE.sub("" if drop else PLACEHOLDERS["phone"], m.group()), text)
    return text


def _replace_urls(run: str, drop: bool) -> str:
    if "." not in run and "/" not in run:
        return run
    return _URL.sub(lambda m: _replace_url(m.group(), drop), run)


def _replace_url(url: str, drop: bool) -> str:
    trimmed = url.rstrip(_URL_TAIL)  # sentence punctuation after a URL is not part of it
    return ("" if drop else PLACEHOLDERS["url"]) + url[len(trimmed):]


def _replace_folded_urls(text: str, folded: str, drop: bool) -> str:
    """The URLs that the patterns find in `folded` replaced in `text`, span for span (the fold is one
    character for one), so the full-width punctuation around them stays as written."""
    pieces, done = [], 0
    for run in _ASCII_RUN.finditer(folded):
        for url in _URL.finditer(run.group()):
            start = run.start() + url.start()
            pieces += [text[done:start], "" if drop else PLACEHOLDERS["url"]]
            done = start + len(url.group().rstrip(_URL_TAIL))
    return "".join(pieces) + text[done:]


def parse_boilerplate_rules(text: str, origin: str) -> tuple[str, ...]:
    """Patterns of a rules file; a pattern that does not compile is the user's mistake, said up front."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        try:
            re.compile(pattern)
        except re.error as error:
            raise UserInputError(f"{origin}:{number}: bad boilerplate pattern {pattern!r}: {error}") from None
        rules.append(pattern)
    return tuple(rules)


@lru_cache(maxsize=1)
def default_boilerplate_rules() -> tuple[str, ...]:
    text = (resources.files("pipeline") / "rules" / "boilerplate.txt").read_text(encoding="utf-8")
    return parse_boilerplate_rules(text, "pipeline/rules/boilerplate.txt")


@lru_cache(maxsize=8)
def _boilerplate_matcher(extra: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{rule})" for rule in (*default_boilerplate_rules(), *extra)))


def split_rule_lines(text: str, config: CleanConfig) -> tuple[str, str | None]:
    """Drops boilerplate lines and later repeats of a line; rejects a page made mostly of repeats.

    The duplicate-line shares are Gopher's (MassiveText) page rule, measured before the repeats go.
    """
    # Boilerplate is a short line that a rule matches whole; matcher and limit looked up once a text.
    limit, matcher = config.boilerplate_max_line_chars, _boilerplate_matcher(config.boilerplate_rules)
    if "\n" not in text:
        return ("", "boilerplate") if text and len(text) <= limit and matcher.fullmatch(text) else (text, None)
    lines = text.split("\n")
    seen: set[str] = set()
    kept: list[str] = []
    content_lines = duplicate_lines = content_chars = duplicate_chars = dropped = 0
    for line in lines:
        if not line:
            kept.append(line)
            continue
        content_lines += 1
        content_chars += len(line)
        if line in seen:
            duplicate_lines += 1
            duplicate_chars += len(line)
            if config.remove_repeated_lines:
                continue
        seen.add(line)
        if len(line) <= limit and matcher.fullmatch(line):
            dropped += 1
            continue
        kept.append(line)
    if content_lines >= config.duplicate_lines_min_lines and (
        duplicate_lines > config.max_duplicate_line_ratio * content_lines
        or duplicate_chars > config.max_duplicate_line_char_ratio * content_chars
    ):
        return "", "duplicate_lines"
    if dropped == 0 and duplicate_lines == 0:
        return text, None
    body = "\n".join(kept).strip("\n")
    while "\n\n\n" in body:
        body = body.replace("\n\n\n", "\n\n")
    return (body, None) if body else ("", "boilerplate")
