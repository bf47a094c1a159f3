"""Parse raw input files into documents; anything unreadable becomes a Rejection, never an exception.

Pure functions over a stream of byte chunks: the Beam edge (pipeline/beam/files.py) reads and
decompresses files through Beam's FileSystems (local, gs://, s3://) and hands the chunks here. A parser
holds a window of the decoded text that grows at its end and is dropped at its start, so memory is
bounded by the largest record, not by the file.
"""
from __future__ import annotations

import codecs
import json
import posixpath
import re
from collections.abc import Iterable, Iterator
from enum import Enum

from pipeline.documents import Document, Rejection

Record = Document | Rejection


class InputFormat(str, Enum):
    WUDAO = "wudao"  # one JSON array of {id, uniqueKey, titleUkey, dataType, title, content}
    JSONL = "jsonl"  # one JSON object per line
    TEXT = "text"  # documents separated by blank lines

    @classmethod
    def detect(cls, path: str) -> "InputFormat":
        name = re.sub(r"\.(gz|bz2|xz|zst|zstd|deflate)$", "", path.lower())
        if name.endswith((".jsonl", ".ndjson")):
            return cls.JSONL
        if name.endswith(".json"):
            return cls.WUDAO
        return cls.TEXT


WUDAO_TEXT_FIELD = "content"
_DECODER = json.JSONDecoder(strict=False)  # raw control characters inside strings are the cleaner's job
_NEXT_OBJECT = re.compile(r"\}\s*,\s*\{")
_SEPARATOR = re.compile(r"[ \t\r\n]*(,?)[ \t\r\n]*")  # between array elements
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|"|[\[\]{}]')  # strings (whole or cut) and brackets
_BLANK_LINES = re.compile(r"\n(?:[ \t\r\f\v\u3000]*\n)+")
_BLANK_LINE_SPACE = frozenset(" \t\r\f\v\u3000\n")
# A lone surrogate reaches a string two ways: an undecodable byte (kept by surrogateescape) or a JSON
# escape of half a pair. A file with neither, nearly every file, skips the check of each field.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
# A JSON error this close to the window's end may be a value cut by the window, not a malformed one:
# the longest token a value can be cut in is "-Infinity".
_CUT_MARGIN = 16
TOO_DEEP = "too_deep"
_TOO_DEEP = "nested deeper than the JSON parser's recursion limit"


class _TextWindow:
    """The decoded text of a byte stream, from `offset` (characters dropped so far) on. `suspect`
    says whether the text so far may hold a lone surrogate (see `_SURROGATE_ESCAPE`)."""

    def __init__(self, chunks: Iterable[bytes], json_escapes: bool, crlf: bool) -> None:
        self._chunks = iter(chunks)
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()  # strict until the first bad byte
        self._json_escapes = json_escapes
        self._crlf = crlf  # text files: "\r\n" becomes "\n", also where a chunk ends between the two
        self._held = ""
        self.text = ""
        self.offset = 0
        self.eof = False
        self.suspect = False

    def grow(self, keep_from: int) -> None:
        """Drops the text before `keep_from` and appends the next chunk's (call only before `eof`)."""
        chunk = next(self._chunks, None)
        self.eof = chunk is None
        new = self._held + self._decode(chunk or b"")
        self._held = ""
        if self._crlf:
            if new.endswith("\r") and not self.eof:
                new, self._held = new[:-1], "\r"
            new = new.replace("\r\n", "\n")
        if not self.suspect and self._json_escapes:  # an escape may straddle the chunks' boundary
            self.suspect = bool(_SURROGATE_ESCAPE.search(new) or _SURROGATE_ESCAPE.search(self.text[-5:] + new[:5]))
        self.text = self.text[keep_from:] + new
        self.offset += keep_from

    def double(self, keep_from: int) -> None:
        """Drops the text before `keep_from` and grows until what is left has doubled (or the stream
        ends): work that restarts from `keep_from` after each call then costs linear time in all."""
        wanted = 2 * (len(self.text) - keep_from)
        self.grow(keep_from)
        while len(self.text) < wanted and not self.eof:
            self.grow(0)

    def _decode(self, chunk: bytes) -> str:
        """Strict decoding costs nothing on valid UTF-8; at the first undecodable byte the decoder
        becomes a surrogateescape one in the same state (a failed call leaves the state as it was)."""
        try:
            return self._decoder.decode(chunk, final=self.eof)
        except UnicodeDecodeError:
            state = self._decoder.getstate()
            self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="surrogateescape")
            self._decoder.setstate(state)
            self.suspect = True
            return self._decoder.decode(chunk, final=self.eof)


