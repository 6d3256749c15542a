"""RESULTS files: written only by their benchmark, stamped with what they measured.

A benchmark calls :func:`write` at the end of its run. The file it writes
records the commit and date of the run, the machine, and a SHA-256 over the
modules it measures (:func:`fingerprint`), then the full report, then the
rows the README shows, between ``<!-- for README.md -->`` and ``<!-- end -->``.
The README copies those rows between ``<!-- from <results file> -->`` and
``<!-- end -->``; ``tests/unit/test_bench_results.py`` fails when the two
differ, or when a measured module has changed since the run (its fingerprint
no longer matches), so a figure is never older than the code it describes.
"""
import hashlib
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README_START, README_END = "<!-- for README.md -->", "<!-- end -->"
STAMP = re.compile(r"^- measured modules \(SHA-256 (?P<digest>[0-9a-f]{64})\): (?P<paths>.+)$", re.M)


def fingerprint(paths) -> str:
    """SHA-256 over the named files (repository paths), in sorted order, names included."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.encode() + b"\0" + (ROOT / path).read_bytes() + b"\0")
    return digest.hexdigest()


def stamp(text: str) -> tuple[str, list[str]] | None:
    """The fingerprint a RESULTS file recorded and the paths it covers, or None if it has none."""
    match = STAMP.search(text)
    if match is None:
        return None
    return match["digest"], [p.strip(" `") for p in match["paths"].split(",")]


def readme_rows(text: str) -> str | None:
    """What a RESULTS file (or a README block) holds for the README, or None."""
    if README_START not in text:
        return None
    return text.split(README_START, 1)[1].split(README_END, 1)[0].strip("\n")


def _git(*args) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def _version(*command) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, IndexError):
        return "?"


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    pg = _version("psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "SHOW server_version")
    redis = _version("redis-server", "--version").split(" sha=")[0]
    return (f"{os.cpu_count()} cores, {memory:.0f} GiB, Linux {platform.release()}, Python {platform.python_version()}, "
            f"PostgreSQL {pg}, {redis}, {_version('wrk', '--version').split(' [')[0]}")


def caption(measured_at: str, commit: str) -> str:
    return f"Measured {measured_at} at commit `{commit[:10]}` on this machine ({machine()})."


def write(path: Path, title: str, script: str, measured: list[str], report: str, readme: str, started: datetime):
    """Write ``path``: the stamp, the ``report`` and the ``readme`` rows (a caption line is added to them)."""
    commit = _git("rev-parse", "HEAD")
    dirty = _git("status", "--porcelain", "--", *measured)
    when = started.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([
        f"# {title}",
        "",
        f"Written by `{script}` (`.venv/bin/python {script}`); never edited by hand.",
        "",
        f"- commit: `{commit}`{' with uncommitted changes to the measured modules' if dirty else ''}",
        f"- date: {when}",
        f"- machine: {machine()}",
        f"- measured modules (SHA-256 {fingerprint(measured)}): {', '.join(f'`{p}`' for p in sorted(measured))}",
        "",
        report.strip("\n"),
        "",
        "## What the README shows",
        "",
        README_START,
        readme.strip("\n"),
        "",
        caption(when, commit) + f" Full tables: [{path.relative_to(ROOT)}]({path.relative_to(ROOT)}).",
        README_END,
        "",
    ])
    path.write_text(text)
    print(text)


README_BLOCK = re.compile(r"(<!-- from (?P<path>\S+) -->\n)(?P<rows>.*?)(<!-- end -->)", re.S)


def readme_blocks(text: str) -> list[tuple[str, str]]:
    """(RESULTS file, rows) of each block the README copies from a RESULTS file."""
    return [(m["path"], m["rows"].strip("\n")) for m in README_BLOCK.finditer(text)]


def copy_into_readme() -> None:
    """Replace each README block with the rows its RESULTS file holds now."""
    readme = ROOT / "README.md"
    text = README_BLOCK.sub(lambda m: m[1] + readme_rows((ROOT / m["path"]).read_text()) + "\n" + m[4],
                            readme.read_text())
    readme.write_text(text)


if __name__ == "__main__":
    copy_into_readme()  # .venv/bin/python bench/results.py, after a benchmark ran
