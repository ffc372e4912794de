"""Bulk-scoring benchmark: local throughput, memory over a long run, end to end on the local stack.

    python model/benchmarks/bench_batch.py --model artifacts/model [--records 2000]
        [--memory-records 100000] [--customers 10000] [--work /tmp/churn-bench-batch]

1. **Throughput**: ``--records`` generated customers (texts of the generator's length) through
   ``churn_model.batch.run_batch`` with the default CPU backend: records/s overall and the median
   chunk's.
2. **Memory**: ``--memory-records`` records, resident memory (VmRSS) sampled after every chunk:
   first, middle, last and the growth from 10 % of the run to its end. Records carry the profile
   and no text (``text: null``); with ``--memory-profile-model`` they are scored by a profile-only
   model trained here in seconds, so 100,000 records fit in minutes on a loaded 2-core machine.
   The runner's reading, chunking and writing are the same code whatever the model and text.
3. **End to end**: ``--customers`` profiles, scored calls and transcripts seeded into the local
   stack (moto server), then export -> score -> report, each timed.

The input files are written by a child process, so the generator's rows never sit in this
process's memory during the measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from churn_contracts.features import CATEGORICAL, NUMERICAL
from churn_contracts.risk import DEFAULT_HIGH_RISK_THRESHOLD, DEFAULT_MEDIUM_RISK_THRESHOLD

ROOT = Path(__file__).resolve().parents[2]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s() -> float:
    """This process's CPU time, every thread included: a figure the machine's other load barely moves."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_records(path: Path, n: int, *, text: bool, seed: int = 11, block: int = 5000) -> None:
    """n generated customers as the export writes them, in blocks (child process)."""
    from churn_model.data.generate import generate_rows

    with path.open("w") as handle:
        for start in range(0, n, block):
            for row in generate_rows(min(block, n - start), seed=seed + start):
                record = {k: v for k, v in row.items() if k not in ("turns", "y")}
                record["customer_id"] = f"{record['customer_id']}-{start}"
                if not text:
                    record["text"] = None
                handle.write(json.dumps(record) + "\n")


def in_child(*args: str) -> None:
    subprocess.run([sys.executable, __file__, *args], check=True, cwd=ROOT)  # noqa: S603


