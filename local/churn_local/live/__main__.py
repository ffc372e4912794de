"""``make live``: one call scored while it happens, on this machine.

The local stack (post-call template, the model server) plus the live resources; the demo call's
Contact Lens segments go into the local Kinesis in real time (``--speed`` to compress it); the
live function reads them like an event source mapping; a terminal agent subscribed on the local
WebSocket prints the customer's churn risk as the call goes on.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .agent import follow, render
from .producer import DEMO_CALL, SpokenTurn


def _demo_wav() -> Path:
    """The demo call spoken by espeak-ng into a two-channel WAV (as the demo's recordings are)."""
    import tempfile

    from churn_contracts.conversation import Role, Turn

    from ..transcribe.recordings import synthesize_call

    path = Path(tempfile.mkdtemp(prefix="churn-live-")) / "demo-call.wav"
    turns = [
        Turn(Role.CUSTOMER if t.role == "CUSTOMER" else Role.AGENT, t.text, t.begin_s) for t in DEMO_CALL
    ]
    synthesize_call(turns, path)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_local.live", description=__doc__)
    parser.add_argument("--model-dir", default="artifacts/model", help="a trained model (make train)")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="how much faster than real time to play the call"
    )
    parser.add_argument("--rescore-seconds", type=float, default=10.0, help="LiveRescoreSeconds")
    parser.add_argument("--contact-id", default="demo-contact-0001")
    parser.add_argument("--customer-id", default="C-LIVE-1", help="the contact flow's customer id attribute")
    parser.add_argument(
        "--wav",
        help="a 16 kHz two-channel WAV (customer on channel 0) to decode live; default: the demo call",
    )
    parser.add_argument(
        "--scripted",
        action="store_true",
        help="put the demo call's text as segments, without speech recognition",
    )
    args = parser.parse_args(argv)
    model_dir = Path(args.model_dir)
    if not (model_dir / "model.json").is_file():
        print(f"no trained model in {model_dir}: run `make train` (or `make demo`) first", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from churn_model.serving.server import LocalEndpointServer

    from .run import LiveLocal, live_stack

    say = lambda text: print(f"[live] {text}", flush=True)  # noqa: E731
    with (
        LocalEndpointServer(model_dir, host="127.0.0.1", port=0) as server,
        live_stack(server.url, progress=say) as stack,
        LiveLocal(stack, rescore_seconds=args.rescore_seconds) as live,
    ):
        assert live.socket is not None and live.writer is not None
        say(f"agents' WebSocket on {live.socket.url}; segment stream {live.resources.stream_name}")
        stop = threading.Event()
        agent = threading.Thread(
            target=follow,
            args=(
                live.socket.url,
                args.contact_id,
                lambda m: print(f"[agent] {render(m)}", flush=True),
                stop,
            ),
            daemon=True,
        )
        agent.start()
        time.sleep(0.5)
        live.seed_contact(args.contact_id, args.customer_id)
        started = time.monotonic()

        def said(turn: SpokenTurn) -> None:
            who = "customer" if turn.role == "CUSTOMER" else "agent   "
            print(f"[call {time.monotonic() - started:5.1f}s] {who}: {turn.text}", flush=True)

        if args.scripted:
            live.writer.play(args.contact_id, DEMO_CALL, speed=args.speed, on_final=said)
        else:
            wav = Path(args.wav) if args.wav else _demo_wav()
            say(f"decoding {wav} live with pocketsphinx (channel 0 customer, channel 1 agent)")

            def emit(event: dict) -> None:
                live.writer.put(event)
                for segment in event.get("Segments", []):
                    final = segment.get("Transcript")
                    if final:
                        who = "customer" if final["ParticipantRole"] == "CUSTOMER" else "agent   "
                        print(
                            f"[call {time.monotonic() - started:5.1f}s] {who}: {final['Content']}", flush=True
                        )

            from .asr import decode_live

            decode_live(wav, args.contact_id, emit, speed=args.speed)
        live.wait_idle(settle_s=1.5, timeout_s=60)
        stop.set()
        item = live.contact(args.contact_id) or {}
        say(
            f"call {item.get('status')}: final risk {item.get('risk_level')} "
            f"(p={float(item.get('probability') or 0):.2f}) from {item.get('customer_turns')} customer turn(s), "
            f"{item.get('scores')} endpoint call(s), {live.pushes} update(s) pushed to the agent"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
