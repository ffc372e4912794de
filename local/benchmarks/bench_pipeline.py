"""Upload -> alert time on the local stack's fast path (sidecar transcripts), median of N calls.

    python local/benchmarks/bench_pipeline.py --model artifacts/model --calls 20

Every call is made high-risk (HighRiskThreshold=0) so each one ends in an alert; calls go one at a
time, so the figure is latency, not throughput. Goal: median <= 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from churn_local.profiles import load_profiles
from churn_local.scenario import Pipeline, RetentionTeam, turns_of, upload
from churn_local.stack import LocalStack
from churn_model.data import generate_rows

GOAL_S = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"), help="model directory")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--template", default="template.yaml")
    args = parser.parse_args(argv)
    if not args.model.is_dir():
        print(f"no model at {args.model}: run `make demo` (or `make train`) first", file=sys.stderr)
        return 2

    rows = generate_rows(args.calls + 1, seed=11)
    print(f"starting the local stack on {args.model} ...", flush=True)
    parameters = {"HighRiskThreshold": "0", "MediumRiskThreshold": "0", "AlertSuppressionDays": "0"}
    with LocalStack(
        args.template, parameters=parameters, model_dir=args.model, log_sink=lambda *_: None
    ) as stack:
        pipeline = Pipeline.from_stack(stack)
        table = stack.table(pipeline.profiles_table)
        load_profiles(((i, r) for i, r in enumerate(rows)), table)
        team = RetentionTeam(stack, pipeline.alert_topic_arn)
        s3 = stack.client("s3")
        latencies = []
        for i, row in enumerate(rows):
            sent = upload(
                s3,
                pipeline,
                label=str(i),
                customer_id=row["customer_id"],
                call_id=f"bench-{i}",
                kind="sidecar",
                turns=turns_of(row),
            )
            deadline = time.time() + 30
            while time.time() < deadline and not any(
                a.get("Message", {}).get("call_id") == f"bench-{i}"
                for _, a in team.received
                if isinstance(a.get("Message"), dict)
            ):
                team.poll(wait_s=1)
            received = next(
                (
                    t
                    for t, a in team.received
                    if isinstance(a.get("Message"), dict) and a["Message"].get("call_id") == f"bench-{i}"
                ),
                None,
            )
            if received is None:
                print(f"call {i}: no alert within 30 s", file=sys.stderr)
                return 1
            if i == 0:
                print(f"warm-up call (cold functions): {received - sent.uploaded_at:.2f} s", flush=True)
                continue
            latencies.append(received - sent.uploaded_at)
            print(f"call {i:>3}: {latencies[-1]:.2f} s", flush=True)
    latencies.sort()
    median = statistics.median(latencies)
    p90 = latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))]
    print(
        f"\nupload -> alert, fast path, {len(latencies)} calls: median {median:.2f} s, p90 {p90:.2f} s, "
        f"min {latencies[0]:.2f} s, max {latencies[-1]:.2f} s (goal: median <= {GOAL_S:.0f} s) "
        f"{'OK' if median <= GOAL_S else 'MISSED'}"
    )
    return 0 if median <= GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