def parse_stream(chunks: Iterable[bytes], source: str, fmt: InputFormat, text_field: str = "text") -> Iterator[Record]:
    """Records of a file given as chunks of its (decompressed) bytes, in file order. Undecodable bytes
    become lone surrogates, so one bad record fails alone."""
    window = _TextWindow(chunks, json_escapes=fmt is not InputFormat.TEXT, crlf=fmt is InputFormat.TEXT)
    if fmt is InputFormat.TEXT:
        return _parse_text_blocks(window, source)
    if fmt is InputFormat.WUDAO:
        return _parse_json_values(window, source)
    return _parse_json_lines(window, source, text_field)


def parse_file(data: bytes, source: str, fmt: InputFormat, text_field: str = "text") -> Iterator[Record]:
    """`parse_stream` over a file already in memory."""
    return parse_stream((data,), source, fmt, text_field)


def _fallback_id(source: str, position: int) -> str:
    return f"{posixpath.basename(source)}#{position}"


def _parse_json_values(window: _TextWindow, source: str) -> Iterator[Record]:
    """Top-level values in sequence: normally one array, but concatenated arrays (a classic of crawl
    dumps joined with `cat`) and bare objects are read too. A broken array element is ledgered and the
    next object found; garbage, or a broken bare object, ends the file with a ledger line."""
    pos, index, in_array, comma = 0, 0, False, False
    while True:
        pos = _skip_space(window.text, pos)
        if pos >= len(window.text):
            if window.eof:
                return
            window.grow(pos)
            pos = 0
            continue
        char = window.text[pos]
        if in_array and char == "," and not comma:
            pos, comma = pos + 1, True
            continue
        comma = False
        if in_array and char == "]":
            pos, in_array = pos + 1, False
            continue
        if not in_array and char == "[":
            pos, in_array = pos + 1, True
            continue
        if not in_array and char != "{":
            detail = f"char {window.offset + pos}: unexpected {window.text[pos:pos + 20]!r}"
            yield Rejection(_fallback_id(source, index), source, "malformed_json", detail)
            return
        decoded, text = index, window.text
        while True:  # the fast path: records whole in the window, one after the other, as nearly all are
            try:
                obj, end = _DECODER.raw_decode(text, pos)
            except (json.JSONDecodeError, RecursionError):
                break
            if end == len(text) and not window.eof and text[end - 1] not in "}]\"":
                break  # a number or literal the window may cut
            yield _record_to_document(obj, source, index, WUDAO_TEXT_FIELD, window.suspect)
            index += 1
            if not in_array:
                pos = end
                break
            separator = _SEPARATOR.match(text, end)
            pos, comma = separator.end(), separator.end(1) > separator.start(1)
            if not text.startswith("{", pos):
                break
        if index > decoded:
            continue
        start, end, obj, failure = _decode_value(window, pos)
        if failure is None:
            yield _record_to_document(obj, source, index, WUDAO_TEXT_FIELD, window.suspect)
            pos, index = end, index + 1
            continue
        reason, message = failure
        yield Rejection(_fallback_id(source, index), source, reason, f"char {window.offset + start}: {message}")
        index += 1
        if reason == TOO_DEEP:
            resync = _value_end(window, start)
        else:
            resync = _next_object(window, start) if in_array else None
        if resync is None:
            return
        pos = resync


