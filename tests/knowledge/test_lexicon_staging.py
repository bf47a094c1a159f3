"""The driver hands its parsed lexicon to the workers as plain data: the same lexicon comes back, and
reading it runs no code (a pickle swapped into the output's staging area would)."""
from __future__ import annotations

import pickle

import pytest

from knowledge.lexicon import Lexicon, SurfaceTable


def test_a_lexicon_round_trips_through_its_bytes():
    lexicon = Lexicon(("person", "place"), SurfaceTable.of({"北京": 1, "孔子": 0, "上海市": 1, "ÅB": 0}),
                      {"malformed_lines": 2})
    back = Lexicon.from_bytes(lexicon.to_bytes())
    assert back.types == lexicon.types and back.counts == lexicon.counts
    assert list(back.entries.items()) == list(lexicon.entries.items())
    assert "孔子" in back.entries and back.entries["上海市"] == 1


def test_an_empty_lexicon_round_trips():
    back = Lexicon.from_bytes(Lexicon(("person",), {}).to_bytes())
    assert len(back) == 0 and back.types == ("person",)


def test_a_pickle_in_its_place_is_refused_not_run():
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle ran')",))

    with pytest.raises(Exception) as caught:
        Lexicon.from_bytes(pickle.dumps(Boom()))
    assert not isinstance(caught.value, SystemExit)
