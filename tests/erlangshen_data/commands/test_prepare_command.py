"""`prepare --validate` and `--overwrite` through the CLI, on the embedded sample corpus."""
from erlangshen_data.cli import main


def test_prepare_with_validate_passes_on_the_sample_and_overwrite_clears_old_results(tmp_path, capsys):
    output = tmp_path / "validated"
    assert main(["prepare", "--output", str(output), "--workers", "1", "--validate"]) == 0
    assert (output / "gx").is_dir()
    stale = output / "gx" / "stale-marker"
    stale.write_text("from an earlier run")
    assert main(["prepare", "--output", str(output), "--workers", "1", "--overwrite"]) == 0
    assert not stale.exists()
