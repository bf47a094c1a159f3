"""An adversarial corpus: hand-written nasty files plus hypothesis-drawn records.

Each builder writes files into a directory and returns how many records a reader must account for,
so a test can check `read == kept + rejected` against an independent count.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from hypothesis import strategies as st

GOOD = "北京大学的研究人员在上海市召开会议。会议讨论了长江流域的生态保护问题！专家们提出了很多建议；大家都很满意。"


def _record(key: str, content) -> dict:
    return {"id": 0, "uniqueKey": key, "titleUkey": key, "dataType": "新闻", "title": "", "content": content}


def _dump(records: list) -> bytes:
    return json.dumps(records, ensure_ascii=False).encode("utf-8")


def write_hand_written_cases(directory: Path) -> int:
    """Returns the number of records the files hold (each broken element counts as one)."""
    files: dict[str, tuple[bytes, int]] = {}
    files["good.json"] = (_dump([_record(f"good{i}", GOOD + str(i)) for i in range(5)]), 5)
    whole = _dump([_record("t1", GOOD), _record("t2", GOOD + "二")])
    files["truncated.json"] = (whole[: len(whole) - 30], 2)
    files["concatenated.json"] = (_dump([_record("c1", GOOD + "甲")]) + _dump([_record("c2", GOOD + "乙")]), 2)
    files["wrong_types.json"] = (_dump([7, None, "text", [1, 2], _record("n1", None), _record("n2", 3.5),
                                        _record("n3", {"nested": GOOD}), {"uniqueKey": "n4"}]), 8)
    files["bom.json"] = ("\ufeff".encode() + _dump([_record("bom", GOOD + "丙")]), 1)
    files["invalid_utf8.json"] = (b'[{"uniqueKey": "u1", "content": "\xff\xfe\xe4\xb8"}, '
                                  + _dump([_record("u2", GOOD + "丁")])[1:], 2)
    files["surrogate.json"] = (b'[{"uniqueKey": "s1", "content": "bad \\ud800 half"}]', 1)
    files["nul.json"] = (_dump([_record("nul", GOOD.replace("。", "\x00。"))]), 1)
    files["tiny.json"] = (_dump([_record("one", "中"), _record("empty", "")]), 2)
    files["empty.json"] = (b"", 0)
    files["empty_array.json"] = (b"[]", 0)
    files["no_punctuation.json"] = (_dump([_record("long_line", "的一是在不了有和人这中大为上个国" * 700)]), 1)
    files["scripts.json"] = (_dump([
        _record("emoji", "今天天气真好😀😀，我们去公园玩吧🎉！大家都很开心。" * 3),
        _record("korean", "안녕하세요 반갑습니다 오늘 날씨가 좋네요 " * 5),
        _record("japanese", "こんにちは、今日はいい天気ですね。東京へ行きましょう。" * 3),
        _record("arabic", "مرحبا بالعالم هذا نص عربي طويل " * 5),
        _record("mixed", "北京时间2021年，NBA球星姚明在上海说：“Hello 世界！”그리고 東京。" * 2),
    ]), 5)
    files["entity_dense.json"] = (_dump([_record("dense", "北京上海广州深圳天津重庆杭州南京武汉成都" * 20 + "。")]), 1)
    whole_gz = gzip.compress(_dump([_record(f"gz{i}", GOOD + str(i) * 20) for i in range(50)]))
    files["cut.json.gz"] = (whole_gz[: len(whole_gz) // 2], None)  # records before the cut + the cut
    files["notes.jsonl"] = (('{"text": "' + GOOD + '"}\n{broken\n\n{"text": 5}\n').encode(), 3)
    files["plain.txt"] = ((GOOD + "\n\n" + GOOD + "再来一段。\n").encode(), 2)
    total = 0
    for name, (data, count) in files.items():
        (directory / name).write_bytes(data)
        total += count if count is not None else _gzip_prefix_records(data)
    return total


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
