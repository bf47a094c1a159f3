"""An adversarial corpus: hand-written nasty files plus hypothesis-drawn records.

Each builder writes files into a directory and returns how many records a reader must account for,
so a test can check `read == kept + rejected` against an independent count.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from hypothesis import strategies as st

SAMPLE_CORPUS = Path(__file__).resolve().parents[2] / "pipeline" / "sample_corpus"


def real_texts(category: str = "学术") -> list[str]:
    """Distinct, clean documents (the academic abstracts of the embedded sample corpus): synthetic
    repetitions would rightly be rejected by the quality filters and the near-duplicate detector."""
    records = [r for p in sorted(SAMPLE_CORPUS.glob("part-00[0-2].json"))
               for r in json.loads(p.read_text(encoding="utf-8"))]
    return [r["content"] for r in records if r.get("dataType") == category and isinstance(r.get("content"), str)]


TEXTS = real_texts()
GOOD = TEXTS[0]
KEPT_IDS = {"good0", "good1", "good2", "good3", "good4", "t1", "c1", "c2", "bom", "u2", "nul", "long_line", "dense"}


def _record(key: str, content) -> dict:
    return {"id": 0, "uniqueKey": key, "titleUkey": key, "dataType": "新闻", "title": "", "content": content}


def _dump(records: list) -> bytes:
    return json.dumps(records, ensure_ascii=False).encode("utf-8")


def write_hand_written_cases(directory: Path) -> int:
    """Returns the number of records the files hold (each broken element counts as one)."""
    files: dict[str, tuple[bytes, int]] = {}
    files["good.json"] = (_dump([_record(f"good{i}", TEXTS[i]) for i in range(5)]), 5)
    whole = _dump([_record("t1", TEXTS[5]), _record("t2", TEXTS[6])])
    files["truncated.json"] = (whole[: len(whole) - 30], 2)
    files["concatenated.json"] = (_dump([_record("c1", TEXTS[7])]) + _dump([_record("c2", TEXTS[8])]), 2)
    files["wrong_types.json"] = (_dump([7, None, "text", [1, 2], _record("n1", None), _record("n2", 3.5),
                                        _record("n3", {"nested": GOOD}), {"uniqueKey": "n4"}]), 8)
    files["bom.json"] = ("\ufeff".encode() + _dump([_record("bom", TEXTS[9])]), 1)
    files["invalid_utf8.json"] = (b'[{"uniqueKey": "u1", "content": "\xff\xfe\xe4\xb8"}, '
                                  + _dump([_record("u2", TEXTS[10])])[1:], 2)
    files["surrogate.json"] = (b'[{"uniqueKey": "s1", "content": "bad \\ud800 half"}]', 1)
    files["nul.json"] = (_dump([_record("nul", TEXTS[11].replace("。", "\x00。"))]), 1)
    files["tiny.json"] = (_dump([_record("one", "中"), _record("empty", "")]), 2)
    files["empty.json"] = (b"", 0)
    files["empty_array.json"] = (b"[]", 0)
    files["no_punctuation.json"] = (_dump([_record("long_line", _without_punctuation(TEXTS[12:14])[:390])]), 1)
    files["scripts.json"] = (_dump([
        _record("emoji", TEXTS[16].replace("。", "😀。").replace("，", "🎉，")),
        _record("korean", "안녕하세요 반갑습니다 오늘 날씨가 좋네요 " * 5),
        _record("japanese", "こんにちは、今日はいい天気ですね。東京へ行きましょう。" * 3),
        _record("arabic", "مرحبا بالعالم هذا نص عربي طويل " * 5),
        _record("mixed", "北京时间2021年，NBA球星姚明在上海说：“Hello 世界！”그리고 東京。" * 2),
    ]), 5)
    files["entity_dense.json"] = (_dump([_record("dense", _entity_dense_text())]), 1)
    news = real_texts("新闻")
    whole_gz = gzip.compress(_dump([_record(f"gz{i}", news[i % len(news)]) for i in range(50)]))
    files["cut.json.gz"] = (whole_gz[: len(whole_gz) // 2], None)  # records before the cut + the cut
    files["notes.jsonl"] = ((json.dumps({"text": GOOD}) + '\n{broken\n\n{"text": 5}\n').encode(), 3)
    files["plain.txt"] = ((GOOD + "\n\n" + GOOD + "再来一段。\n").encode(), 2)
    total = 0
    for name, (data, count) in files.items():
        (directory / name).write_bytes(data)
        total += count if count is not None else _gzip_prefix_records(data)
    return total


def _without_punctuation(texts: list[str]) -> str:
    return "".join(c for t in texts for c in t if "\u4e00" <= c <= "\u9fff" or c.isalnum())


def _entity_dense_text() -> str:
    from knowledge.lexicon import load_lexicons

    lexicon = load_lexicons([])
    place = lexicon.types.index("place")
    places = [w for w, t in sorted(lexicon.entries.items()) if t == place and len(w) == 2][:240]
    return "".join("、".join(places[i : i + 8]) + "都是地名。" for i in range(0, len(places), 8))


def _gzip_prefix_records(data: bytes) -> int:
    """What the reader can recover from a truncated gzip: the complete records, the cut one, the break."""
    import zlib

    text = zlib.decompressobj(wbits=31).decompress(data).decode("utf-8", "replace")
    return text.count('"uniqueKey"') + 1


@st.composite
def hostile_record(draw) -> object:
    text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300)
    json_value = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=5,
    )
    content = draw(st.one_of(text.map(lambda t: GOOD + t), text, json_value))
    return _record(draw(st.text(min_size=1, max_size=40)), content)


def write_hypothesis_corpus(directory: Path, records: list) -> int:
    (directory / "drawn.json").write_bytes(_dump(records))
    return len(records)
