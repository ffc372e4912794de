"""The whole pipeline on this machine, no AWS account: ``make demo``.

Generates data, trains (or reuses an unchanged model), starts the local model server, local
AWS and local transcription, loads the customer profiles, subscribes a retention-team queue
to the alert topic, uploads a handful of recordings and prints what happened to each.

    python -m churn_local.demo                  # small data set, a few minutes on 2 cores
    python -m churn_local.demo --full           # the full 50,000 rows
    python -m churn_local.demo --keep-running   # then leave the stack up for your own recordings
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn_contracts.calls import CallStatus
from churn_contracts.features import PROFILE_FEATURES, TEXT

from .calls import format_table
from .profiles import load_profiles, print_report
from .scenario import Observer, Pipeline, RetentionTeam, Upload, call_items, turns_of, upload, wait_for_calls
from .stack import STATE_DIR, STATE_FILE, LocalStack, read_state

# The demo's training size: its model check and its time are in model/README.md (Evaluation).
SMALL_ROWS = 2000
# A quarter of the small set held out: the model check's test AUC on 500 rows, not 200; the
# intent model's few weights need no more than the 1,500 left. The full set keeps the usual tenth.
SMALL_TEST_FRACTION = 0.25
FULL_ROWS = 50_000
SEED = 7
# Test customers scored one request each to pick the clear cases: about 30 churners among them.
PICK_SAMPLE = 200


# --- console -----------------------------------------------------------------------------------


_last_output = [time.monotonic()]


def say(message: str) -> None:
    print(message, flush=True)
    _last_output[0] = time.monotonic()


@contextmanager
def step(title: str, heartbeat_s: float = 3.0) -> Iterator[None]:
    """Print the step, a heartbeat while it runs, and its time; nothing stays silent for long."""
    say(f"\n==> {title}")
    started = time.monotonic()
    done = threading.Event()

    def beat() -> None:
        # Only when nothing else was printed for a while: a step's own progress is enough.
        while not done.wait(0.5):
            if time.monotonic() - _last_output[0] >= heartbeat_s:
                say(f"    ... {title.lower()} ({time.monotonic() - started:.0f}s)")

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        say(f"    done in {time.monotonic() - started:.1f}s")


def run_streaming(command: Sequence[str], prefix: str) -> None:
    """Run a child command, echoing its output (progress bars included) with a prefix."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
        list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            for part in line.rstrip("\n").split("\r"):
                if part.strip():
                    say(f"    {prefix} {part.strip()}")
        code = process.wait()
    except BaseException:
        process.terminate()
        process.wait()
        raise
    if code != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed with exit status {code}")


# --- data and model ----------------------------------------------------------------------------


def _digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def holdout_fraction(rows: int) -> float:
    return 0.1 if rows >= FULL_ROWS else SMALL_TEST_FRACTION


def prepare_data(rows: int, data_dir: Path) -> Path:
    oracle = data_dir / "oracle.json"
    if oracle.is_file() and (data_dir / "test.jsonl").is_file():
        report = json.loads(oracle.read_text())
        test_rows = report.get("test", {}).get("rows")
        if (
            report.get("rows") == rows
            and report.get("seed") == SEED
            and test_rows == round(rows * holdout_fraction(rows))
        ):
            say(f"    reusing {data_dir} ({rows} rows, seed {SEED})")
            return data_dir
    command = [sys.executable, "-m", "churn_model.data.generate", "--rows", str(rows), "--seed", str(SEED)]
    command += ["--test-fraction", str(holdout_fraction(rows))]
    run_streaming([*command, "--out", str(data_dir)], "[data]")
    return data_dir


def prepare_model(data_dir: Path, model_dir: Path, retrain: bool) -> Path:
    """Train unless the model in ``model_dir`` was trained from these data and this code."""
    import churn_model

    package = Path(churn_model.__file__).parent
    code = [p for p in package.rglob("*.py") if "serving" not in p.relative_to(package).parts]
    inputs = _digest([data_dir / "train.jsonl", data_dir / "test.jsonl", *code])
    stamp = model_dir.with_name(model_dir.name + ".inputs.sha256")
    if not retrain and model_dir.is_dir() and stamp.is_file() and stamp.read_text().strip() == inputs:
        say(f"    reusing {model_dir} (same data and training code)")
        return model_dir
    command = [
        sys.executable,
        "-m",
        "churn_model.train",
        "--train",
        str(data_dir / "train.jsonl"),
        "--test",
        str(data_dir / "test.jsonl"),
        "--model-dir",
        str(model_dir),
        "--no-plots",
        "--best-flags",  # the measured best flags, as ops train them
    ]
    run_streaming(command, "[train]")
    stamp.write_text(inputs + "\n")
    return model_dir


