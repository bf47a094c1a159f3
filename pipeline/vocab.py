"""BERT vocabularies: load a user's `vocab.txt`, or build the default one with no download.

The default vocab follows bert-base-chinese's layout ([PAD], [unused1..99], [UNK], [CLS], [SEP],
[MASK], then single characters, then `##` continuations) so any BERT tokenizer reads it. Its Han
characters are those of the dictionary that jieba ships, ranked by summed word frequency: a fixed,
corpus-independent list, so two runs on different corpora share one vocabulary.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from schemas.errors import UserInputError
from schemas.manifest import SpecialTokens
from schemas.shard import MAX_VOCAB_SIZE

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
DEFAULT_VOCAB_HAN_CHARS = 12_000


@dataclass(frozen=True)
class Vocab:
    tokens: tuple[str, ...]
    sha256: str

    @cached_property
    def token_to_id(self) -> dict[str, int]:
        """Built on first use and kept: callers ask for `special_tokens` once per batch."""
        return {token: i for i, token in enumerate(self.tokens)}

    @property
    def special_tokens(self) -> SpecialTokens:
        index = self.token_to_id
        return SpecialTokens(*(index[name] for name in SPECIALS))

    def to_text(self) -> str:
        """The canonical file: LF line ends, one final newline (what `sha256` hashes)."""
        return "".join(f"{token}\n" for token in self.tokens)


def parse_vocab(text: str, origin: str) -> Vocab:
    """CRLF line ends and a missing final newline are accepted; `sha256` is that of `to_text()`, the
    canonical form every output holds, so a manifest hashes the bytes it ships.

    A repeated token takes the id of its last line, as in Google's and Hugging Face's BERT loaders:
    bert-base-chinese's own vocab repeats 53 tokens (`##0`...), so repeats as such must load. A
    repeated special token is refused, with both line numbers: it would move `[CLS]` or `[MASK]` to
    another id than the model was trained with."""
    tokens = tuple(line.rstrip("\r") for line in text.split("\n"))
    if tokens and tokens[-1] == "":
        tokens = tokens[:-1]
    special_line: dict[str, int] = {}
    for number, token in enumerate(tokens, start=1):
        if token in SPECIALS or token.startswith("[unused"):
            if token in special_line:
                raise UserInputError(f"vocab {origin}:{number}: special token {token} repeats line "
                                     f"{special_line[token]}")
            special_line[token] = number
    missing = [name for name in SPECIALS if name not in special_line]
    if missing:
        raise UserInputError(f"vocab {origin} lacks the special tokens {', '.join(missing)}")
    if len(tokens) > MAX_VOCAB_SIZE:
        raise UserInputError(f"vocab {origin} has {len(tokens)} entries; shards store ids as uint16")
    canonical = "".join(f"{token}\n" for token in tokens)
    return Vocab(tokens=tokens, sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest())


def load_vocab(path: str | Path) -> Vocab:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"cannot read vocab {path}: {error}") from error
    return parse_vocab(text, str(path))


def build_default_vocab(han_chars: int = DEFAULT_VOCAB_HAN_CHARS) -> Vocab:
    import jieba

    frequency: dict[str, int] = {}
    dictionary = Path(jieba.__file__).with_name("dict.txt")
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        word, freq = line.split(" ")[:2]
        for char in word:
            if "\u4e00" <= char <= "\u9fff":
                frequency[char] = frequency.get(char, 0) + int(freq)
    ranked = sorted(frequency, key=lambda c: (-frequency[c], c))[:han_chars]
    ascii_symbols = [chr(c) for c in range(0x21, 0x7F) if not chr(c).isupper()]
    cjk_punctuation = list("，。！？；：、“”‘’（）《》〈〉【】「」『』〔〕…—～·￥％＃＠＆＊＋－／＝＜＞｜")
    continuations = [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    tokens = (
        ["[PAD]"] + [f"[unused{i}]" for i in range(1, 100)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        + ascii_symbols + cjk_punctuation + ranked + continuations
    )
    return parse_vocab("".join(f"{t}\n" for t in dict.fromkeys(tokens)), "default")
