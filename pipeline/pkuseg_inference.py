"""pkuseg's CRF inference, vectorised over a batch of text on pkuseg's own weights.

Simple twin: `pkuseg.pkuseg(user_dict=...).cut(text)` itself (pipeline/segment_pkuseg.py builds both).
Read pkuseg's `feature_extractor.get_node_features_idx` and `_cut` first: this module computes the same
feature ids and scores, and is worth reading only when pkuseg changes. tests/pipeline/test_segment_pkuseg.py
pins the two word for word (`test_pkuseg_backend_equals_pkuseg_on_three_hundred_wudao_documents`, on
random mixed-script text, and with user words).

Why: pkuseg spends nearly all of `cut` building feature strings per character in Python and looking them
up in a dict of millions of entries (bench/README.md, "Segmentation"). Here every feature string is
turned, once per object, into integer tables (characters -> codes, packed code tuples -> feature ids or
word ids, word-id pairs -> feature ids), so a whole batch's feature ids come from a few numpy gathers and
hash-table reads. The rest is pkuseg's own: its weights, its Viterbi (`pkuseg.inference.run_viterbi`),
its user-dict pre-pass, and its dictionary post-pass (restated over word offsets), so the words are
pkuseg's, bit for bit: node scores add each character's feature weights in float64 in pkuseg's feature
order (69 slots; an absent feature adds a row of zeros, which leaves a float sum unchanged).
"""
from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from pipeline.arrays import code_points

_NUM, _LETTER, _NO_WORD = "**Num", "**Letter", "**noWord"
_LENGTHS = (6, 5, 4, 3, 2)  # pkuseg's range(wordMax, wordMin - 1, -1): the order of its word features
_BITS = 13  # bits per character code when codes are packed into one int64 key
_GROUP_CHARS = 16384  # characters per model pass (bench/README.md, "Segmentation": smaller and larger ran slower)
_CHUNK = 4096  # characters per score gather: bounds the (69, chunk, n_tag) temporary to ~11 MB
_MERGES = range(7, 1, -1)  # the post-pass merges runs of 7, then 6, ..., then 2 words
_HASH_BASE = 0x9E3779B97F4A7C15  # odd, so invertible modulo 2**64
_SLOT_MIX = 0xFF51AFD7ED558CCD  # not _HASH_BASE: span hashes are polynomials in it, and would cluster
_RUNS = np.arange(2, 8)  # the post-pass's run lengths
_HASHED_FROM = 2048  # characters per model pass from which the post-pass pre-check is vectorised
_WINDOW = 16  # slots one hash lookup reads
_STEPS = np.arange(_WINDOW)
_EMPTY = -1  # a free hash slot; no key is negative

# namespaces of the first lookup table (top bits of its keys): code pairs -> feature ids, and the
# spans of 2, 3, 4 codes starting at a character -> word ids (and, for 4, the id of a longer word's prefix)
_PAIR_PREV, _PAIR_NEXT, _PAIR_PREV2, _SPAN2, _SPAN3, _SPAN4 = range(6)
_NAMESPACES = np.array([_PAIR_PREV, _PAIR_NEXT, _PAIR_PREV2, _SPAN2, _SPAN3, _SPAN4])[:, None] << 56
_UNARY_ROWS = np.arange(5)[:, None]  # c, c-1, c1, c-2, c2


