"""Check a retention-offer rules file before it is uploaded.

    python -m churn_ops.offers validate FILE [--examples EXAMPLES.jsonl]

Three checks, every problem reported at once:

1. the JSON Schema (``offers/rules.schema.json``), with the path of each breach;
2. the score function's own parser (``churn_contracts.offers``), which the Lambda runs;
3. example customers: each line of ``--examples`` (default ``offers/examples.jsonl``) is
   ``{"name", "profile", "topics", "expect"}``; the offer the rules pick must be ``expect``
   (an offer id, or null for none). Rules that no example reaches are listed as a warning.

Exit status 0 when the file passes, 1 when it does not, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn_contracts.offers import RulesError, RuleSet, choose_offer, parse_rules

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "offers" / "rules.schema.json"
EXAMPLES = REPO / "offers" / "examples.jsonl"


@dataclass
class Report:
    errors: list[str]
    warnings: list[str]
    lines: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


def schema_errors(document: Any, schema_path: Path = SCHEMA) -> list[str]:
    import jsonschema

    schema = json.loads(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    found = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"schema: {e.json_path}: {e.message}" for e in found]


def load_examples(path: Path) -> list[dict[str, Any]]:
    examples = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
        if (
            not isinstance(example, dict)
            or not isinstance(example.get("profile"), dict)
            or "expect" not in example
        ):
            raise ValueError(
                f"{path}:{number}: needs 'profile' (an object) and 'expect' (an offer id or null)"
            )
        examples.append({"name": example.get("name") or f"line {number}", **example})
    return examples


def check_examples(rules: RuleSet, examples: Sequence[dict[str, Any]]) -> Report:
    report = Report([], [], [])
    reached: set[str] = set()
    for example in examples:
        decision = choose_offer(rules, example["profile"], example.get("topics") or [])
        got = decision.offer.offer_id if decision.offer else None
        if got:
            reached.add(got)
        mark = "ok  " if got == example["expect"] else "FAIL"
        report.lines.append(f"{mark} {example['name']}: {got or 'no offer'} ({decision.reason})")
        if got != example["expect"]:
            report.errors.append(f"example {example['name']!r}: expected {example['expect']}, got {got}")
    unreached = [r.offer_id for r in rules.rules if r.offer_id not in reached]
    if unreached:
        report.warnings.append(f"no example reaches: {', '.join(unreached)}")
    return report


def validate(path: Path, examples_path: Path | None = EXAMPLES, schema_path: Path = SCHEMA) -> Report:
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return Report([f"{path}: cannot read JSON ({exc})"], [], [])
    errors = schema_errors(document, schema_path)
    try:
        rules = parse_rules(document)
    except RulesError as exc:
        # The schema usually names these already; the parser's wording is what the Lambda logs.
        return Report(errors + [f"rules: {p}" for p in exc.problems], [], [])
    if errors:
        return Report(errors, [], [])
    if examples_path is None:
        return Report([], [], [f"{len(rules.rules)} rules"])
    report = check_examples(rules, load_examples(examples_path))
    report.lines.insert(0, f"{len(rules.rules)} rules, {len(report.lines)} examples")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_ops.offers", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("validate", help="check a rules file against the schema and example customers")
    check.add_argument("file", type=Path)
    check.add_argument("--examples", type=Path, default=EXAMPLES, help="JSON Lines of example customers")
    check.add_argument("--no-examples", action="store_true", help="check the schema and the parser only")
    args = parser.parse_args(argv)
    try:
        report = validate(args.file, None if args.no_examples else args.examples)
    except ValueError as exc:  # an unreadable examples file
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in report.lines:
        print(line)
    for warning in report.warnings:
        print(f"warning: {warning}")
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    print(f"{args.file}: {'valid' if report.ok else 'INVALID'}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
