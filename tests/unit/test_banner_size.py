"""The README's banner sizes are the committed build's (`gzip -9`, as the README says)."""
import gzip
import re

from tests.support import ROOT

DIST = ROOT / "banner_static" / "dist"


def gzipped(name: str) -> int:
    return len(gzip.compress((DIST / name).read_bytes(), compresslevel=9))


def test_the_readme_states_each_built_files_size():
    readme = (ROOT / "README.md").read_text()
    stated = {name: int(size.replace(",", "")) for name, size in
              re.findall(r"`dist/([\w.-]+\.min\.(?:js|css))` \**([\d,]+) B", readme)}
    assert set(stated) == {"cmp.min.js", "cmp.min.css", "later.min.js", "gpp.min.js", "gpp-stub.min.js"}, stated
    assert {name: gzipped(name) for name in stated} == stated


def test_the_gpp_section_states_the_same_runtime_size():
    readme = (ROOT / "README.md").read_text()
    assert f"the runtime is {gzipped('cmp.min.js'):,} B" in readme


def test_the_budget_and_the_overrun_are_stated_as_they_are():
    readme = " ".join((ROOT / "README.md").read_text().split())
    over = gzipped("cmp.min.js") - 7000
    if over > 0:
        assert f"over its budget by {over:,} B" in readme
    else:
        assert "within its budget" in readme
