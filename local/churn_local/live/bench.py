"""Live-path benchmark (issue 23), no ASR: ``python -m churn_local.live.bench --model-dir DIR``.

1. Latency: a customer's final ``Transcript`` segment put on the local Kinesis -> the agent's
   WebSocket message (poller, live function, endpoint, EventBridge, push function, @connections):
   one new contact per sample, each subscribed before its segment is put.
2. Soak: ``--calls`` concurrent simulated calls, a turn every ``--turn-seconds`` each (agent and
   customer alternate), for ``--minutes``, every record put twice with probability ``--dup``.
   Every customer is on two of the calls at once (``--contacts-per-customer``), so the quiet
   window, not luck, is what keeps a customer to one alert. Checked at the end: no customer
   segment lost or kept twice, endpoint calls <= customer turns, no customer alerted twice.

The stack is deployed with the model's own risk thresholds (its metrics.json, as ``make demo``
does), so a model whose probabilities sit below the template's default high threshold still alerts.
Prints figures; exits 1 when a soak invariant is broken (and says when no alert was sent, since
then "no alert twice" was not exercised).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .agent import follow
from .producer import SpokenTurn, turn_events

CUSTOMER_LINES = (
    "Thanks, I just wanted to check my bill.",
    "Why did the price go up again this month?",
    "I was charged twice and nobody called me back.",
    "Your competitor offered me a much better price.",
    "I think I want to cancel my account.",
    "Okay, that sounds fair, thank you.",
)
AGENT_LINE = "I understand, let me check that for you."


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def latency_phase(live: Any, samples: int) -> tuple[list[float], list[float]]:
    """Segment put -> agent message, and the part of it up to the bus rule's delivery."""
    latencies: list[float] = []
    to_bus: list[float] = []
    for n in range(samples):
        contact = f"lat-{n:04d}"
        got = threading.Event()
        received: list[float] = []

        def on_message(
            message: dict[str, Any], received: list[float] = received, got: threading.Event = got
        ) -> None:
            if message.get("type") != "churn-risk":
                return  # the current-state answer at connect, not the update being timed
            received.append(time.perf_counter())
            got.set()

        live.seed_contact(contact, f"C-LAT-{n:04d}")
        stop = threading.Event()
        agent = threading.Thread(
            target=follow, args=(live.socket.url, contact, on_message, stop), daemon=True
        )
        agent.start()
        table = live.stack.table(live.resources.connections_table)
        while not table.query(
            KeyConditionExpression="contact_id = :c", ExpressionAttributeValues={":c": contact}
        )["Items"]:
            time.sleep(0.01)
        final = list(turn_events(contact, SpokenTurn("CUSTOMER", random.choice(CUSTOMER_LINES), 1.0, 3.0)))[
            -1
        ]
        sent = time.perf_counter()
        live.writer.put(final)
        if got.wait(10):
            latencies.append((received[0] - sent) * 1000.0)
            if contact in live.delivered_at:
                to_bus.append((live.delivered_at[contact] - sent) * 1000.0)
        stop.set()
        agent.join(timeout=2)
    return latencies, to_bus


def model_thresholds(model_dir: Path) -> dict[str, str]:
    """MediumRiskThreshold and HighRiskThreshold as training chose them (metrics.json), if it did."""
    try:
        thresholds = json.loads((model_dir / "metrics.json").read_text())["thresholds"]
        high, medium = float(thresholds["high"]), float(thresholds["medium"])
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {"MediumRiskThreshold": f"{medium:g}", "HighRiskThreshold": f"{high:g}"}