def throughput(model: Any, work: Path, n: int) -> dict[str, Any]:
    from churn_model.batch import run_batch

    source = work / f"records-{n}.jsonl"
    if not source.exists():
        in_child("--write", str(source), "--n", str(n), "--text")
    rates: list[float] = []
    last = {"t": time.perf_counter(), "done": 0}

    def on_chunk(summary: Any) -> None:
        now, done = time.perf_counter(), summary.scored + summary.errors
        if done > last["done"]:
            rates.append((done - last["done"]) / (now - last["t"]))
        last.update(t=now, done=done)

    cpu = cpu_s()
    summary = run_batch(
        model,
        source,
        work / "throughput.out.jsonl",
        thresholds=THRESHOLDS,
        restart=True,
        progress=False,
        on_chunk=on_chunk,
    )
    cpu = cpu_s() - cpu
    return {
        "records": summary.scored,
        "seconds": round(summary.seconds, 1),
        "records_per_s": round(summary.records_per_s, 1),
        "median_chunk_records_per_s": round(statistics.median(rates), 1) if rates else None,
        "cpu_s": round(cpu, 1),
        "records_per_cpu_s": round(summary.scored / cpu, 2) if cpu else None,
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def memory(model: Any, work: Path, n: int, *, text: bool) -> dict[str, Any]:
    from churn_model.batch import run_batch

    source = work / f"memory-{n}-{'text' if text else 'profile'}.jsonl"
    if not source.exists():
        in_child("--write", str(source), "--n", str(n), *(["--text"] if text else []))
    samples: list[tuple[int, float]] = []
    before = rss_mb()
    summary = run_batch(
        model,
        source,
        work / "memory.out.jsonl",
        thresholds=THRESHOLDS,
        restart=True,
        progress=False,
        on_chunk=lambda s: samples.append((s.scored + s.errors, rss_mb())),
    )
    tenth = next(mb for done, mb in samples if done >= n // 10)
    return {
        "records": summary.scored,
        "seconds": round(summary.seconds, 1),
        "records_per_s": round(summary.records_per_s, 1),
        "rss_mb_before": round(before, 1),
        "rss_mb_first_chunk": round(samples[0][1], 1),
        "rss_mb_middle": round(samples[len(samples) // 2][1], 1),
        "rss_mb_last": round(samples[-1][1], 1),
        "rss_mb_max": round(max(mb for _, mb in samples), 1),
        "growth_mb_from_10pct_to_end": round(samples[-1][1] - tenth, 1),
        "output_mb": round((work / "memory.out.jsonl").stat().st_size / 2**20, 1),
    }


def profile_only_model(work: Path) -> Path:
    """A profile-only model (no encoder), trained by the CLI in a child process."""
    target = work / "profile-only-model"
    if not (target / "model.json").is_file():
        data = work / "profile-only-data"
        subprocess.run(  # noqa: S603 - our own interpreter and modules
            [sys.executable, "-m", "churn_model.data.generate", "--rows", "2000", "--out", str(data)],
            check=True,
        )
        subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "churn_model.train",
                "--train",
                str(data / "train.jsonl"),
                "--model-dir",
                str(target),
                "--textual-feature-names",
                "",
                "--numerical-feature-names",
                ",".join(NUMERICAL),
                "--categorical-feature-names",
                ",".join(CATEGORICAL),
                "--n-estimators",
                "30",
            ],
            check=True,
        )
    return target


def end_to_end(model: Any, model_dir: Path, work: Path, n: int) -> dict[str, Any]:
    """Seed the local stack with n customers, then time export -> score -> report."""
    from churn_contracts.conversation import Turn
    from churn_contracts.profile import record_to_item
    from churn_contracts.transcribe import build_transcript
    from churn_local.stack import LocalStack
    from churn_model.batch import run_batch
    from churn_model.batch_report import write_report
    from churn_model.data.generate import generate_rows
    from churn_ops.export_latest_calls import Sources, export

    figures: dict[str, Any] = {"customers": n}
    with LocalStack(ROOT / "template.yaml", transcribe=False, run_functions=False) as stack:
        spec = stack.spec
        profiles = stack.table(next(t.name for t in spec.tables if t.logical_id == "ProfilesTable"))
        calls = stack.table(next(t.name for t in spec.tables if t.logical_id == "CallsTable"))
        bucket = next(b.name for b in spec.buckets if "recording" in b.logical_id.lower())
        s3 = stack.client("s3")
        started = time.perf_counter()
        for start in range(0, n, 2000):
            rows = generate_rows(min(2000, n - start), seed=500 + start)
            with profiles.batch_writer() as profile_writer, calls.batch_writer() as call_writer:
                for row in rows:
                    customer = f"{row['customer_id']}-{start}"
                    job = f"churn-local-{customer}-{row['call_id']}"
                    key = f"transcripts/{job}.json"
                    turns = [Turn.from_dict(t) for t in row["turns"]]
                    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(build_transcript(turns)).encode())
                    profile_writer.put_item(Item=record_to_item(customer, row))
                    call_writer.put_item(
                        Item={
                            "job_name": job,
                            "customer_id": customer,
                            "call_id": row["call_id"],
                            "status": "SCORED",
                            "created_at": "2026-11-01T10:00:00.000Z",
                            "transcript_uri": f"s3://{bucket}/{key}",
                            "probability": Decimal("0.1"),
                        }
                    )
        figures["seed_s"] = round(time.perf_counter() - started, 1)
        sources = Sources(profiles, calls, s3)
        started = time.perf_counter()
        report = export(sources, work / "e2e.customers.jsonl")
        figures["export_s"] = round(time.perf_counter() - started, 1)
        figures["export_customers_per_s"] = round(report.customers / figures["export_s"], 1)
        figures["with_text"] = report.with_call - report.transcript_unavailable
    summary = run_batch(
        model,
        work / "e2e.customers.jsonl",
        work / "e2e.scores.jsonl",
        thresholds=THRESHOLDS,
        restart=True,
        progress=False,
    )
    figures["score_s"] = round(summary.seconds, 1)
    figures["score_records_per_s"] = round(summary.records_per_s, 1)
    started = time.perf_counter()
    write_report(work / "e2e.scores.jsonl", work / "e2e.report", thresholds=THRESHOLDS)
    figures["report_s"] = round(time.perf_counter() - started, 1)
    figures["export_score_report_s"] = round(
        figures["export_s"] + figures["score_s"] + figures["report_s"], 1
    )
    figures["levels"] = summary.by_level
    return figures


# The template's defaults: one source, the contracts.
THRESHOLDS = {"medium": DEFAULT_MEDIUM_RISK_THRESHOLD, "high": DEFAULT_HIGH_RISK_THRESHOLD}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=None)
    p.add_argument("--records", type=int, default=2000)
    p.add_argument("--memory-records", type=int, default=100_000)
    p.add_argument("--memory-text", action="store_true")
    p.add_argument("--memory-profile-model", action="store_true", help="memory run with a profile-only model")
    p.add_argument("--customers", type=int, default=10_000)
    p.add_argument("--skip", action="append", default=[], choices=["throughput", "memory", "e2e"])
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "churn-bench-batch")
    # Internal: the child process that writes an input file.
    p.add_argument("--write", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--text", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.write is not None:
        write_records(args.write, args.n, text=args.text)
        return 0
    if args.model is None:
        p.error("--model is required")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.work.mkdir(parents=True, exist_ok=True)
    from churn_model.serving.handlers import model_fn

    model = model_fn(str(args.model))
    results: dict[str, Any] = {"model_version": model.model_version, "cpus": os.cpu_count()}
    if "throughput" not in args.skip:
        results["throughput"] = throughput(model, args.work, args.records)
        print(json.dumps({"throughput": results["throughput"]}), flush=True)
    if "memory" not in args.skip:
        memory_model = model
        if args.memory_profile_model:
            memory_model = model_fn(str(profile_only_model(args.work)))
            results["memory_model"] = memory_model.model_version
        results["memory"] = memory(memory_model, args.work, args.memory_records, text=args.memory_text)
        print(json.dumps({"memory": results["memory"]}), flush=True)
    if "e2e" not in args.skip:
        results["end_to_end"] = end_to_end(model, args.model, args.work, args.customers)
        print(json.dumps({"end_to_end": results["end_to_end"]}), flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
