"""The outcomes loop on this machine, no AWS account: ``make loop`` (issue 21, §5).

What happened to each alerted customer trains the next model, which serves only when it is
better. On the local stack (template.yaml through moto, the real functions, local Transcribe's
sidecar fast path and the local model server):

1. a day-one model serves, trained on an export whose churn flags turned out to be unrelated to
   who left (the generator's labels shuffled): before outcomes, nobody could tell;
2. ``--calls`` generated calls go through the pipeline: S3 -> start -> Transcribe -> score -> SNS;
3. what happened to each of those customers (the generator's label: churned or stayed) is
   recorded three ways: the one-click link of the alert the retention team received ("lost" /
   "saved"), ``POST /v1/customers/{id}/outcomes`` through the local API Gateway (SigV4 and the API
   key) and ``churn_ops.outcomes import`` of a CRM export (which repeats some outcomes already
   recorded, and is imported twice: nothing is recorded twice);
4. ``churn_ops.training_from_stack`` builds the training data from the stack's calls and outcomes
   (as of the horizon's end: every call here is today's);
5. a candidate is trained on the older labelled calls, and a control on the same rows with their
   labels shuffled;
6. ``churn_ops.promote`` compares the candidate with the serving model on the newest labelled
   calls (paired bootstrap), then the control with the model approved by then; each is registered
   in the model package group (moto's SageMaker on the local stack), Approved or Rejected;
7. the approved package is fetched from the registry (checked against its digest) and the local
   model server serves it without a restart; one more call is scored to show the new version.

    python -m churn_local.loop                    # 160 calls; the calls take most of the time
    python -m churn_local.loop --calls 100 --day-one-rows 40 --no-check
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import random
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from churn_contracts.features import CALL_ID, CUSTOMER_ID, LABEL
from churn_ops.promote import DEFAULT_MARGIN

from .demo import read_jsonl, say, step
from .profiles import load_profiles
from .scenario import Observer, Pipeline, RetentionTeam, turns_of, upload, wait_for_calls
from .stack import STATE_DIR, LocalStack

DEFAULT_CALLS = 160
DEFAULT_DAY_ONE_ROWS = 60
SEED = 21
# The customers the loop follows churn far more than the base (15 %): half of them, so that a few
# hundred calls hold enough of each outcome for the comparison's intervals to decide.
CHURN_RATE = 0.5
# The newest half of the labelled calls is what the candidate and the serving model are compared
# on: enough churners for the bootstrap's intervals on a few hundred calls.
TEST_FRACTION = 0.5
HORIZON_DAYS = 90
GROUP = "churn-models"
MARKER = ".churn-loop"
# Small and quick: a forest on the call's intent (the tiny test model's recipe, more trees).
TREES = 100
# The local container image is nothing; the registry records what the template would pin.
IMAGE = "local/churn-model-server"


@dataclass
class LoopResult:
    """What the loop did, for the report and the test."""

    calls: int = 0
    alerted: int = 0
    recorded: dict[str, dict[str, str]] = field(default_factory=dict)  # route -> customer -> outcome
    duplicates_refused: int = 0
    data_dir: Path | None = None
    decisions: dict[str, bool] = field(default_factory=dict)  # candidate version -> promoted
    packages: dict[str, str] = field(default_factory=dict)  # version -> approval status
    served_before: str = ""
    served_after: str = ""
    scored_after: str = ""  # the model_version on the call item scored after the swap


def _train(rows_file: Path, out: Path, version: str, cache: Path) -> Path:
    from churn_model.train import TrainConfig, train_model

    config = TrainConfig(
        classifier="rf",
        text_features="intent",
        n_estimators=TREES,
        seed=0,
        progress=False,
        embedding_cache=str(cache),
    )
    train_model(rows_file, out, config=config, model_version=version, plots=False)
    return out


def _write(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def generate(calls: int, day_one_rows: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the day-one export, the customers who call). The callers are clear-cut customers: the
    generator's own churn probability below 0.2 or above 0.8, so that a few hundred labelled calls
    are enough for a model to learn and for the comparison's intervals to decide (on all customers
    that takes thousands: model/README.md)."""
    from churn_model.data import latent
    from churn_model.data.generate import simulate

    data = simulate(day_one_rows + 5 * calls, seed=SEED, churn_rate=CHURN_RATE)
    probability = latent.sigmoid(data.profile + data.attitude + data.intercept)
    export = data.rows[:day_one_rows]
    later = zip(data.rows[day_one_rows:], probability[day_one_rows:], strict=True)
    callers = [row for row, p in later if p < 0.2 or p > 0.8][:calls]
    if len(callers) < calls:
        raise SystemExit(f"the generator gave {len(callers)} clear-cut callers, not {calls}")
    return export, callers


