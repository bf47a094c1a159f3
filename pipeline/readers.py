"""Parse raw input files into documents; anything unreadable becomes a Rejection, never an exception.

Pure functions over bytes: the Beam edge (pipeline/beam_io.py) opens files through Beam's FileSystems
(local, gs://, s3://, compressed) and hands the bytes here.
"""
from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from enum import Enum

from pipeline.documents import Document, Rejection

Record = Document | Rejection


class InputFormat(str, Enum):
    WUDAO = "wudao"  # one JSON array of {id, uniqueKey, titleUkey, dataType, title, content}
    JSONL = "jsonl"  # one JSON object per line
    TEXT = "text"  # documents separated by blank lines

    @classmethod
    def detect(cls, path: str) -> "InputFormat":
        name = re.sub(r"\.(gz|bz2|zst|zstd|deflate)$", "", path.lower())
        if name.endswith((".jsonl", ".ndjson")):
            return cls.JSONL
        if name.endswith(".json"):
            return cls.WUDAO
        return cls.TEXT


WUDAO_TEXT_FIELD = "content"
_DECODER = json.JSONDecoder(strict=False)  # raw control characters inside strings are the cleaner's job
_NEXT_OBJECT = re.compile(r"\}\s*,\s*\{")
_BLANK_LINES = re.compile(r"\n(?:[ \t\r\f\v\u3000]*\n)+")
# A lone surrogate reaches a string two ways: an undecodable byte (kept by surrogateescape) or a JSON
# escape of half a pair. A file with neither, nearly every file, skips the check of each field.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_file(data: bytes, source: str, fmt: InputFormat, text_field: str = "text") -> Iterator[Record]:
    try:
        text, suspect = data.decode("utf-8"), False
    except UnicodeDecodeError:  # undecodable bytes become lone surrogates, so one bad record fails alone
        text, suspect = data.decode("utf-8", errors="surrogateescape"), True
    text = text.removeprefix("\ufeff")
    if fmt is InputFormat.TEXT:
        yield from _parse_text_blocks(text, source, suspect)
        return
    suspect = suspect or _SURROGATE_ESCAPE.search(text) is not None
    if fmt is InputFormat.WUDAO:
        yield from _parse_json_array(text, source, suspect)
    else:
        yield from _parse_json_lines(text, source, text_field, suspect)


def _fallback_id(source: str, position: int) -> str:
    return f"{posixpath.basename(source)}#{position}"


def _parse_json_array(text: str, source: str, suspect: bool) -> Iterator[Record]:
    """Top-level values in sequence: normally one array, but concatenated arrays (a classic of
    crawl dumps joined with `cat`) and bare objects are read too; garbage ends the file with a ledger line."""
    pos = _skip_space(text, 0)
    index = 0
    while pos < len(text):
        if text[pos] == "[":
            pos, index = yield from _parse_array_elements(text, pos + 1, source, index, suspect)
        elif text[pos] == "{":
            try:
                obj, pos = _DECODER.raw_decode(text, pos)
            except json.JSONDecodeError as error:
                yield Rejection(_fallback_id(source, index), source, "malformed_json", f"char {pos}: {error.msg}")
                return
            yield _record_to_document(obj, source, index, WUDAO_TEXT_FIELD, suspect)
            index += 1
        else:
            detail = f"char {pos}: unexpected {text[pos:pos + 20]!r}"
            yield Rejection(_fallback_id(source, index), source, "malformed_json", detail)
            return
        pos = _skip_space(text, pos)


def _parse_array_elements(text: str, pos: int, source: str, index: int, suspect: bool):
    """Yields the array's records from just after its "["; returns (position after "]", next index)."""
    while True:
        pos = _skip_space(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_space(text, pos + 1)
        if pos >= len(text):
            return pos, index
        if text[pos] == "]":
            return pos + 1, index
        try:
            obj, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as error:
            yield Rejection(_fallback_id(source, index), source, "malformed_json", f"char {pos}: {error.msg}")
            resync = _NEXT_OBJECT.search(text, pos)
            if resync is None:
                return len(text), index + 1
            pos, index = resync.end() - 1, index + 1
            continue
        yield _record_to_document(obj, source, index, WUDAO_TEXT_FIELD, suspect)
        pos, index = end, index + 1


def _parse_json_lines(text: str, source: str, text_field: str, suspect: bool) -> Iterator[Record]:
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = _DECODER.decode(line)
        except json.JSONDecodeError as error:
            detail = f"line {line_number}: {error.msg}"
            yield Rejection(_fallback_id(source, line_number), source, "malformed_json", detail)
            continue
        yield _record_to_document(obj, source, line_number, text_field, suspect)


def _parse_text_blocks(text: str, source: str, suspect: bool) -> Iterator[Record]:
    for index, block in enumerate(_BLANK_LINES.split(text.replace("\r\n", "\n"))):
        if not block.strip():
            continue
        doc_id = _fallback_id(source, index)
        if suspect and _has_lone_surrogate(block):
            yield Rejection(doc_id, source, "invalid_utf8", f"block {index}")
        else:
            yield Document(doc_id=doc_id, source=source, title="", text=block)


def _record_to_document(obj: object, source: str, position: int, text_field: str, suspect: bool) -> Record:
    """`suspect`: whether the file may hold lone surrogates at all (see `_SURROGATE_ESCAPE`)."""
    if not isinstance(obj, dict):
        return Rejection(_fallback_id(source, position), source, "not_an_object", type(obj).__name__)
    key = obj.get("uniqueKey")
    if isinstance(key, str) and key.strip() and not (suspect and _has_lone_surrogate(key)):
        doc_id = key
    else:
        doc_id = _fallback_id(source, position)
    text = obj.get(text_field)
    if text is None:
        return Rejection(doc_id, source, "missing_text", f"no '{text_field}' field")
    if not isinstance(text, str):
        return Rejection(doc_id, source, "text_not_string", f"'{text_field}' is {type(text).__name__}")
    if suspect and _has_lone_surrogate(text):
        return Rejection(doc_id, source, "invalid_utf8", f"'{text_field}' has undecodable bytes")
    title = obj.get("title")
    if not isinstance(title, str) or (suspect and _has_lone_surrogate(title)):
        title = ""
    return Document(doc_id=doc_id, source=source, title=title, text=text)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