class _HashMap:
    """int64 keys -> int64 values (`default` when absent), looked up vectorised: a linear-probing
    table of (key, value) rows at load <= 1/4, sized so that no key sits 16 or more slots past its
    home. A query reads its home row (key and value share a cache line), which settles most queries;
    the rest read 16 rows. A binary search over millions of keys would cost a cache miss per level."""

    def __init__(self, pairs: dict[int, int], default: int) -> None:
        keys = np.fromiter(pairs.keys(), dtype=np.int64, count=len(pairs))
        values = np.fromiter(pairs.values(), dtype=np.int64, count=len(pairs))
        self._default = default
        self._bits = max(4, int(len(keys) * 4 - 1).bit_length())
        while not self._build(keys, values):
            self._bits += 1

    def _build(self, keys: np.ndarray, values: np.ndarray) -> bool:
        self._table = np.full((1 << self._bits) + _WINDOW, _EMPTY, dtype=np.int64).repeat(2).reshape(-1, 2)
        self._table[:, 1] = self._default
        slot = self._home(keys)
        pending = np.arange(len(keys))
        for _ in range(_WINDOW):  # a round: each free wanted slot goes to its first claimant, the rest move on
            wanted = slot[pending]
            _, first = np.unique(wanted, return_index=True)
            winner = np.zeros(len(pending), dtype=bool)
            winner[first] = True
            winner &= self._table[wanted, 0] == _EMPTY
            self._table[wanted[winner], 0] = keys[pending[winner]]
            self._table[wanted[winner], 1] = values[pending[winner]]
            pending = pending[~winner]
            slot[pending] += 1  # past the end: the spare tail rows, so a read never wraps
        return not len(pending)

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.view(np.uint64) * np.uint64(_SLOT_MIX)) >> np.uint64(64 - self._bits)).astype(np.int64)

    def __getitem__(self, query: np.ndarray) -> np.ndarray:
        slot = self._home(query)
        home = self._table[slot]
        found = np.where(home[:, 0] == query, home[:, 1], self._default)
        further = np.flatnonzero((home[:, 0] != query) & (home[:, 0] != _EMPTY))  # home taken by another key
        if len(further):
            window = self._table[slot[further, None] + _STEPS]
            hit = np.flatnonzero(window[:, :, 0] == query[further, None])  # a key is stored once
            row, step = hit >> 4, hit & 15
            found[further[row]] = window[row, step, 1]
        return found


