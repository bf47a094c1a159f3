"""`BertChineseTokenizer.encode` against `transformers.BertTokenizer` on every Unicode scalar value.

Each check lays all its pieces of text in one string, as `BatchAnnotator.annotate` joins a batch's
documents, and gives it to `encode` in one call; the reference gets the same string in a few chunks,
which `tokenizers` encodes in parallel. Each token goes back to its piece by its first character's
offset, so a failure names the code points whose ids differ.
"""
import unicodedata

import numpy as np
import pytest

from pipeline.clean import normalize_text, normalize_unicode
from pipeline.tokenize import BertChineseTokenizer
from pipeline.vocab import load_vocab

SCALARS = [chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000]
REFERENCE_CHUNKS = 8


@pytest.fixture(scope="module")
def tokenizers(bert_vocab_path):
    from transformers import BertTokenizer

    return BertChineseTokenizer(load_vocab(bert_vocab_path)), BertTokenizer(str(bert_vocab_path))


def differing(tokenizers, pieces: list[str], separator: str = "\n", closing: str = "") -> list[str]:
    """The pieces whose tokens differ, tokenized as `separator.join(pieces) + closing`; the closing text
    belongs to the last piece (ideographs close a chain of them)."""
    ours, reference = tokenizers
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces)) + len(separator)
    starts = np.cumsum(lengths) - lengths
    ids, first_chars = ours.encode(separator.join(pieces) + closing)
    bounds = np.linspace(0, len(pieces), REFERENCE_CHUNKS + 1).astype(int).tolist()
    chunks = [separator.join(pieces[lo:hi]) + closing for lo, hi in zip(bounds, bounds[1:])]
    encoded = reference(chunks, add_special_tokens=False, return_offsets_mapping=True)
    reference_ids, reference_chars = [], []
    for k, (chunk, lo) in enumerate(zip(chunks, bounds)):
        chars = np.asarray(encoded["offset_mapping"][k], dtype=np.int64).reshape(-1, 2)[:, 0]
        inside = chars < len(chunk) - (len(closing) if k < len(chunks) - 1 else 0)  # not a chunk's own closing
        reference_ids.append(np.asarray(encoded["input_ids"][k], dtype=np.int64)[inside])
        reference_chars.append(chars[inside] + starts[lo])
    ours_piece = np.searchsorted(starts, first_chars, side="right") - 1
    reference_piece = np.searchsorted(starts, np.concatenate(reference_chars), side="right") - 1
    reference_ids = np.concatenate(reference_ids)
    if np.array_equal(ours_piece, reference_piece) and np.array_equal(ids, reference_ids):
        return []
    ours_tokens = _tokens_by_piece(ours_piece, ids, len(pieces))
    reference_tokens = _tokens_by_piece(reference_piece, reference_ids, len(pieces))
    return [
        f"{pieces[i]!r} ({', '.join(map(_named, pieces[i]))}): ours {reference.convert_ids_to_tokens(ours_tokens[i])}, "
        f"BertTokenizer {reference.convert_ids_to_tokens(reference_tokens[i])}"
        for i in range(len(pieces)) if ours_tokens[i] != reference_tokens[i]
    ]


def _named(char: str) -> str:
    return f"U+{ord(char):04X} {unicodedata.name(char, unicodedata.category(char))}"


def _tokens_by_piece(piece: np.ndarray, ids: np.ndarray, count: int) -> list[list[int]]:
    return [part.tolist() for part in np.split(ids, np.searchsorted(piece, np.arange(1, count)))]


def test_every_scalar_value_alone_gets_berts_ids(tokenizers):
    assert differing(tokenizers, SCALARS)[:20] == []


def test_every_scalar_value_between_two_ascii_letters_gets_berts_ids(tokenizers):
    assert differing(tokenizers, [f"a{char}b" for char in SCALARS])[:20] == []


def test_every_scalar_value_between_two_digits_gets_berts_ids(tokenizers):
    assert differing(tokenizers, [f"1{char}2" for char in SCALARS])[:20] == []


def test_every_scalar_value_between_two_ideographs_gets_berts_ids(tokenizers):
    # A chain, 中 x 中 y 中 ...: an ideograph always stands alone, so each character sits between two.
    assert differing(tokenizers, [f"中{char}" for char in SCALARS], separator="", closing="中")[:20] == []


def test_full_width_and_compatibility_forms_as_the_cleaner_leaves_them_get_berts_ids(tokenizers):
    # Every character NFKC changes (full-width letters and digits, ligatures, circled numbers,
    # compatibility ideographs...), as the cleaner's whole normalisation leaves it, alone and in the
    # three neighbourhoods above.
    forms = [normalize_text(char) for char in SCALARS if normalize_unicode(char) != char]
    assert len(forms) > 4000 and "Ａ" not in forms and "A" in forms
    for template in ("{}", "a{}b", "1{}2", "中{}国"):
        assert differing(tokenizers, [template.format(form) for form in forms])[:20] == [], template
