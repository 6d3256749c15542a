"""The structure the docs draw is the structure the code has.

- ``docs/architecture.md``'s diagram lists exactly the imports between apps.
- Every repository path named in the docs and in docstrings and comments exists.
"""
import re
import subprocess
from pathlib import Path

import grimp
import pytest

from tests.support import ROOT

APPS = ("cmp", "consent", "audit", "delivery", "api", "banner", "privacy_requests", "scanner")


def drawn_edges() -> set[tuple[str, str]]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    diagram = text.split("```mermaid", 1)[1].split("```", 1)[0]
    return set(re.findall(r"^\s*(\w+) --> (\w+)\s*$", diagram, re.M))


def coded_edges() -> set[tuple[str, str]]:
    graph = grimp.build_graph(*APPS, cache_dir=None)
    return {
        (importer, imported)
        for importer in APPS for imported in APPS
        if importer != imported and graph.direct_import_exists(importer=importer, imported=imported, as_packages=True)
    }


def test_the_architecture_diagram_is_the_import_graph():
    assert drawn_edges() == coded_edges()


# Paths a reader might follow: in backticks or after "see", with a known top-level folder or file.
TOP = ("cmp", "consent", "audit", "delivery", "api", "banner", "privacy_requests", "scanner", "tests", "bench", "docs",
       "banner_static", ".ci", "locale")
TOPS = "|".join(re.escape(t) for t in TOP)
PATH = re.compile(rf"(?<![\w./-])((?:{TOPS})/[\w./-]*\.(?:py|md|js|css|html|json|txt|yml|mk|lua|po|conf|sh))(?![\w])")
FILES = re.compile(r"(?<![\w./-])(README\.md|SECURITY\.md|docker-compose\.yml|Dockerfile|Makefile|LICENSE)(?![\w.-])")


def tracked_text_files():
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / name for name in listed if name.endswith((".py", ".md", ".js", ".css", ".html", ".yml", ".txt"))
            and "/migrations/" not in name and not name.startswith("banner_static/dist/")
            and not name.startswith("banner_static/releases/") and ROOT / name != Path(__file__)]


def named_paths(text):
    for match in PATH.finditer(text):
        path = match.group(1).rstrip(".")
        if "<" in path or "*" in path or path.endswith("..."):
            continue
        yield path
    for match in FILES.finditer(text):
        yield match.group(1).rstrip(".")


def test_every_repository_path_named_in_docs_and_code_exists():
    missing = []
    for file in tracked_text_files():
        for path in named_paths(file.read_text(errors="replace")):
            # A template or static file is named by its path inside an app's templates/ or static/.
            places = [ROOT / path, *ROOT.glob(f"*/templates/{path}"), *ROOT.glob(f"*/static/{path}")]
            if not any(place.exists() for place in places):
                missing.append(f"{file.relative_to(ROOT)} names {path}")
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("name", ["DESIGN" + ".md", "rollups" + ".py"])
def test_no_pointer_to_what_this_repository_does_not_hold(name):
    hits = [str(f.relative_to(ROOT)) for f in tracked_text_files() if name in f.read_text(errors="replace")]
    assert not hits, f"{name} is named in {hits}"
