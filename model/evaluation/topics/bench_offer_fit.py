"""Does the offer answer the customer's complaint? The default rules on the whole call's topics.

    python model/evaluation/topics/bench_offer_fit.py [--rules offers/default-rules.json] [--keywords]

For each labelled call (``chats.jsonl``: 32 outside chats labelled by their main complaint;
``chats_confirm.jsonl``: 19 more, labelled once the rules were settled;
``demo_calls.jsonl``: the demo's two alerted calls), the served topic classifier reads the
customer's side, ``churn_contracts.offers.choose_offer`` picks the offer from the profile and
those topics, and the offer fits when its rule ``addresses`` the labelled complaint. Prints each
call and the fit rate per set. ``--keywords`` uses the keyword table instead of the classifier.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE.parents[1]))  # model/, for churn_model when run as a script

from churn_contracts.offers import RuleSet, choose_offer, load_rules  # noqa: E402
from churn_contracts.topics import CallTopics  # noqa: E402

SETS = {
    "outside chats": HERE / "chats.jsonl",
    "outside chats, second set": HERE / "chats_confirm.jsonl",
    "demo calls": HERE / "demo_calls.jsonl",
}
DEFAULT_RULES = REPO / "offers" / "default-rules.json"


@dataclass(frozen=True)
class Outcome:
    id: str
    complaint: str
    main: str | None
    offer_id: str | None
    fits: bool


def load_calls(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def evaluate(
    calls: Sequence[dict[str, Any]], rules: RuleSet, topics_of: Callable[[str], CallTopics]
) -> list[Outcome]:
    outcomes = []
    for call in calls:
        topics = topics_of(call["text"])
        decision = choose_offer(rules, call["profile"], topics)
        offer = decision.offer
        fits = offer is not None and call["complaint"] in offer.addresses
        outcomes.append(
            Outcome(
                call["id"],
                call["complaint"],
                topics.main_complaint(),
                offer.offer_id if offer else None,
                fits,
            )
        )
    return outcomes


def served_topics() -> Callable[[str], CallTopics]:
    """The endpoint's classifier: linear topics on the ONNX int8 MiniLM sentence vectors."""
    from churn_model.encoder import SentenceEncoder
    from churn_model.explain import _screen_vectors
    from churn_model.topics import LinearTopics

    encoder = SentenceEncoder(granularity="text")
    return LinearTopics(lambda sentences: _screen_vectors(encoder, sentences)).call_topics


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    parser.add_argument("--keywords", action="store_true", help="the keyword table instead")
    args = parser.parse_args(argv)
    rules = load_rules(args.rules.read_bytes())
    if args.keywords:
        from churn_model.topics import KeywordTopics

        topics_of = KeywordTopics().call_topics
    else:
        topics_of = served_topics()
    for name, path in SETS.items():
        outcomes = evaluate(load_calls(path), rules, topics_of)
        print(f"\n## {name} ({path.name})")
        for o in outcomes:
            mark = "fits" if o.fits else "MISS"
            print(
                f"{mark}  {o.id:<8} complaint {o.complaint:<10} heard {o.main or '-':<10} offer {o.offer_id}"
            )
        fit = sum(o.fits for o in outcomes)
        heard = sum(o.main == o.complaint for o in outcomes)
        print(
            f"offer fits the complaint: {fit} / {len(outcomes)} = {fit / len(outcomes):.1%}; "
            f"main complaint heard right: {heard} / {len(outcomes)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
