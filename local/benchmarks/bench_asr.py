"""Word error rate and real-time factor of the local recogniser, with and without the call-centre LM.

Calls are generated with a seed the language model never saw, spoken by espeak-ng into
two-channel recordings, and each channel is recognised as the local Transcribe does it.

    .venv/bin/python local/benchmarks/bench_asr.py --calls 3 --max-seconds 60
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from churn_contracts.conversation import Role, Turn
from churn_local.transcribe.asr import PocketSphinxRecognizer
from churn_local.transcribe.audio import decode
from churn_local.transcribe.language_model import (
    DEFAULT_CONVERSATIONS,
    DEFAULT_SEED,
    call_centre_model,
    generated_conversations,
)
from churn_local.transcribe.recordings import synthesize_call
from churn_local.transcribe.wer import normalise, word_error_rate


def held_out_calls(count: int, seed: int, max_seconds: float) -> list[list[Turn]]:
    conversations = generated_conversations(count, seed)
    if conversations is None:
        sys.exit("churn_model.data.generate is not importable: the benchmark needs generated calls")
    calls = [[t for t in turns if t.start_time < max_seconds] for turns in conversations]
    return [c for c in calls if c]


def run(args: argparse.Namespace) -> dict:
    if args.seed == args.lm_seed:
        sys.exit("the test calls must come from a different seed than the language model")
    started = time.perf_counter()
    lm_path = call_centre_model(conversations=args.lm_conversations, seed=args.lm_seed)
    lm_seconds = time.perf_counter() - started
    lm_texts = {
        normalise(t.text)
        for c in generated_conversations(args.lm_conversations, args.lm_seed) or []
        for t in c
    }

    engines = {"general": PocketSphinxRecognizer(), "call-centre": PocketSphinxRecognizer(lm_path)}
    calls = held_out_calls(args.calls, args.seed, args.max_seconds)
    refs: dict[Role, list[str]] = {Role.CUSTOMER: [], Role.AGENT: []}
    hyps: dict[str, dict[Role, list[str]]] = {name: {Role.CUSTOMER: [], Role.AGENT: []} for name in engines}
    busy = dict.fromkeys(engines, 0.0)
    cpu = dict.fromkeys(engines, 0.0)
    audio_seconds = 0.0
    seen_turns = total_turns = 0

    with tempfile.TemporaryDirectory() as tmp:
        for index, turns in enumerate(calls):
            path = Path(tmp) / f"call-{index}.wav"
            audio_seconds += synthesize_call(turns, path)
            recording = decode(path.read_bytes(), "wav")
            for role in (Role.CUSTOMER, Role.AGENT):
                refs[role].append(" ".join(t.text for t in turns if t.role is role))
            total_turns += len(turns)
            seen_turns += sum(normalise(t.text) in lm_texts for t in turns)
            for name, engine in engines.items():
                for role, channel in ((Role.CUSTOMER, 0), (Role.AGENT, 1)):
                    began, began_cpu = time.perf_counter(), time.process_time()
                    words = engine.transcribe(recording.channels[channel], recording.sample_rate)
                    busy[name] += time.perf_counter() - began
                    cpu[name] += time.process_time() - began_cpu
                    hyps[name][role].append(" ".join(w.text for w in words))
            print(
                f"call {index + 1}/{len(calls)} done ({recording.duration:.0f}s)", file=sys.stderr, flush=True
            )

    report: dict = {
        "calls": len(calls),
        "audio_seconds": round(audio_seconds, 1),
        "lm_conversations": args.lm_conversations,
        "lm_build_or_load_seconds": round(lm_seconds, 1),
        "test_turns_verbatim_in_lm_corpus": round(seen_turns / max(total_turns, 1), 3),
        "engines": {},
    }
    for name in engines:
        report["engines"][name] = {
            "wer": round(
                word_error_rate(
                    refs[Role.CUSTOMER] + refs[Role.AGENT], hyps[name][Role.CUSTOMER] + hyps[name][Role.AGENT]
                ),
                3,
            ),
            "wer_customer": round(word_error_rate(refs[Role.CUSTOMER], hyps[name][Role.CUSTOMER]), 3),
            "wer_agent": round(word_error_rate(refs[Role.AGENT], hyps[name][Role.AGENT]), 3),
            # Seconds of CPU-bound recognition per second of call (both channels recognised).
            "real_time_factor": round(busy[name] / audio_seconds, 3),
            # The same in CPU time: what it costs on an idle core (the cores here are shared).
            "cpu_real_time_factor": round(cpu[name] / audio_seconds, 3),
        }
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261129, help="seed of the held-out test calls")
    parser.add_argument(
        "--max-seconds", type=float, default=60.0, help="keep the turns that start before this"
    )
    parser.add_argument("--lm-conversations", type=int, default=DEFAULT_CONVERSATIONS)
    parser.add_argument("--lm-seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, help="also write the report here as JSON")
    args = parser.parse_args(argv)
    report = run(args)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