def alert_thresholds(model_url: str, customers: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Risk thresholds that alert about 40 % of the callers on the serving model's scores, so that
    many outcomes come back by the alert email's link (the template's defaults suit the
    reference model, not the day-one one)."""
    from .aws import client
    from .demo import score_rows

    class Runtime:
        def client(self, service: str) -> Any:
            return client(service, model_url, "us-east-1")

    sample = random.Random(SEED).sample(list(customers), min(40, len(customers)))
    scores = sorted(score_rows(Runtime(), "churn-endpoint", sample))
    high, medium = scores[int(len(scores) * 0.6)], scores[int(len(scores) * 0.3)]
    return {"HighRiskThreshold": f"{high:.4f}", "MediumRiskThreshold": f"{min(medium, high):.4f}"}


def _shuffled(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    labels = [r[LABEL] for r in rows]
    random.Random(SEED).shuffle(labels)
    return [{**r, LABEL: y} for r, y in zip(rows, labels, strict=True)]


def _labels(rows: Sequence[Mapping[str, Any]]) -> str:
    churned = sum(int(r[LABEL]) for r in rows)
    return f"{len(rows)} rows, {churned} churned ({churned / max(len(rows), 1):.0%})"


# --- outcomes, three routes ------------------------------------------------------------------------


class Gateway:
    """The local API Gateway, as a CRM calls it: SigV4 and the API key."""

    def __init__(self, api: Any, region: str) -> None:
        self.url, self.api_key, self.region = api.url, api.api_key, region

    def post_outcome(self, customer: str, body: Mapping[str, Any]) -> int:
        import requests
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        url = f"{self.url}/v1/customers/{customer}/outcomes"
        data = json.dumps(body).encode()
        headers = {"content-type": "application/json", "x-api-key": self.api_key}
        signed = AWSRequest(method="POST", url=url, data=data, headers=headers)
        SigV4Auth(Credentials("testing", "testing"), "execute-api", self.region).add_auth(signed)
        answer = _backing_off(lambda: requests.post(url, data=data, headers=dict(signed.headers), timeout=30))
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"POST {url}: {answer.status_code} {answer.text[:200]}")
        return answer.status_code

    def click(self, link: str) -> int:
        """The alert email's link, on this gateway: its token after /v1/outcome-links/ (the
        deployed link names the stack's API, which the local gateway stands in for)."""
        import requests

        token = urlsplit(link).path.rsplit("/outcome-links/", 1)[1]
        return _backing_off(
            lambda: requests.post(f"{self.url}/v1/outcome-links/{token}", timeout=30)
        ).status_code


def _backing_off(send: Callable[[], Any]) -> Any:
    """Over the stage's or the usage plan's rate the gateway answers 429 before the function runs
    (nothing is recorded): back off and send again, as a client must (and a person clicking would)."""
    for wait_s in (0.5, 1, 2, 4, 8):
        answer = send()
        if answer.status_code != 429:
            return answer
        time.sleep(wait_s)
    return send()


def alert_links(team: RetentionTeam) -> dict[str, dict[str, str]]:
    """customer -> the outcome links of the alert the retention team received."""
    found: dict[str, dict[str, str]] = {}
    for _, envelope in team.received:
        message = envelope.get("Message")
        if not isinstance(message, dict):
            continue
        links = (message.get("links") or {}).get("outcome")
        customer = message.get("customer_id")
        if links and customer:
            found.setdefault(str(customer), links)
    return found