def print_model_check(model_dir: Path) -> None:
    """The "model check" block training wrote to metrics.json: test AUC against the oracle, the
    seed's pair with both scores, and the free-form pairs passed out of the total."""
    try:
        metrics = json.loads((model_dir / "metrics.json").read_text())
        found = metrics["checks"]
        seed, freeform = found["seed_pair"], found["freeform"]
    except (OSError, ValueError, KeyError, TypeError):
        say("    model check: not in this model's metrics.json (retrain with --retrain)")
        return
    auc = metrics.get("test", {}).get("roc_auc")
    oracle = metrics.get("oracle", {}).get("roc_auc")
    say("    model check")
    if auc is not None:
        against = f" (oracle {oracle:.3f}, {auc / oracle:.3f} of it)" if oracle else ""
        say(f"      test ROC AUC      {auc:.3f}{against}")
    verdict = "PASS" if seed["ok"] else "FAIL"
    say(f"      seed's pair       unhappy {seed['negative']:.3f} vs happy {seed['positive']:.3f}: {verdict}")
    say(
        f"      free-form pairs   {freeform['passed']}/{freeform['total']} = {freeform['share']:.1%} "
        f"(goal >= 95 %): {'PASS' if freeform['ok'] else 'FAIL'}"
    )
    if not found.get("passed"):
        say("    the model fails its check: train on more rows (--rows, or --full)")


def demo_thresholds(model_dir: Path, chosen: Mapping[str, Sequence[Chosen]]) -> dict[str, str]:
    """Risk thresholds for this model, as template parameters (``--param`` overrides them).

    Training's rule (metrics.json) sets them from the trained model's own test metrics; the demo
    uses them as they are (the template's defaults are for the reference model).
    """
    try:
        thresholds = json.loads((model_dir / "metrics.json").read_text())["thresholds"]
        high, medium = float(thresholds["high"]), float(thresholds["medium"])
    except (OSError, ValueError, KeyError, TypeError):
        say("    no thresholds in the model's metrics.json: using the template's defaults")
        return {}
    say(f"    risk thresholds chosen by training (metrics.json): high {high:.2f}, medium {medium:.2f}")
    above = sum(c.probability >= high for c in chosen["angry"])
    if above < len(chosen["angry"]):
        say(
            f"    note: {above} of the {len(chosen['angry'])} clearest angry customers reach the high threshold"
        )
    params = {"HighRiskThreshold": f"{high:g}", "MediumRiskThreshold": f"{medium:g}"}
    # What the alert's "about N in 10" rests on: the precision at high and how many customers scored
    # that high (metrics.json's at_high; absent from older models, and the alert then says so).
    at_high = thresholds.get("at_high") or {}
    if isinstance(at_high.get("precision"), (int, float)) and 0.01 <= at_high["precision"] <= 1:
        params["HighRiskPrecision"] = f"{at_high['precision']:.2f}"
    if isinstance(at_high.get("flagged"), int) and at_high["flagged"] > 0:
        params["HighRiskCustomers"] = str(at_high["flagged"])
    return params


# --- the calls -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chosen:
    label: str
    row: Mapping[str, Any]
    probability: float


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def score_rows(
    stack: Any, endpoint_name: str, rows: Sequence[Mapping[str, Any]], *, redacted: bool = True
) -> list[float]:
    """Score rows on the local endpoint, to pick clearly happy and clearly angry customers.

    One record per request, as the score function sends them: the model server's batch
    answers differ from its single-record ones (see the report), and the pick must hold
    for the pipeline's scores. With PII redaction (the template's default) the pipeline scores
    the redacted text, so the pick does too.
    """
    from churn_contracts.conversation import Role, Turn

    from .transcribe.processing import redact

    runtime = stack.client("sagemaker-runtime")
    probabilities: list[float] = []
    for row in rows:
        text = row[TEXT]
        if redacted and text:
            text = redact([Turn(Role.CUSTOMER, text, 0.0)])[0].text
        record = {**{name: row.get(name) for name in PROFILE_FEATURES}, TEXT: text}
        response = runtime.invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType="application/json",
            Accept="application/json",
            Body=json.dumps(record),
        )
        probabilities.append(float(json.loads(response["Body"].read())["probability"]))
    return probabilities


