"""Fresh outside chats for the offer-fit figure, chosen by a fixed rule and labelled by reading.

    python model/evaluation/topics/fresh_chats.py show [--start 0] [--count 20]
    python model/evaluation/topics/fresh_chats.py build

The pool: rows of ``model/evaluation/realtext/telecom-chat-train.jsonl`` with customer text that is in neither
labelled chat set here (``chats.jsonl``, ``chats_confirm.jsonl``; by row and by text). Order:
churners' chats with no sentence in ``sentences.jsonl`` (seed 2204), then churners' chats that
gave one (seed 2205; the benchmark leaves those sentences out of the classifier it measures on
them), then the other customers' (seed 2206): alerts go to customers at risk, and few churners'
chats are left. ``show`` prints the pool in that order, customer side only (what the model
reads), for a person to label.

``reading.jsonl`` records every chat read, in pool order: ``{"source_row", "set", "complaint"}``
with ``complaint`` null when no complaint clearly leads (skipped). ``build`` writes the kept rows
of each set into ``chats_fresh.jsonl`` (set "fresh") and ``chats_fresh2.jsonl`` (set "fresh2") in
the shape of ``chats.jsonl``. Labels are written before any classifier sees the chats.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "realtext" / "telecom-chat-train.jsonl"
READING = HERE / "reading.jsonl"
CHAT_SETS = ("chats.jsonl", "chats_confirm.jsonl")
OUTPUTS = {"fresh": HERE / "chats_fresh.jsonl", "fresh2": HERE / "chats_fresh2.jsonl"}
# The model's numerical features and State, as chats.jsonl carries them.
PROFILE = (
    "Account Length", "VMail Message", "Day Mins", "Day Calls", "Day Charge", "Eve Mins", "Eve Calls",
    "Eve Charge", "Night Mins", "Night Calls", "Night Charge", "Intl Mins", "Intl Calls", "Intl Charge",
    "CustServ Calls", "State",
)  # fmt: skip


def customer_side(chat: str) -> str:
    """The customer's lines joined by one space, as ``Conversation.customer_text`` renders them."""
    parts = []
    for line in chat.splitlines():
        if line.startswith("Customer:"):
            said = " ".join(line[len("Customer:") :].split())
            if said:
                parts.append(said)
    return " ".join(parts)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def pool(source: Path = SOURCE) -> list[tuple[int, dict[str, Any], str]]:
    """(row, source row, customer text) in reading order: churners' chats in no labelled chat set,
    first those with no labelled sentence either, then those that gave one to ``sentences.jsonl``
    (the benchmark leaves those sentences out of the classifier it measures on them), then the
    other customers' chats (few complain: read only once the churners' run out)."""
    chat_rows: set[int] = set()
    chat_texts: list[str] = []
    for name in CHAT_SETS:
        for row in _jsonl(HERE / name):
            chat_rows.add(int(row["source_row"]))
            chat_texts.append(str(row["text"]))
    sentence_rows = {int(row["source_row"]) for row in _jsonl(HERE / "sentences.jsonl")}
    candidates = []
    for index, row in enumerate(_jsonl(source)):
        text = customer_side(row["text"])
        if not text or index in chat_rows or text in chat_texts:
            continue
        candidates.append((index, row, text))
    churners = [c for c in candidates if c[1]["Churn?"] == "True."]
    unread = [c for c in churners if c[0] not in sentence_rows]
    sentence_given = [c for c in churners if c[0] in sentence_rows]
    others = [c for c in candidates if c[1]["Churn?"] != "True."]
    random.Random(2204).shuffle(unread)
    random.Random(2205).shuffle(sentence_given)
    random.Random(2206).shuffle(others)
    return unread + sentence_given + others


def show(start: int, count: int) -> None:
    for position, (index, row, text) in enumerate(pool()[start : start + count], start=start):
        churn = row["Churn?"] == "True."
        print(f"#{position} row {index} churn {churn} custserv {row['CustServ Calls']}\n  {text}\n")


def build() -> None:
    by_row = {index: (row, text) for index, row, text in pool()}
    kept: dict[str, list[dict[str, Any]]] = {name: [] for name in OUTPUTS}
    for entry in _jsonl(READING):
        if entry["complaint"] is None:
            continue
        row, text = by_row[int(entry["source_row"])]
        rows = kept[entry["set"]]
        rows.append(
            {
                "id": f"{entry['set']}-{len(rows) + 1:02d}",
                "source_row": int(entry["source_row"]),
                "churn": row["Churn?"] == "True.",
                "complaint": entry["complaint"],
                "profile": {name: row[name] for name in PROFILE},
                "text": text,
            }
        )
    for name, path in OUTPUTS.items():
        if kept[name]:
            path.write_text("".join(json.dumps(r) + "\n" for r in kept[name]))
            print(f"wrote {path.name}: {len(kept[name])} chats")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["show", "build"])
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args(argv)
    if args.command == "show":
        show(args.start, args.count)
    else:
        build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
