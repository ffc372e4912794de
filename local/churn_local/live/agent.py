"""A terminal "agent desktop": subscribe to one contact on the agents' WebSocket and print the risk
as the call goes on. ``python -m churn_local.live.agent --url ws://... --contact-id ...``"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

MARK = {"low": "  ", "medium": "! ", "high": "!!"}


def render(message: dict[str, Any]) -> str:
    level = str(message.get("risk_level"))
    previous = message.get("previous_level") or "-"
    probability = message.get("probability")
    p = f"{probability:.2f}" if isinstance(probability, int | float) else "?"
    end = "  (final)" if message.get("final") else ""
    if message.get("type") == "churn-risk-current":
        if message.get("risk_level") is None:
            return f"   contact {message.get('contact_id')}: not scored yet"
        return (
            f"{MARK.get(level, '  ')} contact {message.get('contact_id')}: churn risk now {level.upper()}"
            f"  p={p} after {message.get('customer_turns')} customer turn(s){end}"
        )
    return (
        f"{MARK.get(level, '  ')} contact {message.get('contact_id')}: churn risk {previous} -> {level.upper()}"
        f"  p={p} after {message.get('customer_turns')} customer turn(s){end}"
    )


def follow(url: str, contact_id: str, on_message: Callable[[dict[str, Any]], None], stop: Any = None) -> None:
    with connect(f"{url}/?contact_id={contact_id}", open_timeout=10) as websocket:
        # Joining mid-call: ask for the contact's current risk (the `current` route) at once.
        websocket.send(json.dumps({"action": "current"}))
        while stop is None or not stop.is_set():
            try:
                raw = websocket.recv(timeout=0.2)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            on_message(json.loads(raw))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--contact-id", required=True)
    args = parser.parse_args(argv)
    try:
        follow(args.url, args.contact_id, lambda m: print(render(m), flush=True))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
