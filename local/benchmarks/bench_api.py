"""Requests per second and p50/p99 latency of the scoring API through the local stack.

    python local/benchmarks/bench_api.py --model artifacts/model --requests 200 --concurrency 1 4

The path measured is the whole local one: HTTP -> the local API Gateway (SigV4 check, API key,
usage plan) -> a REST proxy event -> the real handler in its warm worker -> DynamoDB (moto) and
the local model server. The usage plan is raised for the run so nothing is throttled. For
comparison it also times the model server alone (the same records, straight to the endpoint), so
the API's own overhead reads as the difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from churn_contracts.profile import record_to_item
from churn_local.stack import LocalStack

TEXTS = (
    "I want to cancel my contract, your network keeps dropping my calls and I am switching.",
    "Just checking my bill, thank you, everything is fine.",
    "What does the international add-on cost? I travel a lot this year.",
)
PROFILE = {"plan": "B", "limit": "unlimited", "State": "OH", "Account Length": 128, "CustServ Calls": 4}


def signed(method: str, url: str, body: bytes, api_key: str) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("testing", "testing"), "execute-api", "us-east-1").add_auth(request)
    return {**dict(request.headers.items()), "x-api-key": api_key}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run(send: Any, count: int, concurrency: int) -> tuple[float, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def one(i: int) -> None:
        started = time.perf_counter()
        status = send(i)
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[status] = statuses.get(status, 0) + 1

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(count)))
    return count / (time.perf_counter() - began), latencies, statuses


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("artifacts/model"), help="model directory")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--template", default="template.yaml")
    args = parser.parse_args(argv)
    if not args.model.is_dir():
        print(f"no model at {args.model}: run `make demo` (or `make train`) first", file=sys.stderr)
        return 2

    parameters = {"ApiThrottleRate": "100000", "ApiThrottleBurst": "100000", "ApiDailyQuota": "10000000"}
    print(f"starting the local stack on {args.model} ...", flush=True)
    with LocalStack(
        args.template, parameters=parameters, model_dir=args.model, transcribe=False, log_sink=lambda *_: None
    ) as stack:
        api = stack.apis["ScoreApi"]
        profiles = next(t.name for t in stack.spec.tables if t.logical_id == "ProfilesTable")
        stack.table(profiles).put_item(Item=record_to_item("bench-1", PROFILE))
        score_url = f"{api.url}/v1/score"
        bodies = [
            ('{"customer_id": "bench-1", "text": "%s"}' % text).encode()  # noqa: UP031 - a fixed JSON shape
            for text in TEXTS
        ]
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=max(args.concurrency))
        session.mount("http://", adapter)

        def through_api(i: int) -> int:
            body = bodies[i % len(bodies)]
            headers = signed("POST", score_url, body, api.api_key)
            return session.post(score_url, data=body, headers=headers, timeout=30).status_code

        endpoint = stack.endpoints.sagemaker_runtime if stack.endpoints else None
        records = [
            ('{"plan": "B", "limit": "unlimited", "State": "OH", "text": "%s"}' % text).encode()  # noqa: UP031
            for text in TEXTS
        ]

        def model_alone(i: int) -> int:
            url = f"{endpoint}/endpoints/churn-risk/invocations"
            response = session.post(
                url, data=records[i % len(records)], headers={"Content-Type": "application/json"}, timeout=30
            )
            return response.status_code

        run(through_api, 10, 1)  # warm the worker, the clients and the model
        print(f"\nPOST /v1/score by customer_id, {args.requests} requests per row (texts of 10-16 words)")
        print(f"{'path':<34} {'concurrency':>11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  statuses")
        for concurrency in args.concurrency:
            for name, send in (
                ("local API (gateway+function+model)", through_api),
                ("model server alone", model_alone),
            ):
                if send is model_alone and not endpoint:
                    continue
                rate, latencies, statuses = run(send, args.requests, concurrency)
                print(
                    f"{name:<34} {concurrency:>11} {rate:>8.1f} {statistics.median(latencies):>8.1f} "
                    f"{percentile(latencies, 99):>8.1f}  {dict(sorted(statuses.items()))}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
