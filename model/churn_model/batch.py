"""Score a JSON Lines file in bulk with the endpoint's own handlers: the local batch transform.

    python -m churn_model.batch --model DIR --input IN.jsonl --output OUT.jsonl [--report-dir DIR]

Every chunk goes through ``input_fn`` -> ``predict_fn`` -> ``output_fn`` exactly as a SageMaker
Batch Transform mini-batch does (JSON Lines in, JSON Lines out), so a bulk score is the score the
endpoint gives. Each output line is one input line, in input order:

- ``{"line", <ids>, "probability", "risk_level", "model_version", "missing_features", ...}``;
- ``{"line", <ids>, "error", "status"}`` for a record the endpoint refuses (the run goes on).

``<ids>`` are the input's ``customer_id``, ``call_id`` and ``job_name`` when present: echoed for
joining, never features (the contract ignores fields the model does not read).

Memory stays flat: the input is read line by line and each chunk is written (and synced) before
the next is read. Re-running with the same output resumes after its last complete line; a line
cut short by the interruption is dropped and scored again. The exit status is 0 even when some
records were refused; non-zero only for a systemic failure (the model cannot load, the model
fails record after record, nothing at all could be scored, the input or output is unusable).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from churn_contracts.endpoint import JSON, JSON_LINES, MAX_BATCH_RECORDS, MAX_BODY_BYTES
from churn_contracts.features import CALL_ID, CUSTOMER_ID
from churn_contracts.risk import DEFAULT_HIGH_RISK_THRESHOLD, DEFAULT_MEDIUM_RISK_THRESHOLD, RiskThresholds

from .serving.handlers import input_fn, model_fn, output_fn, predict_fn

logger = logging.getLogger("churn_model.batch")

ID_FIELDS: tuple[str, ...] = (CUSTOMER_ID, CALL_ID, "job_name")
# The weekly list explains by default: reasons, and the call's topics for the offer.
DEFAULT_EXPLAIN = 3
# 32 records per request: as the endpoint serves a batch; bigger chunks buy nothing on a CPU.
DEFAULT_CHUNK = 32
# Below SageMaker's 6 MB payload limit, with room for the line that tips a chunk over.
CHUNK_BYTES = MAX_BODY_BYTES - 512 * 1024
# The template's defaults (the reference model's suggested thresholds), used when neither the
# flags nor the model's own metadata give any.
DEFAULT_THRESHOLDS = {"medium": DEFAULT_MEDIUM_RISK_THRESHOLD, "high": DEFAULT_HIGH_RISK_THRESHOLD}
# This many records in a row failing inside the model (5xx) is the model, not the data.
MAX_CONSECUTIVE_MODEL_FAILURES = 20
RUN_SUFFIX = ".run.json"


class SystemicFailure(RuntimeError):
    """The run cannot go on: not one bad record, but the model, the input or the output."""


@dataclass(frozen=True)
class InputLine:
    number: int
    raw: bytes
    ids: dict[str, Any]
    readable: bool  # a JSON object: it may join a chunk; otherwise it is scored alone for its message


@dataclass
class _Context:
    """The TorchServe-style request context the handlers set the status on."""

    status: int = 200

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.status = code


@dataclass
class BatchSummary:
    input: str
    output: str
    model_version: str
    thresholds: dict[str, float]
    resumed_after_line: int = 0  # lines up to this one were already in the output
    scored: int = 0
    errors: int = 0
    by_level: dict[str, int] = field(default_factory=lambda: {"low": 0, "medium": 0, "high": 0})
    seconds: float = 0.0

    @property
    def records_per_s(self) -> float:
        done = self.scored + self.errors
        return done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "records_per_s": round(self.records_per_s, 2)}


# --- reading -----------------------------------------------------------------------------------


def read_input(path: Path, *, after: int = 0) -> Iterator[InputLine]:
    """The input's non-blank lines after line ``after``, one at a time."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number <= after or not raw.strip():
                continue
            raw = raw.rstrip(b"\r\n")
            try:
                obj = json.loads(raw)
            except ValueError:
                yield InputLine(number, raw, {}, readable=False)
                continue
            if not isinstance(obj, dict):
                yield InputLine(number, raw, {}, readable=False)
                continue
            ids = {name: obj[name] for name in ID_FIELDS if obj.get(name) is not None}
            yield InputLine(number, raw, ids, readable=True)


