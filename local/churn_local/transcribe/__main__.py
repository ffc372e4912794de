"""``python -m churn_local.transcribe --aws-endpoint-url http://127.0.0.1:5000 --port 4599``."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from .service import DEFAULT_ACCOUNT_ID, LocalTranscribe


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m churn_local.transcribe", description=__doc__)
    parser.add_argument(
        "--aws-endpoint-url", required=True, help="local AWS (moto server) for S3 and EventBridge"
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=4599, help="0 picks a free port")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--account-id", default=DEFAULT_ACCOUNT_ID)
    parser.add_argument(
        "--language-model",
        default="call-centre",
        help="'call-centre' (built from generated calls, cached), 'general', or a path to an ARPA model",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    service = LocalTranscribe(
        aws_endpoint_url=args.aws_endpoint_url,
        host=args.host,
        port=args.port,
        region=args.region,
        account_id=args.account_id,
        language_model=args.language_model,
    )
    with service:
        print(f"local Transcribe ready at {service.url}", flush=True)
        stop.wait()
    print("local Transcribe stopped", flush=True)


if __name__ == "__main__":
    main()