def record_outcomes(
    stack: LocalStack,
    team: RetentionTeam,
    scored: Mapping[str, Mapping[str, Any]],
    today: date,
    work: Path,
    result: LoopResult,
) -> None:
    """Each scored customer's outcome by one route; some again by another (they must dedupe)."""
    from churn_ops.outcomes import OutcomesTable, import_file

    gateway = Gateway(stack.apis["ScoreApi"], stack.region)
    links = alert_links(team)
    routes: dict[str, dict[str, str]] = {"link": {}, "api": {}, "import": {}}
    rest = []
    for customer, row in sorted(scored.items()):
        outcome = "churned" if row[LABEL] == 1 else "stayed"
        if customer in links:
            button = "lost" if row[LABEL] == 1 else "saved"
            status = gateway.click(links[customer][button])
            if status != 200:
                raise RuntimeError(f"the {button!r} link of {customer}'s alert answered {status}")
            routes["link"][customer] = "churned" if button == "lost" else "saved"
        else:
            rest.append((customer, row, outcome))
    import_rows = []
    for index, (customer, row, outcome) in enumerate(rest):
        fields = {"outcome": outcome, "date": today.isoformat(), "call_id": row[CALL_ID]}
        if index % 2 == 0:
            gateway.post_outcome(customer, {**fields, "by": "retention-team"})
            routes["api"][customer] = outcome
        else:
            import_rows.append({CUSTOMER_ID: customer, **fields, "by": "crm-export"})
            routes["import"][customer] = outcome
    # The CRM export also carries outcomes recorded through the API already (same customer,
    # outcome, day and call): one record each, whichever route came first.
    again = [
        {CUSTOMER_ID: c, "outcome": o, "date": today.isoformat(), "call_id": scored[c][CALL_ID]}
        for c, o in list(routes["api"].items())[:5]
    ]
    export = work / "crm-export.csv"
    with export.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[CUSTOMER_ID, "outcome", "date", "call_id", "by"])
        writer.writeheader()
        writer.writerows(import_rows + again)
    table = OutcomesTable(stack.table(stack.spec.outputs["OutcomesTableName"]))
    first = import_file(export, table)
    second = import_file(export, table)  # a re-run of the same export changes nothing
    # A contact with no verdict: not a label, left out of the training data.
    for customer in list(links)[:3]:
        gateway.click(links[customer]["contacted"])
    for route, found in routes.items():
        counts = Counter(found.values())
        say(
            f"    {route:<7} {len(found):4d} customers  "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        )
    say(f"    import  {first.lines()[-1]}")
    say(f"    again   {second.lines()[-1]}")
    if first.errors or second.created:
        raise RuntimeError("the CRM export was not imported cleanly")
    result.recorded = routes
    result.duplicates_refused = first.already_recorded + second.already_recorded


# --- the loop --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_logs(work: Path) -> Iterator[Any]:
    log_file = (work / "functions.log").open("a", buffering=1)
    try:
        yield lambda function, line: log_file.write(f"{function} {line}\n")
    finally:
        log_file.close()


