"""A clone with no sibling folders beside it passes its tests.

The conftest's audit hook fails a session that opens a file beside the repo; these tests check
that hook, and scan the sources for paths that climb out of the repo before anything runs them.
"""

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, reads_beside_repo

SCANNED_SUFFIXES = {".py", ".toml", ".yaml", ".yml", ".sh", ".cfg", ".ini", ".json"}
PARENTS = re.compile(r"Path\(__file__\)\.resolve\(\)\.parents\[(\d+)\]")
CLIMBS = re.compile(r"""(["'`\s=(])\.\./|ROOT\.parent\b|REPO_ROOT\.parent\b""")


def tracked_sources() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    paths = [ROOT / name for name in listed.stdout.split("\0") if name]
    return [
        p for p in paths if p.is_file() and (p.suffix in SCANNED_SUFFIXES or p.name in ("Makefile", "run"))
    ]


def test_no_source_climbs_out_of_the_repo():
    offenders = []
    for path in tracked_sources():
        if path == Path(__file__):
            continue
        text = path.read_text(errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            for match in PARENTS.finditer(line):
                target = path.resolve().parents[int(match.group(1))]
                if target != ROOT and ROOT not in target.parents:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: parents[{match.group(1)}]")
            if CLIMBS.search(line) and "relative_to" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert offenders == []


def test_the_guard_flags_a_sibling_folder_and_nothing_in_the_repo(tmp_path):
    root, temp = tmp_path / "work" / "repo", str(tmp_path / "tmp")
    assert reads_beside_repo(str(root.parent / "elsewhere" / "formats" / "x.json"), root, temp)
    assert reads_beside_repo(root.parent / "elsewhere", root, temp)
    assert not reads_beside_repo(str(root / "tests" / "fixtures" / "x.json"), root, temp)
    assert not reads_beside_repo(str(tmp_path / "tmp" / "scratch.json"), root, temp)
    assert not reads_beside_repo("/usr/lib/python3/os.py", root, temp)
    assert not reads_beside_repo(3, root, temp)  # a file descriptor


def test_the_formats_the_tests_read_are_in_the_repo(formats_dir):
    assert ROOT in formats_dir.parents
    names = {p.name for p in formats_dir.glob("*.json")}
    readme = (formats_dir / "README.md").read_text()
    missing_source = [name for name in names if name not in readme]
    assert names and missing_source == []
