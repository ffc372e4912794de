"""``python -m churn_local COMMAND ...``: one entry point for the local tools."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "demo": "the whole pipeline on this machine (make demo)",
    "stack": "the background local stack: up, status, down",
    "invoke": "run one function once with one event file",
    "profiles": "load customer profiles into the profiles table",
    "calls": "list recent calls and alerts",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m churn_local COMMAND [ARGS]\n")
        for name, help_text in COMMANDS.items():
            print(f"  {name:<9} {help_text}")
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    module = importlib.import_module(f"churn_local.{argv[0]}")
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