class _SpanHasher:
    """Position-independent 64-bit hashes of spans of a text, vectorised: prefix sums of
    codepoint * base**-position, so a span's hash is sum(codepoint[u] * base**-u) modulo 2**64."""

    def __init__(self) -> None:
        self._inverse_powers = np.ones(1, dtype=np.uint64)
        self._powers = np.ones(1, dtype=np.uint64)

    def _grow(self, n: int) -> None:
        if n > len(self._powers):
            n = max(n, 2 * len(self._powers))
            inverse = pow(_HASH_BASE, -1, 1 << 64)
            self._inverse_powers = np.cumprod(np.full(n, inverse, dtype=np.uint64)) * np.uint64(_HASH_BASE)
            self._powers = np.cumprod(np.full(n, _HASH_BASE, dtype=np.uint64)) * np.uint64(inverse)

    def spans(self, codepoints: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        n = len(codepoints)
        self._grow(n + 1)
        prefix = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(codepoints * self._inverse_powers[:n], out=prefix[1:])
        return (prefix[ends] - prefix[starts]) * self._powers[starts]

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        ends = np.cumsum(lengths)
        return self.spans(code_points("".join(texts)).astype(np.uint64), ends - lengths, ends)


class PkusegInference:
    """pkuseg's default model as integer tables: `cut_many(texts)` equals
    `[pkuseg.pkuseg(user_dict=user_dict).cut(text) for text in texts]`."""

    def __init__(self, user_dict: Sequence[str] | str = "default") -> None:
        import pkuseg
        from pkuseg.config import config
        from pkuseg.inference import run_viterbi

        reference = pkuseg.pkuseg(user_dict=user_dict)  # loads the shipped default model, offline
        if (config.wordMax, config.wordMin, config.wordFeature, config.numLetterNorm) != (6, 2, True, True):
            raise RuntimeError("pkuseg's feature settings changed: pipeline/pkuseg_inference.py mirrors 6/2/on/on")
        if reference.postprocesser.common_words or not reference.postprocesser.do_process:
            raise RuntimeError("pkuseg's post-pass changed: pipeline/pkuseg_inference.py mirrors its default")
        extractor, model = reference.feature_extractor, reference.model
        self._solve = reference.preprocesser.solve
        self._has_user_words = bool(reference.preprocesser.trie.children)
        self._dictionary = reference.postprocesser.other_words
        self._hasher = _SpanHasher()
        hashes = self._hasher.texts(sorted(self._dictionary)).view(np.int64)
        self._dictionary_hashes = _HashMap(dict.fromkeys(hashes[hashes != _EMPTY].tolist(), 1), 0)
        self._run_viterbi = run_viterbi
        tags = sorted(extractor.tag_to_idx, key=extractor.tag_to_idx.get)
        self._begins = np.array(["B" in tag for tag in tags])
        self._build_tables(extractor, model)

    # --- tables ---------------------------------------------------------------------------------

    def _build_tables(self, extractor, model) -> None:
        """pkuseg's feature strings as the integer tables `_feature_ids` reads, in named phases. The
        order of the phases is the order in which characters get their codes."""
        nodes = _NodeCodes(extractor)
        word_ids, word_paths = _word_list(extractor, nodes)
        n_words = len(word_ids) + 1
        features = _sort_features(extractor, nodes, word_ids, n_words)
        if len(nodes.codes) + 1 > 1 << _BITS:
            raise RuntimeError("more pkuseg characters than the packed keys hold")
        second = _add_word_spans(features.first, word_paths)
        zero = model.n_feature  # a row of zeros appended to the weights: "no feature here"
        self._zero = zero
        self._code_of = _code_table(extractor, nodes.codes)
        n_codes = 1 << _BITS
        self._unary = np.full((5, n_codes), zero, dtype=np.int64)  # rows: c, c-1, c1, c-2, c2
        for row, table in enumerate(features.unary.values()):
            self._unary[row, list(table)] = list(table.values())
        self._first = _HashMap(features.first, -1)
        self._second = _HashMap(second, 0)
        self._word_feature = np.full((2, n_words), zero, dtype=np.int64)  # rows: w-1, w1
        for row, table in enumerate(features.word_feature.values()):
            self._word_feature[row, list(table)] = list(table.values())
        self._word_pairs = _HashMap(features.word_pairs, zero)
        self._n_words = n_words
        self._weights, self._edge = _weights_and_edges(model, zero)

    # --- inference ------------------------------------------------------------------------------

    def _feature_ids(self, padded: np.ndarray) -> np.ndarray:
        """(69, m) feature ids for the characters in padded[6:-6], in the order pkuseg's
        `get_node_features_idx` appends them (`self._zero` where it appends nothing). `padded`
        holds the fragments' codes with two 0 codes between fragments and six at either end: no
        feature or word holds code 0, so every look beyond a fragment finds nothing, as in pkuseg."""
        m = len(padded) - 12

        def at(offset: int) -> np.ndarray:  # the codes `offset` characters away, as a view
            return padded[6 + offset:6 + offset + m]

        prev2, prev, here, next1, next2 = at(-2), at(-1), at(0), at(1), at(2)
        keys = np.empty((6, m), dtype=np.int64)
        keys[0] = prev << _BITS | here
        keys[1] = here << _BITS | next1
        keys[2] = prev2 << _BITS | prev
        keys[3] = here | next1 << _BITS  # the spans of 2, 3, 4 characters starting here (`_pack` order)
        keys[4] = keys[3] | next2 << 2 * _BITS
        keys[5] = keys[4] | at(3) << 3 * _BITS
        keys |= _NAMESPACES
        first = self._first[keys.ravel()].reshape(6, m)
        spans = np.zeros((5, m + 12), dtype=np.int64)  # spans[row, 6 + j]: word id, length _LENGTHS[row], at j
        found = np.maximum(first[3:], 0)
        spans[4:1:-1, 6:6 + m] = found
        spans[2, 6:6 + m] &= 0xFFFFF
        long = np.flatnonzero(found[2] >> 20)
        if len(long):
            base = (found[2, long] >> 20) << 30 | at(4)[long]
            longer = self._second[np.concatenate([base | 5 << 26, base | 6 << 26 | at(5)[long] << _BITS])]
            spans[1, 6 + long], spans[0, 6 + long] = longer[:len(long)], longer[len(long):]

        rows = np.empty((69, m), dtype=np.int64)
        rows[0] = 0  # "$$"
        rows[[1, 2, 4, 6, 8]] = self._unary[_UNARY_ROWS, np.stack([here, prev, next1, prev2, next2])]
        rows[[3, 5, 7]] = np.where(first[:3] < 0, self._zero, first[:3])  # c-1c, cc1, c-2c-1
        prefix_in = np.stack([spans[r, 7 - length:7 - length + m] for r, length in enumerate(_LENGTHS)])
        prefix_ex = np.stack([spans[r, 6 - length:6 - length + m] for r, length in enumerate(_LENGTHS)])
        suffix_in, suffix_ex = spans[:, 6:6 + m], spans[:, 7:7 + m]
        rows[9:14] = self._word_feature[0, prefix_in]
        rows[14:19] = self._word_feature[1, suffix_in]
        n_words = self._n_words
        pair_keys = np.concatenate([
            prefix_ex[:, None, :] * n_words + suffix_in[None, :, :],
            prefix_in[:, None, :] * n_words + suffix_ex[None, :, :] | 1 << 40,
        ]).reshape(50, m)
        both = np.concatenate([
            (prefix_ex[:, None, :] != 0) & (suffix_in[None, :, :] != 0),
            (prefix_in[:, None, :] != 0) & (suffix_ex[None, :, :] != 0),
        ]).reshape(50, m)
        ww = rows[19:]
        ww.fill(self._zero)
        ww[both] = self._word_pairs[pair_keys[both]]
        return rows

    def _node_scores(self, ids: np.ndarray) -> np.ndarray:
        """Per character, its features' weights added one by one in order, as pkuseg's getLogYY
        does (numpy reduces a leading axis row by row, not pairwise)."""
        n = ids.shape[1]
        scores = np.empty((n, self._weights.shape[1]), dtype=np.float64)
        for begin in range(0, n, _CHUNK):
            chunk = ids[:, begin:begin + _CHUNK]
            chunk = chunk[(chunk != self._zero).any(axis=1)]  # skipping all-zero rows leaves the sums as they are
            scores[begin:begin + _CHUNK] = np.take(self._weights, chunk, axis=0).sum(axis=0)
        return scores

    def _cut_in_groups(self, fragments: list[str]) -> list[list[str]]:
        """`_cut_fragments` on groups of about `_GROUP_CHARS` characters: larger groups spill the
        (69, characters) intermediates out of the caches and run slower, not faster."""
        out: list[list[str]] = []
        group: list[str] = []
        size = 0
        for fragment in fragments:
            group.append(fragment)
            size += len(fragment)
            if size >= _GROUP_CHARS:
                out.extend(self._cut_fragments(group))
                group, size = [], 0
        out.extend(self._cut_fragments(group))
        return out

    def _cut_fragments(self, fragments: list[str]) -> list[list[str]]:
        """pkuseg's `_cut`, then its post-pass, of each fragment (no whitespace, no user word)."""
        if not fragments:
            return []
        padded = self._code_of[code_points("\0" * 6 + "\0\0".join(fragments) + "\0" * 6)]
        lengths = np.fromiter(map(len, fragments), dtype=np.int64, count=len(fragments))
        ends = np.cumsum(lengths)
        starts = ends - lengths
        scores = self._node_scores(self._feature_ids(padded))
        run_viterbi, edge = self._run_viterbi, self._edge
        tags = [run_viterbi(scores[a:a + n], edge)[1] for a, n in zip((starts + 2 * np.arange(len(fragments))).tolist(), lengths.tolist())]
        word_start = self._begins[np.concatenate(tags)]
        word_start[starts] = True
        cuts = np.append(np.flatnonzero(word_start), ends[-1])
        text = "".join(fragments)
        cut_list = cuts.tolist()
        words = [text[a:b] for a, b in pairwise(cut_list)]
        bounds = np.append(np.searchsorted(cuts, starts), len(words)).tolist()
        out = [words[a:b] for a, b in pairwise(bounds)]
        if len(text) >= _HASHED_FROM:
            suspects = self._merge_suspects(text, cuts, np.searchsorted(cuts, starts))
        else:
            suspects = dict.fromkeys(range(len(fragments)))
        for fragment, candidates in suspects.items():
            merged = self._post_process(text, cut_list[bounds[fragment]:bounds[fragment + 1] + 1], candidates)
            if merged is not None:
                out[fragment] = merged
        return out

    def _merge_suspects(self, text: str, cuts: np.ndarray, first_word: np.ndarray) -> dict[int, dict[int, list[int]]]:
        """fragment -> run length -> where (word index in the fragment) `run` consecutive words may
        join into a post-pass dictionary word, by 64-bit span hashes in one vectorised pass: a
        superset of where they do (a collision costs time only)."""
        n_words = len(cuts) - 1
        words_per_fragment = np.diff(np.append(first_word, n_words))
        fragment_end = np.repeat(np.append(first_word[1:], n_words), words_per_fragment)
        first, run = np.nonzero(np.arange(n_words)[:, None] + _RUNS <= fragment_end[:, None])
        run = _RUNS[run]
        hashes = self._hasher.spans(code_points(text).astype(np.uint64), cuts[first], cuts[first + run]).view(np.int64)
        suspect = (self._dictionary_hashes[hashes] == 1) | (hashes == _EMPTY)  # _EMPTY is never stored
        first, run = first[suspect], run[suspect]
        fragment = np.searchsorted(first_word, first, side="right") - 1
        found: dict[int, dict[int, list[int]]] = {}
        for f, r, at in zip(fragment.tolist(), run.tolist(), (first - first_word[fragment]).tolist()):
            found.setdefault(f, {}).setdefault(r, []).append(at)  # ascending within a run
        return found

    def _post_process(self, text: str, cuts: list[int], candidates: dict[int, list[int]] | None) -> list[str] | None:
        """pkuseg's `Postprocesser.post_process(words, check_seperated=True)` with its default
        dictionary, restated on word offsets into `text` (None: it leaves the words as they are).
        For run lengths 7..2, left to right, a run of words whose join is in the dictionary becomes
        one word unless every word of the run is in it too; the scan goes on after the merged word,
        so the runs met in one pass are the runs as they stood when the pass began. `candidates`
        (run -> word indices, or None: unknown) hold every run of the model's own words that may
        join into a dictionary word, which is all that can merge until a first merge."""
        dictionary = self._dictionary
        if candidates is None and dictionary.isdisjoint(
            [text[a:b] for run in _MERGES for a, b in zip(cuts, cuts[run:])]
        ):
            return None  # the common case, settled in one C-level pass
        changed = False
        for run in _MERGES:
            if candidates is not None and not changed:
                starts: Sequence[int] = candidates.get(run, ())
            else:
                joined = [text[a:b] for a, b in zip(cuts, cuts[run:])]
                if dictionary.isdisjoint(joined):
                    continue
                starts = range(len(joined))
            merged, after = [], 0
            for i in starts:
                if i >= after and text[cuts[i]:cuts[i + run]] in dictionary and not all(
                    text[cuts[k]:cuts[k + 1]] in dictionary for k in range(i, i + run)
                ):
                    merged.append(i)
                    after = i + run  # pkuseg goes on with the word after the merged one
            for i in reversed(merged):
                del cuts[i + 1:i + run]
            changed = changed or bool(merged)
        return [text[a:b] for a, b in pairwise(cuts)] if changed else None

    def cut_many(self, texts: Sequence[str]) -> list[list[str]]:
        """`pkuseg.cut(text)` for each text, computed as one batch."""
        plans: list[list[tuple[bool, str]]] = []  # per text: (is a user word, piece)
        fragments: list[str] = []
        for text in texts:
            plan: list[tuple[bool, str]] = []
            for piece in text.split():  # pkuseg strips, then splits on whitespace
                if self._has_user_words:
                    parts, is_user_word, _ = self._solve(piece)
                    plan.extend(zip(is_user_word, parts))
                else:
                    plan.append((False, piece))
            fragments.extend(part for is_user_word, part in plan if not is_user_word)
            plans.append(plan)
        cut = iter(self._cut_in_groups(fragments))
        results = []
        for plan in plans:
            words: list[str] = []
            for is_user_word, piece in plan:
                if is_user_word:
                    words.append(piece)
                else:
                    words.extend(next(cut))
            results.append(words)
        return results


def _pack(codes: Sequence[int]) -> int:
    """Character codes as one integer, the first in the lowest bits, as `_pack_rows` packs them."""
    return sum(code << _BITS * i for i, code in enumerate(codes))


def _pack_rows(rows: np.ndarray) -> np.ndarray:
    packed = np.zeros(rows.shape[1], dtype=np.int64)
    for i, row in enumerate(rows):
        packed |= row << _BITS * i
    return packed


class _NodeCodes:
    """Integer codes of pkuseg's nodes (single characters, "**Num", "**Letter"), given in the order they
    are first asked for; 0 is outside a fragment, or a character nothing mentions."""

    def __init__(self, extractor) -> None:
        self.codes: dict[str, int] = {_NUM: 1, _LETTER: 2}
        self._impossible = set(extractor.keywords) | extractor.num | extractor.letter

    def code(self, node: str) -> int | None:
        if node not in self.codes:
            if len(node) != 1 or node in self._impossible:
                return None  # pkuseg never produces this node: what mentions it never matches
            self.codes[node] = len(self.codes) + 1
        return self.codes[node]

    def word(self, word: str) -> tuple[int, ...] | None:
        """The word as node codes, "**Num" and "**Letter" read as one node each."""
        nodes, at = [], 0
        while at < len(word):
            token = next((t for t in (_NUM, _LETTER) if word.startswith(t, at)), word[at])
            code = self.code(token)
            if code is None:
                return None
            nodes.append(code)
            at += len(token)
        return tuple(nodes)


def _word_list(extractor, nodes: _NodeCodes) -> tuple[dict[str, int], list[tuple[int, ...]]]:
    """pkuseg's word list as node sequences of 2..6 nodes (the only lengths it looks up): word -> id
    (from 1; 0 is "**noWord") and each id's nodes."""
    word_ids: dict[str, int] = {}
    word_paths: list[tuple[int, ...]] = []
    for word in sorted(extractor.unigram):
        path = nodes.word(word)
        if path is not None and 2 <= len(path) <= 6:
            word_ids[word] = len(word_ids) + 1
            word_paths.append(path)
    return word_ids, word_paths


class _Features(NamedTuple):
    """pkuseg's features by kind, keyed by integers: unary (c, c-1, c1, c-2, c2: node code -> feature
    id), `first` (namespaced packed code pairs -> feature id; the word spans join it later), the word
    features (w-1, w1: word id -> feature id) and the word-pair features (packed id pair -> feature id)."""

    unary: dict[str, dict[int, int]]
    first: dict[int, int]
    word_feature: dict[str, dict[int, int]]
    word_pairs: dict[int, int]


def _sort_features(extractor, nodes: _NodeCodes, word_ids: dict[str, int], n_words: int) -> _Features:
    """Every feature string of pkuseg's model into its table, by the kind its head names."""
    features = _Features({name: {} for name in ("c", "c-1", "c1", "c-2", "c2")}, {}, {"w-1": {}, "w1": {}}, {})
    pair_namespace = {"c-1c": _PAIR_PREV, "cc1": _PAIR_NEXT, "c-2c-1": _PAIR_PREV2}
    for feature, index in extractor.feature_to_idx.items():
        head, _, rest = feature.partition(".")
        if head in features.unary:
            code = nodes.code(rest)
            if code is not None:
                features.unary[head][code] = index
        elif head in pair_namespace:
            left, *right = rest.split(".")  # nodes never hold "." (pkuseg renames it to "&")
            if len(right) == 1:
                left_code, right_code = nodes.code(left), nodes.code(right[0])
                if left_code is not None and right_code is not None:
                    features.first[pair_namespace[head] << 56 | left_code << _BITS | right_code] = index
        elif head in features.word_feature:
            if rest in word_ids:
                features.word_feature[head][word_ids[rest]] = index
        elif head == "ww":
            side, rest = rest[0], rest[2:]
            for split in (at for at, char in enumerate(rest) if char == "*"):
                pre, post = rest[:split], rest[split + 1:]
                pre_id = 0 if pre == _NO_WORD else word_ids.get(pre)
                post_id = 0 if post == _NO_WORD else word_ids.get(post)
                if pre_id and post_id:  # pkuseg's model has no feature with "**noWord" in it
                    features.word_pairs[(side == "r") << 40 | pre_id * n_words + post_id] = index
                elif pre_id is not None and post_id is not None:
                    raise RuntimeError(f"pkuseg feature with **noWord: {feature!r}")
        elif feature != "$$":
            raise RuntimeError(f"pkuseg feature of an unknown kind: {feature!r}")
    return features


def _add_word_spans(first: dict[int, int], word_paths: list[tuple[int, ...]]) -> dict[int, int]:
    """Words as span keys: spans of 2..4 nodes are looked up whole in `first` (added here); longer ones
    by their 4-node prefix's id, which `first` holds in the high bits, and the rest of the word in the
    returned second table."""
    long_prefix: dict[tuple[int, ...], int] = {}
    second: dict[int, int] = {}
    for word_id, path in enumerate(word_paths, start=1):
        if len(path) > 4:
            prefix_id = long_prefix.setdefault(path[:4], len(long_prefix) + 1)
            key = _pack(path[:4])
            first[_SPAN4 << 56 | key] = first.get(_SPAN4 << 56 | key, 0) & 0xFFFFF | prefix_id << 20
            second[prefix_id << 30 | len(path) << 26 | _pack(path[4:])] = word_id
    for word_id, path in enumerate(word_paths, start=1):
        if len(path) <= 4:
            key = (_SPAN2, _SPAN3, _SPAN4)[len(path) - 2] << 56 | _pack(path)
            first[key] = first.get(key, 0) | word_id
    return second


def _code_table(extractor, codes: dict[str, int]) -> np.ndarray:
    """Code point -> node code, as pkuseg normalises characters (digits, letters, keywords)."""
    code_of = np.zeros(0x110000, dtype=np.int64)
    for node, code in codes.items():
        if len(node) == 1:
            code_of[ord(node)] = code
    code_of[[ord(c) for c in extractor.num]] = codes[_NUM]
    code_of[[ord(c) for c in extractor.letter]] = codes[_LETTER]
    code_of[[ord(c) for c in extractor.keywords]] = codes.get("&", 0)  # keyword_rename: -._,|/*: -> &
    return code_of


def _weights_and_edges(model, zero: int) -> tuple[np.ndarray, np.ndarray]:
    """pkuseg's node weights with a zero row at `zero` appended, and its edge scores as getLogYY
    builds them."""
    n_tag = model.n_tag
    weights = np.zeros((zero + 1, n_tag), dtype=np.float64)
    weights[:zero] = model.w[: zero * n_tag].reshape(zero, n_tag)
    edge = np.ones((n_tag, n_tag), dtype=np.float64)  # pkuseg's getLogYY starts edges at 1.0
    for s in range(n_tag):
        for s_pre in range(n_tag):
            edge[s_pre, s] += model.w[zero * n_tag + s * n_tag + s_pre]
    return weights, edge
