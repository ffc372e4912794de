"""Does the offer answer the customer's complaint? The default rules on the whole call's topics.

    python model/evaluation/topics/bench_offer_fit.py [--rules offers/default-rules.json] [--keywords]
        [--set NAME ...]

For each labelled call (``chats.jsonl``: 32 outside chats labelled by their main complaint;
``chats_confirm.jsonl``: 19 more, labelled once the rules were settled; ``chats_fresh.jsonl`` and
``chats_fresh2.jsonl``: chats chosen by a fixed rule and labelled before any classifier saw them
(``fresh_chats.py``); ``demo_calls.jsonl``: the demo's two alerted calls), the topic classifier
reads the customer's side, ``churn_contracts.offers.choose_offer`` picks the offer from the
profile and those topics, and the offer fits when its rule ``addresses`` the labelled complaint.
The fresh sets are measured with the served recipe refitted without their chats' labelled
sentences (some of their chats gave one to ``sentences.jsonl``); the others with the served
weights. Prints each call and the fit rate per set. ``--keywords`` uses the keyword table.
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
    "fresh outside chats": HERE / "chats_fresh.jsonl",
    "fresh outside chats, second set": HERE / "chats_fresh2.jsonl",
    "demo calls": HERE / "demo_calls.jsonl",
}
# Chosen and labelled blind (fresh_chats.py). Their chats may have given a sentence to
# sentences.jsonl, so the classifier measured on them is fitted without those sentences.
BLIND = frozenset({"fresh outside chats", "fresh outside chats, second set"})
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


def _embed() -> Callable[[list[str]], Any]:
    from churn_model.encoder import SentenceEncoder
    from churn_model.explain import _screen_vectors

    encoder = SentenceEncoder(granularity="text")  # the served default on CPU: ONNX int8 MiniLM
    return lambda sentences: _screen_vectors(encoder, sentences)


def served_topics(embed: Callable[[list[str]], Any] | None = None) -> Callable[[str], CallTopics]:
    """The endpoint's classifier: linear topics on the ONNX int8 MiniLM sentence vectors."""
    from churn_model.topics import LinearTopics

    return LinearTopics(embed or _embed()).call_topics


def blind_topics(
    calls: Sequence[dict[str, Any]], embed: Callable[[list[str]], Any] | None = None
) -> tuple[Callable[[str], CallTopics], int]:
    """The served recipe (``python -m churn_model.topics fit``) refitted without the labelled
    sentences of these calls' chats; and how many sentences it left out."""
    from churn_model.topics import LinearTopics, fit_weights, training_set

    embed = embed or _embed()
    pairs = training_set(
        leave_out_rows={int(c["source_row"]) for c in calls if "source_row" in c},
        leave_out_texts=[str(c["text"]) for c in calls],
    )
    weights = fit_weights(embed([text for text, _ in pairs]), [topics for _, topics in pairs])
    return LinearTopics(embed, weights).call_topics, len(training_set()) - len(pairs)


def run_set(
    name: str, rules: RuleSet, *, keywords: bool = False, embed: Callable[[list[str]], Any] | None = None
) -> tuple[list[Outcome], str]:
    """A set's outcomes with the classifier it is measured with, and that classifier in words."""
    calls = load_calls(SETS[name])
    if keywords:
        from churn_model.topics import KeywordTopics

        return evaluate(calls, rules, KeywordTopics().call_topics), "keywords"
    if name in BLIND:
        topics_of, left_out = blind_topics(calls, embed)
        return evaluate(
            calls, rules, topics_of
        ), f"served recipe refitted without {left_out} sentences of these chats"
    return evaluate(calls, rules, served_topics(embed)), "served weights"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    parser.add_argument("--keywords", action="store_true", help="the keyword table instead")
    parser.add_argument("--set", action="append", choices=list(SETS), help="only these sets (repeatable)")
    args = parser.parse_args(argv)
    rules = load_rules(args.rules.read_bytes())
    embed = None if args.keywords else _embed()
    for name in args.set or [n for n, path in SETS.items() if path.exists()]:
        outcomes, classifier = run_set(name, rules, keywords=args.keywords, embed=embed)
        print(f"\n## {name} ({SETS[name].name}; {classifier})")
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
