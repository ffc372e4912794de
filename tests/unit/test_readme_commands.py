"""A newcomer copies commands from the READMEs: they must run from the repository root as written.

Bare ``python -m churn_local...`` fails outside the virtualenv (issue 24 section 5), so every
command in a fenced block runs the project's modules through a virtualenv's interpreter
(``.venv/bin/python -m``, ``.venv-ops/bin/python -m``) or a make target.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", ".venv-fn313", ".venv-sam", ".venv-ops", "node_modules", ".aws-sam", "build"}


def readmes() -> list[Path]:
    return sorted(p for p in ROOT.rglob("README.md") if not SKIP & set(p.relative_to(ROOT).parts))


def bare_commands(text: str) -> list[str]:
    found, fence = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        elif fence and re.search(r"(^|&& |; |\$\()\s*python3? -m (churn_|pytest)", line):
            found.append(line.strip())
    return found


def test_readme_commands_run_the_projects_modules_through_a_virtualenv():
    offending = {str(p.relative_to(ROOT)): bare_commands(p.read_text()) for p in readmes()}
    assert {name: lines for name, lines in offending.items() if lines} == {}


def test_the_check_sees_a_bare_command_inside_a_block_only():
    text = "run `python -m churn_local.calls`\n```bash\npython -m churn_local.calls\n.venv/bin/python -m churn_local.calls\n```\n"
    assert bare_commands(text) == ["python -m churn_local.calls"]