def run(
    *,
    calls: int = DEFAULT_CALLS,
    day_one_rows: int = DEFAULT_DAY_ONE_ROWS,
    work: Path = STATE_DIR / "loop",
    template: str | Path = "template.yaml",
    bootstrap: int = 500,
    margin: float = DEFAULT_MARGIN,
    model_check: bool = True,
    timeout_s: float = 600,
) -> LoopResult:
    from churn_model.serving.package import build_model_tarball
    from churn_model.serving.server import LocalEndpointServer
    from churn_ops import promote
    from churn_ops.export_latest_calls import Sources
    from churn_ops.registry import ModelRegistry
    from churn_ops.training_from_stack import build

    result = LoopResult()
    # Replaced each run, but only a folder the loop made (never a --work that holds anything else).
    if work.exists() and any(work.iterdir()) and not (work / MARKER).is_file():
        raise SystemExit(f"{work} is not empty and not a loop's folder: choose another --work")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / MARKER).write_text("made by python -m churn_local.loop; replaced on each run\n")
    cache = work / "embedding-cache"
    today = datetime.now(UTC).date()

    with step(f"1/7 Day one: the first model, from an export of {day_one_rows} customers"):
        export, customers = generate(calls, day_one_rows)
        _write(work / "callers.jsonl", customers)
        # Before any outcome came back, the export's churn flags were a guess that turned out to
        # say nothing about who left (here: the generator's labels, shuffled). A model that knows
        # nothing serves, as the loop's starting point: the outcomes must beat it.
        guessed = _write(work / "day-one-export.jsonl", _shuffled(export))
        day_one = _train(guessed, work / "models" / "day-one", "loop-day-one", cache)
        say(f"    day-one model trained on {_labels(export)}, its churn flags unrelated to churn")
        say(f"    {len(customers)} customers will call: {_labels(customers)}")

    with contextlib.ExitStack() as running, _quiet_logs(work) as log_sink:
        server = running.enter_context(LocalEndpointServer(day_one, host="127.0.0.1", port=0))
        thresholds = alert_thresholds(server.url, customers)
        say(f"    thresholds for the day-one model's scores: {thresholds}")
        observer = Observer()
        stack = LocalStack(
            template,
            parameters=thresholds,
            sagemaker_runtime_url=server.url,
            log_sink=log_sink,
            on_outcome=observer,
        )
        with step("2/7 The local stack, and the calls through the pipeline"):
            stack.start()
            running.callback(stack.stop)
            pipeline = Pipeline.from_stack(stack)
            load_profiles(((i + 1, r) for i, r in enumerate(customers)), stack.table(pipeline.profiles_table))
            team = RetentionTeam(stack, pipeline.alert_topic_arn)
            s3 = stack.client("s3")
            keys = {}
            for row in customers:
                up = upload(
                    s3,
                    pipeline,
                    label=row[CUSTOMER_ID],
                    customer_id=row[CUSTOMER_ID],
                    call_id=row[CALL_ID],
                    kind="sidecar",
                    turns=turns_of(row),
                )
                keys[up.key] = row
            items = wait_for_calls(
                stack,
                pipeline,
                keys,
                rejected=lambda key: False,
                timeout_s=timeout_s,
                progress=lambda message: say(f"    {message}"),
            )
            time.sleep(1.0)  # the last alerts in flight
            team.poll()
            statuses = Counter(str(items.get(k, {}).get("status")) for k in keys)
            scored = {
                row[CUSTOMER_ID]: row
                for key, row in keys.items()
                if items.get(key, {}).get("status") in ("SCORED", "ALERTED")
            }
            result.calls, result.alerted = len(scored), statuses.get("ALERTED", 0)
            result.served_before = ", ".join(
                sorted({str(items[k].get("model_version")) for k in keys if k in items})
            )
            say(f"    {len(keys)} calls: " + ", ".join(f"{s} {n}" for s, n in sorted(statuses.items())))
            say(f"    alerts received by the retention team: {len(team.received)}")

        with step("3/7 Outcomes: the alert's link, the API, a CRM import"):
            record_outcomes(stack, team, scored, today, work, result)

        as_of = today + timedelta(days=HORIZON_DAYS)
        with step(f"4/7 Training data from the stack (horizon {HORIZON_DAYS} days, as of {as_of})"):
            sources = Sources(
                stack.table(pipeline.profiles_table), stack.table(pipeline.calls_table), stack.client("s3")
            )
            outcomes = stack.table(stack.spec.outputs["OutcomesTableName"])
            result.data_dir = work / "from-stack"
            report = build(
                sources,
                outcomes,
                result.data_dir,
                horizon_days=HORIZON_DAYS,
                test_fraction=TEST_FRACTION,
                today=as_of,
            )
            for line in report.lines():
                say(f"    {line}")

        with step("5/7 Train a candidate on the older labelled calls, and a shuffled-label control"):
            older = result.data_dir / "train.jsonl"
            say(f"    candidate: {_labels(read_jsonl(older))} (what happened, from the stack)")
            candidate = _train(older, work / "models" / "candidate", f"loop-candidate-{today:%Y%m%d}", cache)
            control = _write(work / "shuffled-train.jsonl", _shuffled(read_jsonl(older)))
            shuffled = _train(control, work / "models" / "shuffled", "loop-shuffled-labels", cache)

        with step("6/7 Compare with the serving model on the newest labelled calls; register"):
            registry = ModelRegistry(
                stack.client("sagemaker"), s3, stack.spec.outputs["RecordingsBucketName"], GROUP, IMAGE
            )
            registry.ensure_group()
            say(f"    registry: model package group {GROUP} in the local stack's SageMaker (moto)")
            tarballs = work / "tarballs"

            def register(model_dir: Path, comparison: Mapping[str, Any], version: str) -> Any:
                tarball = build_model_tarball(model_dir, tarballs / f"{version}.tar.gz", compresslevel=1)
                url, digest = registry.upload(tarball)
                return registry.register(url, digest, comparison, version)

            # The model the stack started with is the group's first approved package.
            first = register(day_one, {"note": "the day-one model the stack started with"}, "loop-day-one")
            first = registry.decide(first.arn, True, "day one: the first model")
            result.packages["loop-day-one"] = first.status
            test_rows = result.data_dir / "test.jsonl"
            say(f"    compared on {test_rows}: {_labels(read_jsonl(test_rows))}")
            # The candidate against the day-one model, then the control against what serves then.
            for model_dir in (candidate, shuffled):
                serving = registry.fetch(registry.approved(), work / "serving" / "model.tar.gz")
                compared = promote.compare(
                    model_dir, serving, test_rows, bootstrap=bootstrap, margin=margin, with_check=model_check
                )
                say(f"    {compared.candidate_version} vs {compared.serving_version}")
                for line in promote.table(compared.rows, compared.checks):
                    say(f"      {line}")
                verdict = "PROMOTE" if compared.decision.promote else "REFUSE"
                say(f"      {verdict}: " + "; ".join(compared.decision.reasons))
                package = register(model_dir, compared.to_json(), compared.candidate_version)
                package = registry.decide(
                    package.arn, compared.decision.promote, "; ".join(compared.decision.reasons)
                )
                result.decisions[compared.candidate_version] = compared.decision.promote
                result.packages[compared.candidate_version] = package.status
                say(f"      registered version {package.version}: {package.status}  {package.model_data_url}")

        with step("7/7 The local endpoint serves the approved package, without a restart"):
            approved = registry.approved()
            fetched = registry.fetch(approved, work / "approved" / "model.tar.gz")
            result.served_after = server.replace(fetched)
            say(
                f"    approved: version {approved.version} ({approved.metadata.get('model_version')}), digest checked"
            )
            say(f"    model server on {server.url}: now serving {result.served_after}")
            row = customers[0]
            again = upload(
                s3,
                pipeline,
                label="after the swap",
                customer_id=row[CUSTOMER_ID],
                call_id=f"{row[CALL_ID]}-after",
                kind="sidecar",
                turns=turns_of(row),
            )
            items = wait_for_calls(stack, pipeline, [again.key], rejected=lambda key: False, timeout_s=120)
            item = items[again.key]
            result.scored_after = str(item.get("model_version"))
            say(
                f"    {again.key}: {item.get('status')}, probability {float(item.get('probability', 0)):.3f}, "
                f"model_version {result.scored_after}"
            )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_local.loop", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--calls", type=int, default=DEFAULT_CALLS, help=f"calls scored (default {DEFAULT_CALLS})"
    )
    parser.add_argument(
        "--day-one-rows", type=int, default=DEFAULT_DAY_ONE_ROWS, help="the first model's training rows"
    )
    parser.add_argument(
        "--work", type=Path, default=STATE_DIR / "loop", help="where the loop writes (replaced)"
    )
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--bootstrap", type=int, default=500, help="paired bootstrap resamples")
    parser.add_argument(
        "--margin",
        type=float,
        default=DEFAULT_MARGIN,
        help=f"how much worse the ROC AUC interval may reach (promote's default {DEFAULT_MARGIN})",
    )
    parser.add_argument("--no-check", action="store_true", help="skip the model check (free-form pairs)")
    args = parser.parse_args(argv)
    if args.calls < 60 or args.day_one_rows < 30:
        parser.error("--calls must be at least 60 and --day-one-rows at least 30 (both labels are needed)")
    started = time.monotonic()
    result = run(
        calls=args.calls,
        day_one_rows=args.day_one_rows,
        work=args.work,
        template=args.template,
        bootstrap=args.bootstrap,
        margin=args.margin,
        model_check=not args.no_check,
    )
    say(
        f"\nloop done in {time.monotonic() - started:.0f}s: served {result.served_before} -> {result.served_after}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