def choose_calls(
    rows: Sequence[Mapping[str, Any]], probabilities: Sequence[float]
) -> dict[str, list[Chosen]]:
    scored = list(zip(rows, probabilities, strict=True))
    angry = sorted((x for x in scored if x[0]["y"] == 1), key=lambda x: -x[1])[:8]
    happy = sorted((x for x in scored if x[0]["y"] == 0), key=lambda x: x[1])[:2]
    if len(angry) < 3 or len(happy) < 2:
        raise SystemExit("the test set has too few churners or stayers to pick calls from; use more --rows")
    # The audio call goes through real ASR: the shortest of the angry calls keeps it quick.
    asr = min(angry[2:], key=lambda x: sum(len(t["text"].split()) for t in x[0]["turns"]))
    return {
        "happy": [Chosen(f"happy #{i + 1}", r, p) for i, (r, p) in enumerate(happy)],
        "angry": [Chosen(f"angry #{i + 1}", r, p) for i, (r, p) in enumerate(angry[:2])],
        "asr": [Chosen("audio via ASR", asr[0], asr[1])],
    }


def upload_fast_path(stack: LocalStack, pipeline: Pipeline, chosen: dict[str, list[Chosen]]) -> list[Upload]:
    s3 = stack.client("s3")
    uploads: list[Upload] = []
    for pick in chosen["happy"] + chosen["angry"]:
        row = pick.row
        uploads.append(
            upload(
                s3,
                pipeline,
                label=pick.label,
                customer_id=row["customer_id"],
                call_id=row["call_id"],
                kind="sidecar",
                turns=turns_of(row),
            )
        )
        say(f"    {pick.label:<22} {uploads[-1].key}  (+ sidecar transcript)")
    # The same angry customer calls again with the same complaint: scored and stored, but inside
    # the customer's suppression window, so no second alert.
    first_angry = chosen["angry"][0].row
    uploads.append(
        upload(
            s3,
            pipeline,
            label="angry #1 calls again",
            customer_id=first_angry["customer_id"],
            call_id=f"{first_angry['call_id']}-again",
            kind="sidecar",
            turns=turns_of(first_angry),
        )
    )
    say(f"    {'angry #1 calls again':<22} {uploads[-1].key}  (+ sidecar transcript)")
    # The duplicate: EventBridge delivers at least once, so happy #1's event is delivered again
    # once its first delivery has run (redeliver_duplicates). A re-upload would be a new object
    # version, and rightly a new job.
    happy = uploads[0]
    uploads.append(Upload("duplicate of happy #1", happy.key, happy.customer_id, "duplicate", time.time()))
    say(f"    {'duplicate of happy #1':<22} {happy.key}  (its event will be delivered twice)")
    unsupported = upload(
        s3,
        pipeline,
        label="unsupported file",
        customer_id=chosen["happy"][1].row["customer_id"],
        call_id="notes",
        kind="unsupported",
        audio=b"call notes, not audio\n",
        extension="txt",
    )
    uploads.append(unsupported)
    say(f"    {'unsupported file':<22} {unsupported.key}")
    return uploads


def upload_audio_call(
    stack: LocalStack, pipeline: Pipeline, chosen: dict[str, list[Chosen]], work: Path
) -> list[Upload]:
    """The call with no sidecar: espeak-ng speaks it, the local recogniser transcribes it."""
    s3 = stack.client("s3")
    uploads: list[Upload] = []
    asr = chosen["asr"][0]
    try:
        from .transcribe.recordings import espeak_available, synthesize_call

        if not espeak_available():
            raise RuntimeError("espeak-ng is not installed (apt-get install -y espeak-ng)")
        wav = work / f"{asr.row['call_id']}.wav"
        seconds = synthesize_call(turns_of(asr.row), wav)
        uploads.append(
            upload(
                s3,
                pipeline,
                label=asr.label,
                customer_id=asr.row["customer_id"],
                call_id=asr.row["call_id"],
                kind="asr",
                turns=turns_of(asr.row),
                audio=wav,
            )
        )
        say(f"    {asr.label:<22} {uploads[-1].key}  ({seconds:.0f}s of espeak-ng audio, no sidecar)")
    except Exception as exc:  # the demo still runs the fast path without a synthesiser
        say(f"    skipping the audio call: {exc}")
    return uploads


# --- the report ----------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def redeliver_duplicates(stack: LocalStack, observer: Observer, uploads: Sequence[Upload]) -> None:
    """Deliver each duplicate's first start event once more, as EventBridge may."""
    start = stack.invokers["StartTranscriptionFunction"]
    for up in uploads:
        if up.kind != "duplicate":
            continue
        first = next(
            (o for _, o in observer.of("StartTranscriptionFunction") if _event_key(o.event) == up.key), None
        )
        if first is not None:
            start.invoke_async(first.event)


def _event_key(event: Any) -> str | None:
    return ((event or {}).get("detail") or {}).get("object", {}).get("key")


