import gzip
import json

from pipeline.documents import Document, Rejection
from pipeline.readers import InputFormat, parse_file


def _records(data: bytes, fmt: InputFormat, text_field: str = "text"):
    return list(parse_file(data, "gs://bucket/part-1.json", fmt, text_field))


def _wudao(*records) -> bytes:
    return json.dumps(list(records), ensure_ascii=False).encode("utf-8")


def test_wudao_array_yields_documents_keyed_by_unique_key():
    data = _wudao({"id": 1, "uniqueKey": "k1", "title": "标题", "content": "正文。"})
    [doc] = _records(data, InputFormat.WUDAO)
    assert doc == Document("k1", "gs://bucket/part-1.json", "标题", "正文。")


def test_broken_element_is_ledgered_and_the_rest_of_the_array_survives():
    good = '{"uniqueKey": "a", "content": "一"}'
    data = f'[{good}, {{"uniqueKey": "b", "content": "二}}, {{"uniqueKey": "c", "content": "三"}}'.encode()
    records = _records(data, InputFormat.WUDAO)
    assert [type(r) for r in records] == [Document, Rejection, Document]
    assert records[1].reason == "malformed_json" and records[2].doc_id == "c"


def test_truncated_array_keeps_complete_records_and_ledgers_the_cut_one():
    data = b'[{"uniqueKey": "a", "content": "x"}, {"uniqueKey": "b", "cont'
    records = _records(data, InputFormat.WUDAO)
    assert isinstance(records[0], Document)
    assert [r.reason for r in records[1:]] == ["malformed_json"]


def test_invalid_utf8_rejects_only_its_record():
    data = b'[{"uniqueKey": "a", "content": "ok"}, {"uniqueKey": "b", "content": "bad \xff\xfe"}]'
    records = _records(data, InputFormat.WUDAO)
    assert isinstance(records[0], Document)
    assert records[1] == Rejection("b", "gs://bucket/part-1.json", "invalid_utf8", "'content' has undecodable bytes")


def test_escaped_half_of_a_surrogate_pair_is_rejected_like_an_undecodable_byte():
    # Valid UTF-8 throughout: the lone surrogate comes from a JSON escape, the emoji from an escaped pair.
    data = b'[{"uniqueKey": "a", "content": "\\ud83d\\ude00 ok"}, {"uniqueKey": "b", "content": "bad \\udc80"},' \
        b' {"uniqueKey": "\\ud800", "title": "\\udfff", "content": "text"}]'
    ok, bad, fallback = _records(data, InputFormat.WUDAO)
    assert ok == Document("a", "gs://bucket/part-1.json", "", "\U0001F600 ok")
    assert bad == Rejection("b", "gs://bucket/part-1.json", "invalid_utf8", "'content' has undecodable bytes")
    assert fallback == Document("part-1.json#2", "gs://bucket/part-1.json", "", "text")


def test_invalid_utf8_in_a_text_file_rejects_only_its_block():
    records = _records(b"good block\n\nbad \xff block\n\nlast", InputFormat.TEXT)
    assert [type(r) for r in records] == [Document, Rejection, Document]
    assert records[1].reason == "invalid_utf8"


def test_wrong_types_and_missing_fields_have_their_own_reasons():
    data = _wudao(42, {"uniqueKey": "n", "content": None}, {"uniqueKey": "m"}, {"uniqueKey": "i", "content": 7})
    reasons = [r.reason for r in _records(data, InputFormat.WUDAO)]
    assert reasons == ["not_an_object", "missing_text", "missing_text", "text_not_string"]


def test_bom_and_empty_file_are_handled():
    assert _records(b"", InputFormat.WUDAO) == []
    assert len(_records("\ufeff".encode() + _wudao({"content": "文"}), InputFormat.WUDAO)) == 1


def test_json_lines_use_the_configured_field_and_line_numbers():
    data = '{"body": "第一"}\nnot json\n\n{"body": "第三"}\n'.encode()
    records = _records(data, InputFormat.JSONL, text_field="body")
    assert [r.text if isinstance(r, Document) else r.reason for r in records] == ["第一", "malformed_json", "第三"]
    assert records[1].detail.startswith("line 2")
    assert records[2].doc_id == "part-1.json#4"


def test_text_files_split_documents_on_blank_lines():
    records = _records("第一段。\n续行。\n\n  \n第二篇。\n".encode(), InputFormat.TEXT)
    assert [r.text for r in records] == ["第一段。\n续行。", "第二篇。\n"]


def test_format_detection_looks_through_compression_suffixes():
    assert InputFormat.detect("a/b.jsonl.gz") is InputFormat.JSONL
    assert InputFormat.detect("a/part-0.json") is InputFormat.WUDAO
    assert InputFormat.detect("a/notes.txt.zst") is InputFormat.TEXT
    assert gzip.decompress(gzip.compress(b"x")) == b"x"


def test_concatenated_arrays_and_trailing_garbage_are_read_or_ledgered():
    data = _wudao({"uniqueKey": "a", "content": "一"}) + b"\n" + _wudao({"uniqueKey": "b", "content": "二"}) + b" xyz"
    records = _records(data, InputFormat.WUDAO)
    assert [r.doc_id for r in records[:2]] == ["a", "b"]
    assert records[2].reason == "malformed_json" and "xyz" in records[2].detail


def test_garbage_before_any_array_is_one_ledger_line():
    [record] = _records(b"<html>not json</html>", InputFormat.WUDAO)
    assert record.reason == "malformed_json"
