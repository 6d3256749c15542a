"""The README's figures are the benchmarks' own, and no older than the code they measure (bench/results.py)."""
import pytest

from bench import results
from tests.support import ROOT

RESULTS_FILES = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("bench/**/*.md")
                       if ".venv" not in p.parts and "node_modules" not in p.parts)  # bench/banner/peers' npm install


def readme_blocks():
    return results.readme_blocks((ROOT / "README.md").read_text())


@pytest.mark.parametrize("path", RESULTS_FILES)
def test_each_results_file_was_written_by_its_script_for_the_code_as_it_is(path):
    text = (ROOT / path).read_text()
    stamp = results.stamp(text)
    assert stamp, f"{path} has no stamp: run its benchmark (it writes the file through bench/results.py)"
    digest, measured = stamp
    assert digest == results.fingerprint(measured), (
        f"{path} measured other code than today's (one of {', '.join(measured)} changed since): run its benchmark again")


def test_the_readme_shows_the_benchmarks_figures_as_they_wrote_them():
    blocks = readme_blocks()
    assert blocks, "the README's performance section should take its tables from the RESULTS files"
    for path, rows in blocks:
        assert path in RESULTS_FILES, f"the README takes figures from {path}, which is not a stamped RESULTS file"
        assert rows == results.readme_rows((ROOT / path).read_text()), f"the README's copy of {path} differs from it"


def test_every_results_file_with_figures_for_the_readme_is_shown_there():
    shown = {path for path, _ in readme_blocks()}
    for path in RESULTS_FILES:
        if results.readme_rows((ROOT / path).read_text()) is not None:
            assert path in shown, f"{path} has rows for the README that the README does not show"
