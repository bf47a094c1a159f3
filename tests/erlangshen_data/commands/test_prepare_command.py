"""`prepare --validate`, `--overwrite` and `--shard-rows` through the CLI, on the embedded sample corpus."""
from erlangshen_data.cli import main


def test_prepare_with_validate_passes_on_the_sample_and_overwrite_clears_old_results(tmp_path, capsys):
    output = tmp_path / "validated"
    assert main(["prepare", "--output", str(output), "--validate"]) == 0
    assert "local runner: 1 worker(s), the default for 0." in capsys.readouterr().out  # the sample is too small
    assert (output / "gx").is_dir()
    stale = output / "gx" / "stale-marker"
    stale.write_text("from an earlier run")
    assert main(["prepare", "--output", str(output), "--workers", "1", "--overwrite"]) == 0
    assert not stale.exists()


def test_ledger_text_keeps_rejected_documents_for_audits(tmp_path):
    import json

    def ledger(output):
        return [json.loads(line) for path in sorted((output / "rejects").glob("*.jsonl"))
                for line in path.read_text(encoding="utf-8").splitlines()]

    plain, audited = tmp_path / "plain", tmp_path / "audited"
    assert main(["prepare", "--output", str(plain), "--workers", "1", "--no-report"]) == 0
    assert main(["prepare", "--output", str(audited), "--workers", "1", "--no-report", "--ledger-text"]) == 0
    assert all("text" not in line for line in ledger(plain))
    by_reason = {}
    for line in ledger(audited):
        by_reason.setdefault(line["reason"], []).append(line.get("text", ""))
    for reason in ("too_short", "low_cjk_ratio", "duplicate_exact", "duplicate_near"):
        assert by_reason[reason] and all(by_reason[reason]), reason
    assert [line["doc_id"] for line in ledger(plain)] == [line["doc_id"] for line in ledger(audited)]


def test_shard_rows_reaches_the_config_and_a_bad_value_is_a_usage_error(tmp_path, capsys):
    from erlangshen_data.cli import build_parser
    from erlangshen_data.commands.prepare import config_from_args
    from pipeline.config import PrepareConfig

    parse = build_parser(["prepare"]).parse_args
    assert config_from_args(parse(["prepare", "--output", "x", "--shard-rows", "64"])).shard_rows == 64
    assert config_from_args(parse(["prepare", "--output", "x"])).shard_rows == PrepareConfig().shard_rows
    assert main(["prepare", "--output", str(tmp_path / "out"), "--workers", "1", "--shard-rows", "0"]) == 2
    assert "argument --shard-rows: must lie in [1, inf), got 0" in capsys.readouterr().err
    assert not (tmp_path / "out" / "manifest.json").exists()
