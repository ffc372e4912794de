"""Explanations: do they find the generator's true drivers, and how are phrase topics best found?

    python model/benchmarks/bench_explain.py --model-dir artifacts/model [--customers 300]

1. Oracle comparison: fresh generated customers (a seed no training run uses) are explained; the
   top profile reason is compared with the latent model's top profile driver
   (``churn_model.data.drivers``): the match rate against two chance rates, and the mean
   per-customer rank correlation of the two driver rankings.
2. Topics: labelled sentences (the generator's reason sentences, each with its call topic mapped
   to an offer topic, and the price-only calls of the free-form set, whose sentences about
   money must come out ``price`` or ``billing``) are labelled two ways: by cosine to the topic
   descriptions (what serving does) and by a keyword table (the alternative). Accuracy of each.
3. Cost in process: one plain score against one explained score, single records, interleaved.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

import numpy as np

# The generator's call topics, as offer topics (churn_contracts.offers.TOPICS).
GENERATOR_TOPICS = {
    "billing": "billing",
    "coverage": "network",
    "dropped_calls": "network",
    "roaming": "network",
    "contract_end": "contract",
    "competitor_offer": "competitor",
    "upgrade": "contract",
    "cancellation": "contract",
}
# The alternative to embeddings: a keyword table, first match wins.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "competitor": (
        "competitor",
        "another provider",
        "other provider",
        "switch",
        "other company",
        "better deal",
    ),
    "billing": ("bill", "charge", "fee", "statement", "autopay", "billed", "refund"),
    "price": ("price", "expensive", "cost", "afford", "cheaper", "too much", "pay "),
    "network": ("signal", "coverage", "dropped", "drop", "network", "data", "roaming", "reception", "bars"),
    "service": ("hold", "agent", "support", "nobody", "rude", "called", "fix", "waited"),
    "contract": ("contract", "cancel", "upgrade", "renew", "plan", "close my account", "port my number"),
}
_MONEY = re.compile(r"price|cost|expensive|pay|bill|dollar|\$|cheap|afford|rate|fee|charge", re.I)


def keyword_topic(sentence: str) -> str:
    lowered = sentence.lower()
    for topic, words in KEYWORDS.items():
        if any(w in lowered for w in words):
            return topic
    return "other"


def labelled_sentences(rows_per_topic: int = 40) -> list[tuple[str, str]]:
    """(sentence, topic): the grammar's reason sentences, and money sentences of price-only calls."""
    from churn_model.data.grammar import REASONS
    from churn_model.explain import split_sentences

    labelled = []
    for topic, bank in REASONS.items():
        for template in bank[:rows_per_topic]:
            sentence = re.sub(r"\{[a-z_]+\}", "20", template)
            labelled.append((sentence[0].upper() + sentence[1:], GENERATOR_TOPICS[topic]))
    freeform = Path(__file__).resolve().parents[1] / "evaluation" / "freeform_pairs.jsonl"
    if freeform.is_file():
        for line in freeform.read_text().splitlines():
            pair = json.loads(line)
            if pair.get("style") == "price-only":
                for sentence in split_sentences(pair["negative"]):
                    if _MONEY.search(sentence):
                        labelled.append((sentence, "price|billing"))
    return labelled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5151)
    parser.add_argument("--timing", type=int, default=30, help="single records timed plain vs explained")
    args = parser.parse_args()

    from churn_contracts.features import MODEL_FEATURES
    from churn_model.artifact import load_model
    from churn_model.data.drivers import compare
    from churn_model.data.generate import simulate
    from churn_model.explain import PROFILE, Explainer

    model = load_model(args.model_dir)
    explainer = Explainer(model)
    rows = simulate(args.customers, seed=args.seed).rows
    records = [{n: r.get(n) for n in MODEL_FEATURES} for r in rows]

    started = time.perf_counter()
    explained = explainer.explain(records)
    seconds = time.perf_counter() - started
    effects = [{r.name: r.effect for r in e.reasons if r.kind == PROFILE} for e in explained]
    result = compare(rows, effects, explainer.reference)
    print(
        f"model {model.model_version} ({model.metadata.get('classifier')}); {args.customers} customers in {seconds:.1f} s"
    )
    print(
        f"top profile reason = oracle's top driver: {result['match_rate']:.1%} of {result['customers']} "
        f"(chance: uniform {result['chance_uniform']:.1%}, always '{result['most_common_driver']}' "
        f"{result['chance_most_common']:.1%}); mean rank correlation {result['rank_correlation']:.2f}"
    )

    labelled = labelled_sentences()
    vectors = explainer._text_encoder().embed([s for s, _ in labelled])
    by_embedding = [explainer.topic_of(np.asarray(v, dtype=np.float64))[0] for v in vectors]
    by_keyword = [keyword_topic(s) for s, _ in labelled]
    for name, guesses in (("embedding similarity", by_embedding), ("keyword table", by_keyword)):
        hits = [g in truth.split("|") for g, (_, truth) in zip(guesses, labelled, strict=True)]
        generator = hits[: sum(1 for _, t in labelled if "|" not in t)]
        freeform = hits[len(generator) :]
        print(
            f"topics by {name:<21}: {np.mean(hits):.1%} of {len(hits)} sentences "
            f"(generator reasons {np.mean(generator):.1%} of {len(generator)}, "
            f"free-form price calls {np.mean(freeform) if freeform else float('nan'):.1%} of {len(freeform)})"
        )

    plain, explain = [], []
    for record in records[: args.timing]:
        t0 = time.perf_counter()
        model.predict_proba([record])
        t1 = time.perf_counter()
        explainer.explain([record])
        t2 = time.perf_counter()
        plain.append(t1 - t0)
        explain.append(t2 - t1)
    ratio = statistics.median(explain) / statistics.median(plain)
    print(
        f"in process, single records: plain {1000 * statistics.median(plain):.1f} ms, explained "
        f"{1000 * statistics.median(explain):.1f} ms (median), ratio {ratio:.2f} (goal <= 3)"
    )


if __name__ == "__main__":
    main()