def soak_phase(
    live: Any,
    calls: int,
    minutes: float,
    turn_s: float,
    dup: float,
    *,
    contacts_per_customer: int = 2,
    drain_timeout_s: float = 3600.0,
) -> dict[str, Any]:
    rng = random.Random(7)
    sent_finals: dict[str, set[str]] = {f"soak-{i:03d}": set() for i in range(calls)}
    records = duplicates = 0
    for i, contact in enumerate(sent_finals):
        live.seed_contact(contact, f"C-SOAK-{i // max(1, contacts_per_customer):03d}")
        live.writer.started(contact)
    start = time.monotonic()
    end = start + minutes * 60
    # Each call's turns every turn_s, the calls spread evenly over the first turn_s.
    schedule = [(start + turn_s * i / calls, i, 0) for i in range(calls)]
    lock = threading.Lock()
    while schedule:
        schedule.sort()
        due, i, k = schedule.pop(0)
        if due >= end:
            continue
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        contact = f"soak-{i:03d}"
        role = "CUSTOMER" if k % 2 else "AGENT"
        text = rng.choice(CUSTOMER_LINES) if role == "CUSTOMER" else AGENT_LINE
        turn = SpokenTurn(role, text, k * turn_s, k * turn_s + turn_s * 0.8)
        for event in turn_events(contact, turn):
            with lock:
                live.writer.put(event)
                records += 1
                if rng.random() < dup:
                    live.writer.put(event)
                    duplicates += 1
        if role == "CUSTOMER":
            sent_finals[contact].add(event["Segments"][0]["Transcript"]["Id"])
        schedule.append((due + turn_s, i, k + 1))
    for contact in sent_finals:
        live.writer.completed(contact)
    put_done = time.monotonic()
    live.wait_idle(
        settle_s=3.0,
        timeout_s=drain_timeout_s,
        until=lambda: all((live.contact(c) or {}).get("final") for c in sent_finals),
    )
    lost = kept_twice = endpoint_calls = turns = 0
    over = []
    for contact, finals in sent_finals.items():
        item = live.contact(contact) or {}
        kept = set((item.get("turns") or {}).keys())
        lost += len(finals - kept)
        kept_twice += len(kept - finals)
        endpoint_calls += int(item.get("scores", 0))
        turns += len(finals)
        if int(item.get("scores", 0)) > len(finals):
            over.append(contact)
    updates = [u for u in live.updates if u.get("contact_id") in sent_finals]  # not the latency phase's
    alerts = Counter(u.get("customer_id") for u in updates if u.get("alert"))
    high = {u.get("customer_id") for u in updates if u.get("risk_level") == "high"}
    return {
        "records": records,
        "duplicates_put": duplicates,
        "customer_turns": turns,
        "lost": lost,
        "kept_twice": kept_twice,
        "endpoint_calls": endpoint_calls,
        "calls_over": len(over),
        "updates": len(updates),
        "not_final": sum(1 for c in sent_finals if not (live.contact(c) or {}).get("final")),
        "customers_high": len(high),
        "customers_alerted": len(alerts),
        "alerts": sum(alerts.values()),
        "alerted_twice": sum(1 for n in alerts.values() if n > 1),
        "failed_batches": live.poller.counters.failed_invocations,
        "to_failure_queue": live.poller.counters.sent_to_destination,
        "seconds": round(time.monotonic() - start, 1),
        "drain_seconds": round(time.monotonic() - put_done, 1),
    }


def broken(soak: dict[str, Any]) -> list[str]:
    """The soak's invariants that do not hold."""
    checks = {
        "a customer segment was lost": soak["lost"],
        "a customer segment was kept twice": soak["kept_twice"],
        "a contact was scored more often than its customer spoke": soak["calls_over"],
        "a customer was alerted twice": soak["alerted_twice"],
        "a contact never completed": soak["not_final"],
    }
    return [what for what, count in checks.items() if count]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_local.live.bench", description=__doc__)
    parser.add_argument("--model-dir", default="artifacts/model")
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--turn-seconds", type=float, default=5.0)
    parser.add_argument("--rescore-seconds", type=float, default=10.0)
    parser.add_argument("--dup", type=float, default=0.1)
    parser.add_argument("--contacts-per-customer", type=int, default=2)
    parser.add_argument("--drain-timeout", type=float, default=3600.0, help="seconds to wait for the backlog")
    parser.add_argument(
        "--template-thresholds",
        action="store_true",
        help="the template's default risk thresholds instead of the model's metrics.json",
    )
    args = parser.parse_args(argv)
    if not (Path(args.model_dir) / "model.json").is_file():
        print(f"no trained model in {args.model_dir}", file=sys.stderr)
        return 2

    from churn_model.serving.server import LocalEndpointServer

    from .run import LiveLocal, live_stack

    with (
        LocalEndpointServer(Path(args.model_dir), host="127.0.0.1", port=0) as server,
        live_stack(
            server.url, parameters={} if args.template_thresholds else model_thresholds(Path(args.model_dir))
        ) as stack,
        LiveLocal(stack, rescore_seconds=args.rescore_seconds) as live,
    ):
        load = os.getloadavg()[0]
        latencies, to_bus = latency_phase(live, args.samples)
        print(
            f"segment in -> agent message out: {len(latencies)}/{args.samples} samples, "
            f"p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 99):.0f} ms, "
            f"max {max(latencies):.0f} ms (load average {load:.2f} at start, {os.cpu_count()} CPUs); "
            f"of which segment in -> update off the bus: p50 {statistics.median(to_bus):.0f} ms, "
            f"p99 {percentile(to_bus, 99):.0f} ms"
        )
        if args.minutes <= 0:
            return 0
        soak = soak_phase(
            live,
            args.calls,
            args.minutes,
            args.turn_seconds,
            args.dup,
            contacts_per_customer=args.contacts_per_customer,
            drain_timeout_s=args.drain_timeout,
        )
        env = live.stack.spec.function("LiveScoreFunction").environment
        print(
            f"soak: {args.calls} calls x {args.minutes:g} min, a turn every {args.turn_seconds:g} s, "
            f"{args.contacts_per_customer} calls per customer, LiveRescoreSeconds {args.rescore_seconds:g}, "
            f"thresholds medium {env['MEDIUM_RISK_THRESHOLD']} high {env['HIGH_RISK_THRESHOLD']}: "
            + ", ".join(f"{k} {v}" for k, v in soak.items())
        )
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    failures = broken(soak)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    if not soak["alerts"]:
        print("note: no customer reached high, so 'no alert twice' was not exercised", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
