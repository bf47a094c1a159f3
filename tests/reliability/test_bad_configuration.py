"""A mistake in the request is one clear line on stderr and exit code 2, never a traceback."""
import pytest

from erlangshen_data.cli import main
from tests.conftest import SAMPLE_CORPUS


@pytest.fixture
def run_cli(capsys, tmp_path):
    def run(*extra: str) -> tuple[int, str]:
        code = main(["prepare", "--output", str(tmp_path / "out"), *extra])
        return code, capsys.readouterr().err.strip()

    return run


def assert_one_line(code: int, err: str, expected: str) -> None:
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert expected in err


def test_missing_input(run_cli, tmp_path):
    assert_one_line(*run_cli("--input", str(tmp_path / "nowhere" / "*.json")), "matches no file")


def test_unreadable_vocab(run_cli, tmp_path):
    assert_one_line(*run_cli("--vocab", str(tmp_path / "missing-vocab.txt")), "cannot read vocab")


def test_vocab_without_mask_token(run_cli, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n的\n", encoding="utf-8")
    assert_one_line(*run_cli("--vocab", str(vocab)), "[MASK]")


def test_malformed_lexicon_line_names_file_and_line(run_cli, tmp_path):
    lexicon = tmp_path / "entities.tsv"
    lexicon.write_text("北京大学\torganization\n只有一列\n", encoding="utf-8")
    assert_one_line(*run_cli("--lexicon", str(lexicon)), f"{lexicon}:2")


def test_max_seq_len_too_small(run_cli):
    assert_one_line(*run_cli("--max-seq-len", "4"), "--max-seq-len")


def test_sample_corpus_is_the_default_input():
    assert list(SAMPLE_CORPUS.glob("*.json")) or pytest.skip("sample corpus not written yet")