def _decode_value(window: _TextWindow, pos: int) -> tuple[int, int, object, tuple[str, str] | None]:
    """(start, end, value, None) of the JSON value at `pos`, or (start, end, None, (reason, message))
    when it is malformed; positions are in the window as it stands on return (it may have grown). A
    value the window cuts is retried once the window holds twice as much of it, so a huge value costs
    a few decodes, not one per chunk."""
    while True:
        text = window.text
        try:
            value, end = _DECODER.raw_decode(text, pos)
            if window.eof or end < len(text) or text[end - 1] in "}]\"":
                return pos, end, value, None
        except json.JSONDecodeError as error:
            if window.eof or not (error.msg.startswith("Unterminated string") or error.pos >= len(text) - _CUT_MARGIN):
                return pos, pos, None, ("malformed_json", error.msg)
        except RecursionError:  # one hostile record must not stop a run: it is ledgered like a broken one
            return pos, pos, None, (TOO_DEEP, _TOO_DEEP)
        window.double(pos)
        pos = 0


def _value_end(window: _TextWindow, pos: int) -> int | None:
    """Where a value too deep to decode ends, found by its brackets alone (strings skipped), or None
    when the stream ends first: the records after it are read as usual."""
    while True:
        depth = 0
        for token in _STRUCTURE.finditer(window.text, pos):
            bracket = token.group()
            if bracket == '"':  # a string the window cuts
                break
            if bracket[0] != '"':
                depth += 1 if bracket in "[{" else -1
                if depth == 0:
                    return token.end()
        if window.eof:
            return None
        window.double(pos)
        pos = 0


def _next_object(window: _TextWindow, pos: int) -> int | None:
    """Where the object after a broken array element opens ("},{"), or None when the stream ends first."""
    while True:
        found = _NEXT_OBJECT.search(window.text, pos)
        if found:
            return found.end() - 1
        if window.eof:
            return None
        last = window.text.rfind("}", pos)
        window.grow(last if last >= 0 else len(window.text))
        pos = 0


def _parse_json_lines(window: _TextWindow, source: str, text_field: str) -> Iterator[Record]:
    pos = scanned = line_number = 0
    while True:
        end = window.text.find("\n", scanned)
        if end < 0 and not window.eof:
            scanned = len(window.text) - pos
            window.grow(pos)
            pos = 0
            continue
        if end < 0:
            end = len(window.text)
        line = window.text[pos:end]
        line_number += 1
        pos = scanned = end + 1
        if line.strip():
            yield _json_line(line, line_number, source, text_field, window.suspect)
        if pos > len(window.text) and window.eof:
            return


def _json_line(line: str, line_number: int, source: str, text_field: str, suspect: bool) -> Record:
    try:
        obj = _DECODER.decode(line)
    except json.JSONDecodeError as error:
        return Rejection(_fallback_id(source, line_number), source, "malformed_json", f"line {line_number}: {error.msg}")
    except RecursionError:  # one hostile record must not stop a run: it is ledgered like a broken one
        return Rejection(_fallback_id(source, line_number), source, TOO_DEEP, f"line {line_number}: {_TOO_DEEP}")
    return _record_to_document(obj, source, line_number, text_field, suspect)


def _parse_text_blocks(window: _TextWindow, source: str) -> Iterator[Record]:
    """Blocks between blank lines. A separator is taken only once a character other than blank-line
    space follows it: until then it may go on in the next chunk."""
    pos = scanned = index = 0
    while True:
        text = window.text
        limit = len(text)
        if not window.eof:
            while limit > scanned and text[limit - 1] in _BLANK_LINE_SPACE:
                limit -= 1
        for separator in _BLANK_LINES.finditer(text, scanned, limit):
            yield from _text_block(text[pos:separator.start()], source, index, window.suspect)
            pos, index = separator.end(), index + 1
        if window.eof:
            yield from _text_block(text[pos:], source, index, window.suspect)
            return
        scanned = max(pos, limit - 1) - pos
        window.grow(pos)
        pos = 0


def _text_block(block: str, source: str, index: int, suspect: bool) -> Iterator[Record]:
    if not block.strip():
        return
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
