"""P/R/F1 count words by both ends, over the text without whitespace, as the SIGHAN scorer does."""
from __future__ import annotations

import pytest

from pipeline.segment_eval import evaluate, parse_gold, score


def test_perfect_segmentation_scores_one():
    gold = parse_gold("扬帆  远东  做\n希腊  的  经济\n")
    result = evaluate(gold, lambda text: [w for line in gold for w in line if "".join(line) == text])
    assert (result.precision, result.recall, result.f1) == (1.0, 1.0, 1.0)


def test_merged_and_split_words_cost_precision_and_recall():
    result = score([["中国", "合作", "的"]], [["中", "国", "合作的"]])
    assert (result.gold_words, result.predicted_words, result.correct_words) == (3, 3, 0)
    result = score([["中国", "合作", "的"]], [["中国", "合作", "的", " "]])
    assert result.f1 == 1.0  # whitespace handed back by a segmenter is no word


def test_prediction_that_loses_characters_is_refused():
    with pytest.raises(ValueError, match="does not cover"):
        score([["中国", "合作"]], [["中国"]])