def _start_summary(observer: Observer) -> tuple[set[str], int]:
    rejected, duplicates = set(), 0
    for _, outcome in observer.of("StartTranscriptionFunction"):
        result = outcome.invocations[-1].result if outcome.ok else None
        if isinstance(result, dict):
            duplicates += len(result.get("duplicates") or [])
            if result.get("rejected"):
                key = _event_key(outcome.event)
                rejected.add(key)
    return rejected, duplicates


def _briefing(message: Any) -> list[str]:
    """An alert's why and offer (schema 1.1), in two lines; nothing for older alerts."""
    if isinstance(message, str):
        with contextlib.suppress(ValueError):
            message = json.loads(message)
    if not isinstance(message, dict) or "reasons" not in message:
        return []
    why = "; ".join(
        r.get("text")  # 1.2: in an agent's words
        or f"{r.get('name') if r.get('kind') == 'profile' else repr(r.get('value'))} "
        f"(+{100 * float(r.get('effect', 0)):.0f} pts{', ' + r['topic'] if r.get('topic') else ''})"
        for r in message["reasons"]
    )
    offer = message.get("offer") or {}
    offered = f"{offer['offer_id']}: {offer['text']}" if offer else f"none ({message.get('offer_reason')})"
    return [f"why:   {why or 'no single factor stood out'}", f"offer: {offered}"]


def renderings(item: Mapping[str, Any]) -> dict[str, Any]:
    """The email and the chat card of a call's alert, as stored with its claim (schema 1.2)."""
    stored = item.get("alert")
    if not isinstance(stored, Mapping) or not isinstance(stored.get("message"), str):
        return {}
    with contextlib.suppress(TypeError, ValueError):
        structure = json.loads(stored["message"])
        return {"email": structure.get("email"), "chat": json.loads(structure.get("https") or "null")}
    return {}


def print_renderings(
    stack: LocalStack, items: Mapping[str, Mapping[str, Any]], alerts: Sequence[Any], team: RetentionTeam
) -> None:
    """What the team reads: each alert's email and chat card, the follow-ups, and the day's digest."""
    for item in items.values():
        shown = renderings(item)
        if not shown:
            continue
        say(f"\n==> The email for customer {item.get('customer_id')} (what an email subscriber reads)")
        say("    " + str(shown["email"]).replace("\n", "\n    "))
        say("\n==> The chat card (AWS Chatbot custom notification, Slack/Teams)")
        say("    " + json.dumps(shown["chat"], indent=2, ensure_ascii=False).replace("\n", "\n    "))
    for alert in alerts:
        message = alert.get("Message")
        if isinstance(message, dict) and message.get("type") == "churn-risk-follow-up":
            say(
                f"\n==> Follow-up for customer {message.get('customer_id')} (a repeat call inside the quiet window)"
            )
            say("    " + "\n    ".join(message.get("headline") or []))
    digest = run_digest(stack, team)
    if digest:
        say("\n==> The daily digest (tomorrow 06:00 UTC, for today)")
        say("    " + str(digest.get("text")).replace("\n", "\n    "))


def run_digest(stack: LocalStack, team: RetentionTeam) -> dict[str, Any] | None:
    """Run the stack's AlertDigestFunction as tomorrow morning's schedule would; the team reads it."""
    invoker = getattr(stack, "invokers", {}).get("AlertDigestFunction")
    if invoker is None:
        return None
    from .stack import scheduled_event

    tomorrow = time.strftime("%Y-%m-%dT06:00:00Z", time.gmtime(time.time() + 86400))
    try:
        outcome = invoker.invoke_async({**scheduled_event(stack.region), "time": tomorrow})
        if outcome.condition != "Success":
            say(f"    (the digest function failed: {outcome.condition})")
            return None
        for envelope in team.poll(wait_s=2):
            message = envelope.get("Message")
            if isinstance(message, dict) and message.get("type") == "churn-risk-digest":
                return message
    except Exception as exc:  # the demo's summary is already printed; say why the digest is not
        say(f"    (the digest could not be read: {type(exc).__name__})")
    return None