def count_lines(path: Path) -> int:
    """Lines in the file, counted in blocks (for the progress bar's total)."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def chunked(lines: Iterable[InputLine], size: int, max_bytes: int = CHUNK_BYTES) -> Iterator[list[InputLine]]:
    """Chunks of at most ``size`` lines and ``max_bytes`` of body."""
    chunk: list[InputLine] = []
    nbytes = 0
    for line in lines:
        if chunk and (len(chunk) >= size or nbytes + len(line.raw) + 1 > max_bytes):
            yield chunk
            chunk, nbytes = [], 0
        chunk.append(line)
        nbytes += len(line.raw) + 1
    if chunk:
        yield chunk


# --- resuming ----------------------------------------------------------------------------------


def resume_point(output: Path) -> int:
    """The input line number the output ends at (0: none); a partial last line is cut off."""
    if not output.exists() or output.stat().st_size == 0:
        return 0
    with output.open("r+b") as handle:
        size = handle.seek(0, os.SEEK_END)
        tail, position = b"", size
        # Read back until the last complete line is in hand: two newlines, or the start of file.
        while position > 0 and tail.count(b"\n") < 2:
            step = min(64 * 1024, position)
            position -= step
            handle.seek(position)
            tail = handle.read(step) + tail
        if not tail.endswith(b"\n"):
            keep = tail.rfind(b"\n") + 1  # 0 when there is no complete line at all
            handle.truncate(position + keep)
            tail = tail[:keep]
            logger.warning("dropped an incomplete last line from %s; it is scored again", output)
    lines = tail.rstrip(b"\n").split(b"\n")
    if not lines[-1]:
        return 0
    try:
        return int(json.loads(lines[-1])["line"])
    except (ValueError, KeyError, TypeError):
        raise SystemicFailure(
            f"{output} is not the output of a batch run (its last line has no 'line')"
        ) from None


def _run_file(output: Path) -> Path:
    return output.with_name(output.name + RUN_SUFFIX)


def check_resumable(output: Path, run: Mapping[str, Any]) -> None:
    """Refuse to append to an output written by another model, thresholds or input."""
    previous_file = _run_file(output)
    if not previous_file.exists():
        raise SystemicFailure(
            f"{output} exists but {previous_file.name} does not: pass --restart to overwrite"
        )
    previous = json.loads(previous_file.read_text())
    for key in ("model_version", "thresholds", "input_bytes"):
        if previous.get(key) != run.get(key):
            raise SystemicFailure(
                f"{output} was written with another {key.replace('_', ' ')} "
                f"({previous.get(key)!r}, now {run.get(key)!r}): pass --restart to overwrite"
            )


# --- scoring -----------------------------------------------------------------------------------


_WHERE = re.compile(r"^(?:(?:line|record) 1\b|instances\[0\])")


class ChunkScorer:
    """Scores chunks through the handlers; a refused chunk is split until the refused records are alone."""

    def __init__(self, model: Any, thresholds: Mapping[str, float], explain: int | None = None) -> None:
        self.model = model
        self.explain = explain
        self.thresholds = RiskThresholds(float(thresholds["medium"]), float(thresholds["high"]))
        self.model_failures_in_a_row = 0

    def invoke(self, lines: Sequence[InputLine]) -> tuple[int, bytes]:
        body = b"".join(line.raw + b"\n" for line in lines)
        content_type = JSON_LINES
        if self.explain and all(line.readable for line in lines):
            # JSON Lines has no top level to ask for reasons on: the same records as one JSON batch.
            body = b'{"explain": %d, "instances": [%s]}' % (
                self.explain,
                b",".join(line.raw for line in lines),
            )
            content_type = JSON
        context = _Context()
        try:
            data = input_fn(body, content_type, context)
            result = predict_fn(data, self.model, context)
            payload, _ = output_fn(result, JSON_LINES, context)
        except Exception:  # the handlers never raise by contract; if one does, it is a model failure
            logger.exception("the handlers raised on a chunk of %d record(s)", len(lines))
            return 500, json.dumps({"error": "the model failed to score the request", "status": 500}).encode()
        return context.status, payload

    def score(self, lines: Sequence[InputLine]) -> list[dict[str, Any]]:
        status, payload = self.invoke(lines)
        if status == 200:
            predictions = [json.loads(row) for row in payload.splitlines() if row.strip()]
            if len(predictions) != len(lines):
                raise SystemicFailure(
                    f"the handlers answered {len(predictions)} predictions for {len(lines)} records"
                )
            self.model_failures_in_a_row = 0
            return [self._scored(line, p) for line, p in zip(lines, predictions, strict=True)]
        if len(lines) > 1:
            middle = len(lines) // 2
            return self.score(lines[:middle]) + self.score(lines[middle:])
        return [self._refused(lines[0], status, payload)]

    def _scored(self, line: InputLine, prediction: Mapping[str, Any]) -> dict[str, Any]:
        level = self.thresholds.level(float(prediction["probability"]))
        return {"line": line.number, **line.ids, **prediction, "risk_level": level.value}

    def _refused(self, line: InputLine, status: int, payload: bytes) -> dict[str, Any]:
        try:
            message = str(json.loads(payload)["error"])
        except (ValueError, KeyError, TypeError):
            message = "the record could not be scored"
        if status >= 500:
            self.model_failures_in_a_row += 1
            if self.model_failures_in_a_row >= MAX_CONSECUTIVE_MODEL_FAILURES:
                raise SystemicFailure(
                    f"the model failed on {self.model_failures_in_a_row} records in a row (last: line "
                    f"{line.number}): {message}"
                )
        # The handlers count records within the request; the reader wants the input's line.
        if _WHERE.match(message):
            message = _WHERE.sub(f"line {line.number}", message, count=1)
        else:
            message = f"line {line.number}: {message}"
        return {"line": line.number, **line.ids, "error": message, "status": status}

    def score_lines(self, lines: Sequence[InputLine]) -> list[dict[str, Any]]:
        """Readable lines in one request, unreadable ones alone (for the handlers' own message)."""
        results: list[dict[str, Any]] = []
        run: list[InputLine] = []
        for line in lines:
            if line.readable:
                run.append(line)
                continue
            if run:
                results += self.score(run)
                run = []
            results += self.score([line])
        if run:
            results += self.score(run)
        return results


# --- the run -----------------------------------------------------------------------------------


def model_thresholds(model: Any, medium: float | None = None, high: float | None = None) -> dict[str, float]:
    """Flags first, then the model's suggested thresholds, then the template's defaults."""
    suggested = dict(getattr(model, "thresholds", {}) or {})
    values = {
        "medium": medium if medium is not None else suggested.get("medium", DEFAULT_THRESHOLDS["medium"]),
        "high": high if high is not None else suggested.get("high", DEFAULT_THRESHOLDS["high"]),
    }
    checked = RiskThresholds(float(values["medium"]), float(values["high"]))  # 0 <= medium <= high <= 1
    return {"medium": checked.medium, "high": checked.high}


def run_batch(
    model: Any,
    input_path: Path,
    output_path: Path,
    *,
    thresholds: Mapping[str, float],
    chunk_size: int = DEFAULT_CHUNK,
    restart: bool = False,
    progress: bool = True,
    explain: int | None = None,
    on_chunk: Callable[[BatchSummary], None] | None = None,
) -> BatchSummary:
    """Score ``input_path`` into ``output_path``; resumes unless ``restart``."""
    if not 1 <= chunk_size <= MAX_BATCH_RECORDS:
        raise ValueError(f"chunk size must be 1..{MAX_BATCH_RECORDS}, got {chunk_size}")
    try:
        input_bytes = input_path.stat().st_size
    except OSError as exc:
        raise SystemicFailure(f"cannot read the input {input_path}: {exc.strerror}") from None
    run = {
        "input": str(input_path.resolve()),
        "input_bytes": input_bytes,
        "model_version": str(model.model_version),
        "thresholds": dict(thresholds),
    }
    output_path.parent.mkdir(parents=True, exist_ok=True)
    after = 0
    if output_path.exists() and not restart:
        check_resumable(output_path, run)
        after = resume_point(output_path)
    elif output_path.exists():
        output_path.unlink()
    _run_file(output_path).write_text(json.dumps(run, indent=2) + "\n")

    summary = BatchSummary(str(input_path), str(output_path), run["model_version"], dict(thresholds))
    summary.resumed_after_line = after
    scorer = ChunkScorer(model, thresholds, explain)
    total = count_lines(input_path)
    bar = _progress_bar(total, after, enabled=progress)
    started = time.perf_counter()
    try:
        with output_path.open("ab") as out:
            for chunk in chunked(read_input(input_path, after=after), chunk_size):
                results = scorer.score_lines(chunk)
                out.write(b"".join(json.dumps(r).encode() + b"\n" for r in results))
                out.flush()
                os.fsync(out.fileno())  # a resumed run trusts what is on disk
                for result in results:
                    if "error" in result:
                        summary.errors += 1
                    else:
                        summary.scored += 1
                        summary.by_level[result["risk_level"]] += 1
                summary.seconds = time.perf_counter() - started
                bar.update(chunk[-1].number - bar.n)
                if on_chunk is not None:
                    on_chunk(summary)
    finally:
        bar.close()
        summary.seconds = time.perf_counter() - started
    if summary.scored == 0 and summary.errors > 0:
        raise SystemicFailure(
            f"not one of {summary.errors} record(s) could be scored; is this the right input?"
        )
    # Finished: the next week's run may keep this one as its "previous" (rotate_finished).
    _run_file(output_path).write_text(json.dumps({**run, "finished": True}, indent=2) + "\n")
    return summary


def previous_path(output: Path) -> Path:
    """Where a rotated run goes: ``scores.jsonl`` -> ``scores.previous.jsonl``."""
    return output.with_name(f"{output.stem}.previous{output.suffix}")


def rotate_finished(output: Path) -> Path | None:
    """Move a finished run's output aside as the previous run (an unfinished one is resumed);
    returns the previous run's output when there is one."""
    run_file = _run_file(output)
    previous = previous_path(output)
    try:
        finished = json.loads(run_file.read_text()).get("finished") is True
    except (OSError, ValueError):
        finished = False
    if output.exists() and finished:
        os.replace(output, previous)
        os.replace(run_file, _run_file(previous))
    return previous if previous.exists() else None


class _NoBar:
    n = 0

    def update(self, k: int) -> None:
        self.n += k

    def close(self) -> None:
        pass


def _progress_bar(total: int, initial: int, *, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="rec",
        desc="scoring",
        mininterval=0.5 if sys.stderr.isatty() else 10.0,
        smoothing=0.1,
    )


# --- command line ------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m churn_model.batch",
        description="Score a JSON Lines file with the endpoint's handlers (bulk == real-time).",
    )
    p.add_argument("--model", required=True, help="model directory (as training writes it)")
    p.add_argument("--input", type=Path, required=True, help="JSON Lines, one record per line")
    p.add_argument("--output", type=Path, required=True, help="JSON Lines, one result per input line")
    p.add_argument(
        "--chunk-size", type=int, default=DEFAULT_CHUNK, help=f"records per request (default {DEFAULT_CHUNK})"
    )
    p.add_argument("--medium-threshold", type=float, default=None, help="default: the model's suggested")
    p.add_argument("--high-threshold", type=float, default=None, help="default: the model's suggested")
    p.add_argument("--restart", action="store_true", help="overwrite the output instead of resuming")
    p.add_argument(
        "--explain",
        type=int,
        default=DEFAULT_EXPLAIN,
        metavar="K",
        help=f"the top K reasons and the call's topics per record (default {DEFAULT_EXPLAIN})",
    )
    p.add_argument(
        "--no-explain", action="store_true", help="plain scores: no reasons, topics or offers by topic"
    )
    p.add_argument(
        "--rotate",
        action="store_true",
        help="keep a finished earlier run as OUTPUT's .previous and compare with it (the weekly list)",
    )
    p.add_argument(
        "--rank", choices=("risk", "value"), default="risk", help="with --report-dir: top list order"
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--report-dir", type=Path, default=None, help="also write the report (batch_report) here")
    p.add_argument("--previous", type=Path, default=None, help="with --report-dir: a previous run to compare")
    p.add_argument("--top", type=int, default=100, help="with --report-dir: rows in top_at_risk.csv")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        model = model_fn(args.model)
    except Exception as exc:
        print(f"error: cannot load the model from {args.model}: {exc}", file=sys.stderr)
        return 2
    previous = args.previous
    if args.rotate:
        previous = rotate_finished(args.output) or previous
    try:
        thresholds = model_thresholds(model, args.medium_threshold, args.high_threshold)
        summary = run_batch(
            model,
            args.input,
            args.output,
            thresholds=thresholds,
            chunk_size=args.chunk_size,
            restart=args.restart,
            progress=not args.no_progress,
            explain=None if args.no_explain else args.explain,
        )
    except (SystemicFailure, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary.to_dict(), indent=2))
    if args.report_dir is not None:
        from .batch_report import write_report

        report = write_report(
            args.output,
            args.report_dir,
            previous=previous,
            top=args.top,
            thresholds=thresholds,
            input_path=args.input,
            rank=args.rank,
        )
        for path in report.files:
            print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
