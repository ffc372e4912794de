"""Check a retention-offer rules file, see what it would change, and put it live.

    python -m churn_ops.offers validate FILE [--examples EXAMPLES.jsonl]
    python -m churn_ops.offers preview FILE [--since 7d] [--current CURRENT.json] [stack flags]
    python -m churn_ops.offers publish FILE [--since 7d] [stack flags]

``preview`` replays the stack's scored calls of the last ``--since`` (high risk by default: the
calls that alert) with the live rules (the stack's ``OfferRulesUri``, or ``--current``) and with
FILE, each from the call's stored topics (``churn_contracts.topics``; the phrase reasons' for
calls scored by older models) and the customer's profile as it is now, and prints every customer
whose offer changes. Eligibility windows are not replayed (the offer history moves on). ``publish``
validates, previews, then uploads FILE to ``OfferRulesUri`` (the bucket is versioned: every alert
names the version that chose its offer); an invalid file is never uploaded. Stack flags: none for
the local stack, ``--stack-name`` for a deployed one, or ``--endpoint-url`` with the table names
and ``--rules-uri``.

``validate`` runs three checks, every problem reported at once:

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
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from churn_contracts.offers import (
    MAX_DEPTH,
    RulesError,
    RuleSet,
    choose_offer,
    json_depth,
    load_rules,
    offer_topics,
    parse_rules,
)
from churn_contracts.topics import CallTopics, TopicsError

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
        text = path.read_text()
        if json_depth(text) > MAX_DEPTH:
            return Report([f"{path}: nested deeper than {MAX_DEPTH} levels; a rules file never is"], [], [])
        document = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Report([f"{path}: cannot read JSON ({type(exc).__name__}: {str(exc)[:200]})"], [], [])
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


# --- preview and publish: the rules against the stack's stored week ---------------------------

SCORED = ("SCORED", "ALERTED")


class PreviewError(RuntimeError):
    """The preview cannot run: no stack, no rules location, unreadable live rules."""


@dataclass(frozen=True)
class Stack:
    """Where scored calls, profiles and the live rules are: two Table resources, an S3 client."""

    calls: Any
    profiles: Any
    s3: Any
    rules_uri: str | None = None


@dataclass(frozen=True)
class Change:
    customer_id: str
    call_id: str | None
    scored_at: str | None
    risk_level: str | None
    before: str | None
    after: str | None
    why: str
    sent: str | None  # the offer the alert actually carried, when one went out


@dataclass
class Preview:
    since: datetime
    calls: int = 0
    changes: list[Change] = field(default_factory=list)
    before: dict[str | None, int] = field(default_factory=dict)
    after: dict[str | None, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [
            f"replayed {self.calls} scored call(s) since {self.since.isoformat(timespec='minutes')}: "
            f"{len(self.changes)} offer(s) change"
        ]
        for c in self.changes:
            sent = f"; sent {c.sent}" if c.sent else ""
            out.append(
                f"  {c.customer_id} (call {c.call_id}, {c.risk_level}, {c.scored_at}): "
                f"{c.before or 'no offer'} -> {c.after or 'no offer'}{sent} [{c.why}]"
            )
        for offer in sorted(set(self.before) | set(self.after), key=lambda o: o or ""):
            b, a = self.before.get(offer, 0), self.after.get(offer, 0)
            if a != b:
                out.append(f"  {offer or 'no offer'}: {b} -> {a}")
        return out


def parse_since(text: str) -> timedelta:
    """``7d``, ``24h``, ``90m``: how far back to replay."""
    match = re.fullmatch(r"\s*(\d+)\s*([dhm])\s*", text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"--since: a number of days, hours or minutes such as 7d, 24h, 90m; not {text!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return (
        timedelta(days=amount)
        if unit == "d"
        else timedelta(hours=amount)
        if unit == "h"
        else timedelta(minutes=amount)
    )


def plain(value: Any) -> Any:
    """DynamoDB's Decimals as ints and floats, all the way down (stored topics, reasons)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def scored_calls(calls: Any, since: datetime, *, all_risks: bool = False) -> Iterator[dict[str, Any]]:
    """Calls scored since ``since`` (high risk only unless ``all_risks``), page by page."""
    from churn_contracts.calls import timestamp

    expression = "#s IN (:scored, :alerted) AND scored_at >= :since"
    values: dict[str, Any] = {":scored": SCORED[0], ":alerted": SCORED[1], ":since": timestamp(since)}
    if not all_risks:
        expression += " AND risk_level = :high"
        values[":high"] = "high"
    kwargs: dict[str, Any] = {
        "FilterExpression": expression,
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": values,
    }
    while True:
        page = calls.scan(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def stored_topics(item: Mapping[str, Any]) -> CallTopics:
    """The call's stored topics; the phrase reasons' for calls scored without them."""
    raw = item.get("topics")
    if isinstance(raw, Mapping):
        try:
            return CallTopics.from_dict(plain(raw))
        except TopicsError:
            pass
    reasons = plain(item.get("reasons")) if isinstance(item.get("reasons"), list) else []
    return offer_topics([r for r in reasons if isinstance(r, Mapping)], None)


def preview(
    stack: Stack,
    new: RuleSet,
    current: RuleSet,
    since: timedelta,
    *,
    now: datetime | None = None,
    all_risks: bool = False,
) -> Preview:
    from churn_contracts.profile import item_to_record

    start = (now or datetime.now(UTC)) - since
    result = Preview(start)
    profiles: dict[str, dict[str, Any]] = {}
    for item in scored_calls(stack.calls, start, all_risks=all_risks):
        customer = str(item.get("customer_id", ""))
        if customer not in profiles:
            found = stack.profiles.get_item(Key={"customer_id": customer}).get("Item") if customer else None
            profiles[customer] = item_to_record(found) if found else {}
        profile, topics = profiles[customer], stored_topics(item)
        before = choose_offer(current, profile, topics)
        after = choose_offer(new, profile, topics)
        b = before.offer.offer_id if before.offer else None
        a = after.offer.offer_id if after.offer else None
        result.calls += 1
        result.before[b] = result.before.get(b, 0) + 1
        result.after[a] = result.after.get(a, 0) + 1
        if a != b:
            alert = item.get("alert") if isinstance(item.get("alert"), Mapping) else {}
            result.changes.append(
                Change(
                    customer,
                    item.get("call_id"),
                    item.get("scored_at"),
                    item.get("risk_level"),
                    b,
                    a,
                    after.reason,
                    alert.get("offer_id"),
                )
            )
    result.changes.sort(key=lambda c: (c.customer_id, c.scored_at or ""))
    return result


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise PreviewError(f"not an s3://bucket/key location: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def live_rules(stack: Stack) -> RuleSet:
    """The rules the score function reads now (what it would log if they were broken)."""
    if not stack.rules_uri:
        raise PreviewError("cannot tell where the live rules are: pass --current FILE or --rules-uri")
    bucket, key = split_s3_uri(stack.rules_uri)
    try:
        body = stack.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # botocore's errors: missing object, no access
        raise PreviewError(f"cannot read the live rules at {stack.rules_uri}: {exc}") from None
    try:
        return load_rules(body)
    except RulesError as exc:
        # A broken live file: every call gets no offer today, so compare against that.
        print(f"warning: the live rules are invalid ({exc}); comparing against no offers", file=sys.stderr)
        return RuleSet(())


def upload(stack: Stack, body: bytes) -> str | None:
    """Put the rules where the score function reads them; the new S3 version id."""
    if not stack.rules_uri:
        raise PreviewError("cannot tell where to publish: pass --rules-uri or --stack-name")
    bucket, key = split_s3_uri(stack.rules_uri)
    response = stack.s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    return response.get("VersionId")


def stack_from_args(args: argparse.Namespace) -> Stack:
    """The local stack (no flags), a deployed one (``--stack-name``), or tables named outright."""
    import boto3

    from churn_ops.export_latest_calls import ExportError, local_endpoint

    endpoint, region = args.endpoint_url, args.region
    outputs: Mapping[str, str] = {}
    session_kwargs: dict[str, Any] = {}
    if args.stack_name:
        from churn_ops.stack import StackError, stack_outputs

        session = boto3.session.Session(region_name=region)
        try:
            outputs = stack_outputs(session.client("cloudformation", endpoint_url=endpoint), args.stack_name)
        except StackError as exc:
            raise PreviewError(str(exc)) from None
    elif endpoint is None and not (args.profiles_table and args.calls_table):
        try:
            endpoint, region, outputs = local_endpoint(Path(args.state_file))
        except ExportError as exc:
            raise PreviewError(str(exc)) from None
        session_kwargs = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    session = boto3.session.Session(region_name=region, **session_kwargs)
    calls = args.calls_table or outputs.get("CallsTableName")
    profiles = args.profiles_table or outputs.get("ProfilesTableName")
    if not calls or not profiles:
        raise PreviewError("cannot tell the tables: pass --stack-name, or --calls-table and --profiles-table")
    dynamodb = session.resource("dynamodb", endpoint_url=endpoint)
    return Stack(
        dynamodb.Table(calls),
        dynamodb.Table(profiles),
        session.client("s3", endpoint_url=endpoint),
        args.rules_uri or outputs.get("OfferRulesUri"),
    )


def run_preview(args: argparse.Namespace, stack: Stack, new: RuleSet) -> Preview:
    current = load_rules(args.current.read_bytes()) if args.current else live_rules(stack)
    result = preview(stack, new, current, parse_since(args.since), all_risks=args.all_risks)
    for line in result.lines():
        print(line)
    return result


def _preview_or_publish(args: argparse.Namespace) -> int:
    report = validate(args.file, None if args.no_examples else args.examples)
    for warning in report.warnings:
        print(f"warning: {warning}")
    if not report.ok:
        for error in report.errors:
            print(f"error: {error}", file=sys.stderr)
        print(f"{args.file}: INVALID, {'not published' if args.command == 'publish' else 'no preview'}")
        return 1
    body = args.file.read_bytes()
    try:
        parse_since(args.since)
        stack = stack_from_args(args)
        run_preview(args, stack, load_rules(body))
        if args.command == "publish":
            version = upload(stack, body)
            print(f"published {args.file} to {stack.rules_uri} (version {version or 'unversioned'})")
    except (PreviewError, ValueError, RulesError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_ops.offers", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("validate", help="check a rules file against the schema and example customers")
    check.add_argument("file", type=Path)
    check.add_argument("--examples", type=Path, default=EXAMPLES, help="JSON Lines of example customers")
    check.add_argument("--no-examples", action="store_true", help="check the schema and the parser only")
    for name, what in (
        ("preview", "replay the stored week with these rules and print whose offer changes"),
        ("publish", "validate, preview, then upload the rules where the score function reads them"),
    ):
        command = sub.add_parser(name, help=what)
        command.add_argument("file", type=Path)
        command.add_argument("--since", default="7d", help="how far back to replay (7d, 24h, 90m)")
        command.add_argument("--all-risks", action="store_true", help="every scored call, not only high risk")
        command.add_argument("--examples", type=Path, default=EXAMPLES)
        command.add_argument("--no-examples", action="store_true")
        if name == "preview":
            command.add_argument("--current", type=Path, help="compare with this file, not the live rules")
        command.add_argument(
            "--stack-name", help="a deployed stack: tables and OfferRulesUri from its outputs"
        )
        command.add_argument("--region", default=None)
        command.add_argument("--endpoint-url", default=None)
        command.add_argument("--calls-table", default=None)
        command.add_argument("--profiles-table", default=None)
        command.add_argument("--rules-uri", default=None, help="s3://bucket/offers/rules.json")
        command.add_argument("--state-file", default=str(Path(".local-stack") / "state.json"))
    args = parser.parse_args(argv)
    if args.command in ("preview", "publish"):
        if args.command == "publish":
            args.current = None
        return _preview_or_publish(args)
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