def _alert_matches(alert: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    message = alert.get("Message")
    if not isinstance(message, dict):
        return False
    if message.get("job_name") and message.get("job_name") == item.get("job_name"):
        return True
    return message.get("call_id") == item.get("call_id") and message.get("customer_id") == item.get(
        "customer_id"
    )


def _is_suppressed(item: Mapping[str, Any]) -> bool:
    return item.get("status") == CallStatus.SCORED.value and bool(item.get("alert_suppressed"))


def report(
    stack: LocalStack,
    pipeline: Pipeline,
    uploads: Sequence[Upload],
    items: Mapping[str, Mapping[str, Any]],
    observer: Observer,
    team: RetentionTeam,
    wall_started: float,
) -> dict[str, Any]:
    rejected, duplicates = _start_summary(observer)
    starts = {}
    for finished, outcome in observer.of("StartTranscriptionFunction"):
        key = _event_key(outcome.event)
        starts.setdefault(key, finished)
    scores = observer.score_results()
    alerts = [a for _, a in team.received]

    say("\n==> Calls")
    rows, timings = [], {"started": [], "fast": [], "asr": [], "scoring": [], "alert": [], "e2e_fast": []}
    for up in uploads:
        if up.kind == "duplicate":
            rows.append([up.label, up.customer_id, "-", f"{duplicates} duplicate(s) ignored", "-", "-", ""])
            continue
        if up.key in rejected:
            rows.append([up.label, up.customer_id, "-", "REJECTED (unsupported file)", "-", "-", ""])
            continue
        item = items.get(up.key, {})
        probability = item.get("probability")
        note = ""
        if _is_suppressed(item):
            note = "alert suppressed (repeat call)"
        if item.get("failure_reason"):
            note = str(item["failure_reason"])[:50]
        if up.kind == "asr" and item.get("status") in {CallStatus.SCORED.value, CallStatus.ALERTED.value}:
            note = (note + "; " if note else "") + f"ASR WER {asr_wer(stack, item, up.reference_text):.2f}"
        rows.append(
            [
                up.label,
                up.customer_id,
                "ASR" if up.kind == "asr" else "sidecar",
                str(item.get("status", "-")),
                str(item.get("risk_level", "-")),
                f"{float(probability):.3f}" if probability is not None else "-",
                note,
            ]
        )
        started = starts.get(up.key)
        scored = scores.get(str(item.get("job_name")))
        if started:
            timings["started"].append(started - up.uploaded_at)
        if started and scored:
            finished, outcome = scored
            began = finished - outcome.invocations[-1].duration_s
            timings["asr" if up.kind == "asr" else "fast"].append(began - started)
            timings["scoring"].append(outcome.invocations[-1].duration_s)
            alert_time = next((t for t, a in team.received if _alert_matches(a, item)), None)
            if alert_time:
                timings["alert"].append(alert_time - began)
                if up.kind == "sidecar":
                    timings["e2e_fast"].append(alert_time - up.uploaded_at)
    say(format_table(("call", "customer", "path", "status", "risk", "probability", "note"), rows))

    say(f"\n==> Alerts received by the retention team ({len(alerts)})")
    for alert in alerts:
        message = alert.get("Message")
        attributes = {k: v.get("Value") for k, v in (alert.get("MessageAttributes") or {}).items()}
        say(f"  - attributes: {json.dumps(attributes)}")
        for line in _briefing(message):
            say(f"    {line}")
        text = json.dumps(message, indent=2) if isinstance(message, dict) else str(message)
        say("    " + text.replace("\n", "\n    "))
    print_renderings(stack, items, alerts, team)

    statuses = [i.get("status") for k, i in items.items() if k in {u.key for u in uploads}]
    failure_depth = sum(_depth(stack, url) for url in pipeline.failure_queue_urls)
    summary = {
        "uploads": sum(u.kind != "duplicate" for u in uploads),
        "calls": len(statuses),
        "scored": sum(s in {CallStatus.SCORED.value, CallStatus.ALERTED.value} for s in statuses),
        "alerted": sum(s == CallStatus.ALERTED.value for s in statuses),
        "suppressed": sum(_is_suppressed(i) for k, i in items.items() if k in {u.key for u in uploads}),
        "failed": sum(
            s in {CallStatus.TRANSCRIPTION_FAILED.value, CallStatus.SCORING_FAILED.value} for s in statuses
        ),
        "rejected": len(rejected),
        "duplicates": duplicates,
        "alerts_received": len(alerts),
        "on_failure_messages": failure_depth,
    }
    say("\n==> Summary")
    lines = [
        ["uploads", str(summary["uploads"]), "recordings put in the bucket"],
        ["calls", str(summary["calls"]), "call items in the calls table"],
        ["scored", str(summary["scored"]), "scored (alerted or not)"],
        ["alerted", str(summary["alerted"]), "high risk, alert sent"],
        ["suppressed", str(summary["suppressed"]), "repeat high-risk call in the quiet window: a follow-up"],
        ["failed", str(summary["failed"]), "transcription or scoring failed"],
        ["rejected", str(summary["rejected"]), "not a supported recording"],
        ["duplicates", str(summary["duplicates"]), "events delivered again, no second job"],
        ["on-failure", str(summary["on_failure_messages"]), "events in the functions' on-failure queues"],
    ]
    say(format_table(("what", "count", "meaning"), lines))
    say("\n    time per stage (median seconds)")
    stage_rows = [
        ["upload -> transcription job started", _median(timings["started"])],
        ["transcription, fast path (sidecar)", _median(timings["fast"])],
        ["transcription, ASR", _median(timings["asr"])],
        ["scoring (score function)", _median(timings["scoring"])],
        ["score function start -> alert received", _median(timings["alert"])],
        ["upload -> alert received, fast path", _median(timings["e2e_fast"])],
        ["demo wall time so far", f"{time.monotonic() - wall_started:.1f}"],
    ]
    say(format_table(("stage", "seconds"), stage_rows))
    summary["timings"] = timings
    return summary


def _depth(stack: LocalStack, url: str) -> int:
    from .scenario import queue_depth

    return queue_depth(stack, url)


def asr_wer(stack: LocalStack, item: Mapping[str, Any], reference: str) -> float:
    """Word error rate of the customer's side as transcribed, against what was spoken."""
    from churn_contracts.transcribe import parse_transcript

    from .transcribe.wer import word_error_rate

    job = stack.client("transcribe").get_transcription_job(TranscriptionJobName=item["job_name"])[
        "TranscriptionJob"
    ]
    # With PII redaction (the default) only the redacted transcript exists.
    uri = job["Transcript"].get("TranscriptFileUri") or job["Transcript"]["RedactedTranscriptFileUri"]
    bucket, key = _s3_location(uri)
    document = json.loads(stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    return word_error_rate(reference, parse_transcript(document).customer_text)


def _s3_location(uri: str) -> tuple[str, str]:
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return parsed.netloc, parsed.path.lstrip("/")
    bucket, _, key = parsed.path.lstrip("/").partition("/")
    return bucket, unquote(key)


# --- keep running ----------------------------------------------------------------------------------


def print_try_it(stack: LocalStack, pipeline: Pipeline, team: RetentionTeam) -> None:
    assert stack.endpoints is not None
    aws = stack.endpoints.aws
    say("\n==> The local stack stays up (Ctrl-C to stop it)")
    say(f"    local AWS (S3, DynamoDB, SNS, SQS, EventBridge): {aws}")
    say(f"    local Transcribe:                                {stack.endpoints.transcribe}")
    say(f"    local SageMaker Runtime (model server):          {stack.endpoints.sagemaker_runtime}")
    say("\n    Drop your own recordings in (AWS CLI: pip install awscli):")
    say(
        f"      export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={stack.region}"
    )
    say(
        f"      aws --endpoint-url {aws} s3 cp my-call.wav s3://{pipeline.bucket}/{pipeline.recordings_prefix}C000123/call-1.wav"
    )
    say("    Optional fast path (skips ASR): upload a sidecar transcript BEFORE the recording:")
    say(
        '      echo \'{"turns": [{"role": "customer", "text": "I want to cancel", "start_time": 0}]}\' > t.json'
    )
    say(
        f"      aws --endpoint-url {aws} s3 cp t.json s3://{pipeline.bucket}/local-transcripts/{pipeline.recordings_prefix}C000123/call-2.wav.json"
    )
    say(
        f"      aws --endpoint-url {aws} s3 cp my-call.wav s3://{pipeline.bucket}/{pipeline.recordings_prefix}C000123/call-2.wav"
    )
    say("    Watch them:")
    say("      python -m churn_local.calls             # recent calls and their status")
    say("      python -m churn_local.calls --alerts    # the alerts")
    say("      python -m churn_local.invoke StartTranscriptionFunction events/<event>.json")
    say("    New calls and alerts are printed below as they arrive.\n")


def watch(stack: LocalStack, pipeline: Pipeline, team: RetentionTeam, seen: dict[str, str]) -> None:
    dynamodb = stack.client("dynamodb")
    while True:
        for key, item in call_items(dynamodb, pipeline.calls_table).items():
            status = str(item.get("status"))
            if seen.get(key) != status:
                seen[key] = status
                probability = item.get("probability")
                extra = (
                    f" risk {item.get('risk_level')} p={float(probability):.3f}"
                    if probability is not None
                    else ""
                )
                say(f"    call {key}: {status}{extra}")
        team_alerts = len(team.received)
        team.poll(wait_s=1)
        for _, alert in team.received[team_alerts:]:
            message = alert.get("Message")
            say(f"    ALERT: {json.dumps(message)[:300]}")


# --- main -------------------------------------------------------------------------------------------


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_local.demo", description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help=f"generate the full {FULL_ROWS:,} rows")
    size.add_argument("--rows", type=int, default=SMALL_ROWS, help=f"rows to generate (default {SMALL_ROWS})")
    parser.add_argument("--data-dir", type=Path, help="default: data/demo-<rows>")
    parser.add_argument(
        "--model-dir", type=Path, default=Path(os.environ.get("ARTIFACTS", "artifacts")) / "model"
    )
    parser.add_argument(
        "--retrain", action="store_true", help="train even if the model's inputs are unchanged"
    )
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="template parameter override"
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the stack up for your own recordings"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the calls")
    args = parser.parse_args(argv)
    rows = FULL_ROWS if args.full else args.rows
    data_dir = args.data_dir or Path("data") / f"demo-{rows}"
    signal.signal(signal.SIGTERM, _raise_interrupt)
    wall_started = time.monotonic()
    try:
        return _run(args, rows, data_dir, wall_started)
    except KeyboardInterrupt:
        say("\ninterrupted: everything the demo started has been stopped")
        return 130


def _run(args: argparse.Namespace, rows: int, data_dir: Path, wall_started: float) -> int:
    # The stack deploys through moto's CloudFormation, whose import takes seconds of CPU: done
    # while the data and the model are made (mostly native code), not when the stack starts.
    from .spec import prewarm

    threading.Thread(target=prewarm, name="prewarm-deploy", daemon=True).start()
    parameters = dict(p.partition("=")[::2] for p in args.param)
    with step(f"1/6 Data: {rows:,} customers with their calls"):
        prepare_data(rows, data_dir)
    with step("2/6 Model: train (or reuse)"):
        model_dir = prepare_model(data_dir, args.model_dir, args.retrain)
    print_model_check(model_dir)
    log_dir = STATE_DIR / "demo-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_files: dict[str, Any] = {}
    log_lock = threading.Lock()
    # The local services log through `logging`; to a file, so the terminal shows the story.
    services_log = logging.FileHandler(log_dir / "services.log")
    services_log.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("churn_local", "churn_model"):
        logging.getLogger(name).addHandler(services_log)
        logging.getLogger(name).setLevel(logging.INFO)
        logging.getLogger(name).propagate = False

    def log_sink(function: str, line: str) -> None:
        with log_lock:
            if function not in log_files:
                log_files[function] = (log_dir / f"{function}.log").open("a", buffering=1)
            log_files[function].write(line + "\n")
        if '"level":"ERROR"' in line.replace(" ", "") or line.startswith("[ERROR]"):
            say(f"    [{function}] {line[:300]}")

    exit_stack = contextlib.ExitStack()
    state_written = False
    try:
        with step("3/6 Start the local model server and pick the calls"):
            from churn_model.serving.server import LocalEndpointServer

            model_server = exit_stack.enter_context(LocalEndpointServer(model_dir, host="127.0.0.1", port=0))
            say(f"    model server (SageMaker Runtime API) on {model_server.url}")
            test_rows = read_jsonl(data_dir / "test.jsonl")
            sample = random.Random(SEED).sample(test_rows, min(PICK_SAMPLE, len(test_rows)))
            say(f"    scoring {len(sample)} test customers, one request each, to pick clear cases")
            runtime = _Runtime(model_server.url)
            redacted = parameters.get("PiiRedaction", "true").lower() != "false"
            probabilities = score_rows(
                runtime, _endpoint_name(args.template, parameters), sample, redacted=redacted
            )
            chosen = choose_calls(sample, probabilities)
            parameters = {**demo_thresholds(model_dir, chosen), **parameters}
        observer = Observer()
        stack = LocalStack(
            args.template,
            parameters=parameters,
            sagemaker_runtime_url=model_server.url,
            log_sink=log_sink,
            on_outcome=observer,
            progress=lambda message: say(f"    {message}"),
        )
        with step("4/6 Start local AWS and local transcription from template.yaml"):
            stack.start()
            exit_stack.callback(stack.stop)
        pipeline = Pipeline.from_stack(stack)
        if read_state() is None:
            _write_state(stack, parameters, model_dir)
            state_written = True
        with step("5/6 Load customer profiles, subscribe the retention team, upload the fast-path calls"):
            table = _profiles_table(stack, pipeline)
            report_ = load_profiles(((i + 1, r) for i, r in enumerate(test_rows)), table)
            print_report(report_, pipeline.profiles_table)
            team = RetentionTeam(stack, pipeline.alert_topic_arn)
            say(f"    retention-team queue subscribed to {pipeline.alert_topic_arn.split(':')[-1]}")
            uploads = upload_fast_path(stack, pipeline, chosen)
        listener = threading.Thread(target=_listen, args=(team,), daemon=True)
        listener.start()
        rejected_keys: set[str] = set()

        def rejected(key: str) -> bool:
            rejected_keys.update(_start_summary(observer)[0])
            return key in rejected_keys

        def run_chain(batch: Sequence[Upload]) -> dict[str, dict[str, Any]]:
            return wait_for_calls(
                stack,
                pipeline,
                [u.key for u in batch if u.kind != "duplicate"],
                rejected=rejected,
                timeout_s=args.timeout,
                progress=lambda message: say(f"    {message}"),
            )

        with step("6/6 Run the chain: S3 -> start function -> Transcribe -> score function -> SNS"):
            run_chain(uploads)
            redeliver_duplicates(stack, observer, uploads)
            say("    fast-path calls done; now one call through real speech recognition")
            work = STATE_DIR / "demo-recordings"
            work.mkdir(parents=True, exist_ok=True)
            uploads += upload_audio_call(stack, pipeline, chosen, work)
            items = run_chain(uploads)
            time.sleep(1.5)  # alerts still in flight from the last score
            team.poll()
        report(stack, pipeline, uploads, items, observer, team, wall_started)
        say(f"\n    function logs: {log_dir}/")
        with step("Bulk rescore of every customer: export -> score -> report (no alerts sent)"):
            bulk_rescore(stack, pipeline, model_dir, parameters)
        if args.keep_running:
            print_try_it(stack, pipeline, team)
            watch(stack, pipeline, team, {k: str(i.get("status")) for k, i in items.items()})
    finally:
        say("\n==> Stopping everything the demo started")
        if state_written:
            (STATE_DIR / STATE_FILE).unlink(missing_ok=True)
        exit_stack.close()
        for handle in log_files.values():
            handle.close()
    return 0


def bulk_rescore(
    stack: LocalStack, pipeline: Pipeline, model_dir: Path, parameters: Mapping[str, str]
) -> None:
    """The weekly list: every customer's newest call rescored in bulk (issue 15), then the report."""
    from churn_model.batch import DEFAULT_EXPLAIN, model_thresholds, run_batch
    from churn_model.batch_report import write_report
    from churn_model.serving.handlers import model_fn
    from churn_ops.export_latest_calls import Sources, export

    work = STATE_DIR / "demo-batch"
    sources = Sources(
        stack.table(pipeline.profiles_table), stack.table(pipeline.calls_table), stack.client("s3")
    )
    exported = export(sources, work / "customers.jsonl")
    say(f"    exported {exported.customers} customers ({exported.with_call} with a scored call)")
    model = model_fn(str(model_dir))
    # The stack's thresholds (the demo's), so bulk levels match the pipeline's.
    medium, high = (parameters.get(k) for k in ("MediumRiskThreshold", "HighRiskThreshold"))
    thresholds = model_thresholds(model, float(medium) if medium else None, float(high) if high else None)
    summary = run_batch(
        model,
        work / "customers.jsonl",
        work / "scores.jsonl",
        thresholds=thresholds,
        restart=True,
        explain=DEFAULT_EXPLAIN,  # the weekly list explains: reasons, topics, the offer by topic
    )
    say(f"    scored {summary.scored} ({summary.records_per_s:.0f} records/s), levels {summary.by_level}")
    written = write_report(
        work / "scores.jsonl",
        work / "report",
        thresholds=thresholds,
        top=20,
        input_path=work / "customers.jsonl",
    )
    for path in written.files:
        if path.suffix in (".csv", ".png"):
            say(f"    report: {path}")


def _listen(team: RetentionTeam) -> None:
    while True:
        try:
            team.poll(wait_s=1)
        except Exception:
            return


def _profiles_table(stack: LocalStack, pipeline: Pipeline) -> Any:
    return stack.table(pipeline.profiles_table)


class _Runtime:
    """A SageMaker Runtime client on the local model server, for score_rows."""

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, service: str) -> Any:
        from .aws import client

        return client(service, self.url, "us-east-1")


def _endpoint_name(template: str, parameters: Mapping[str, str]) -> str:
    # Before the stack is deployed: locally no SageMaker endpoint is created, so the score function
    # is given the EndpointName parameter (and the local model server answers any name anyway).
    from churn_ops.template_rules import check_parameters, load_template

    return check_parameters(load_template(template), parameters).get("EndpointName") or "churn-endpoint"


def _write_state(stack: LocalStack, parameters: Mapping[str, str], model_dir: Path) -> None:
    assert stack.endpoints is not None and stack.spec is not None
    STATE_DIR.mkdir(exist_ok=True)
    state = {
        "pid": os.getpid(),
        "started_at": time.time(),
        "template": str(stack.template.resolve()),
        "parameters": dict(parameters),
        "model_dir": str(model_dir),
        "endpoints": stack.endpoints.to_dict(),
        "outputs": stack.spec.outputs,
        "owner": "demo",
    }
    (STATE_DIR / STATE_FILE).write_text(json.dumps(state, indent=2))


if __name__ == "__main__":
    sys.exit(main())
