"""The sentence encoder: shapes, determinism, missing text, chunk-and-pool, pickling, cache."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from churn_model.encoder import SentenceEncoder, as_texts, cpu_has_native_bf16

pytestmark = pytest.mark.slow

CALM = "Thanks for sorting out my bill so quickly, I'm really happy with the service."
ANGRY = "This is the third dropped call this week, I'm furious and I want to cancel today."


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder(device="cpu", precision="fp32", batch_size=8)  # exact pooling arithmetic


def test_embeds_a_column_as_unit_vectors(encoder):
    vectors = encoder.fit_transform(np.array([CALM, ANGRY, CALM], dtype=object))
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-6)
    assert float(vectors[0] @ vectors[1]) < 0.9  # different calls, different vectors


def test_is_deterministic(encoder):
    first = encoder.transform([CALM, ANGRY])
    np.testing.assert_allclose(first, encoder.transform([CALM, ANGRY]), atol=1e-6)
    np.testing.assert_allclose(
        first, SentenceEncoder(device="cpu", precision="fp32").transform([CALM, ANGRY]), atol=1e-6
    )


def test_fp32_does_not_depend_on_the_batch():
    texts = [CALM, ANGRY, "Hi, I'm calling about roaming charges on my last trip to Mexico."]
    batched = SentenceEncoder(device="cpu", precision="fp32", batch_size=8).transform(texts)
    single = SentenceEncoder(device="cpu", precision="fp32", batch_size=1).transform(texts)
    np.testing.assert_allclose(batched, single, atol=1e-4)


def test_missing_text_is_the_empty_string_embedding(encoder):
    vectors = encoder.transform(np.array([[None], [float("nan")], [""]], dtype=object))
    np.testing.assert_allclose(vectors[0], vectors[2], atol=1e-6)
    np.testing.assert_allclose(vectors[1], vectors[2], atol=1e-6)


def test_rejects_non_text_values():
    with pytest.raises(TypeError, match="must be strings"):
        as_texts([CALM, 42])
    with pytest.raises(ValueError, match="one text column"):
        as_texts(np.array([[CALM, ANGRY]], dtype=object))


def test_sentences_are_embedded_and_pooled_with_a_rising_weight(encoder):
    text = f"{CALM} {ANGRY} Okay."
    pooled = encoder.transform([text])[0]
    parts = encoder.transform([CALM, ANGRY, "Okay."])
    expected = 1.0 * parts[0] + 1.5 * parts[1] + 2.0 * parts[2]
    np.testing.assert_allclose(pooled, expected / np.linalg.norm(expected), atol=1e-5)


def test_a_sentence_longer_than_the_window_is_chunked_not_cut(encoder):
    run_on = " and ".join(["the signal drops every evening near my house"] * 60)  # ~500 tokens, no full stop
    pieces, owners, weights = encoder._pieces([run_on])
    assert len(pieces) >= 2
    assert set(owners) == {0}
    assert weights.sum() == pytest.approx(1.0)  # one sentence: its windows share its weight
    assert " ".join(pieces).split() == run_on.split()
    assert np.isfinite(encoder.transform([run_on])).all()


def test_long_text_is_chunked_and_pooled_not_cut():
    encoder = SentenceEncoder(device="cpu", precision="fp32", batch_size=8, granularity="text")
    # About 700 tokens: a calm opening far longer than one window, then an angry ending.
    long_text = " ".join([CALM] * 30 + [ANGRY] * 12)
    pieces, owners, weights = encoder._split([CALM, long_text])
    assert pieces[0] == CALM
    windows = [p for p, o in zip(pieces, owners, strict=True) if o == 1]
    assert len(windows) >= 3
    assert all(len(encoder.model.tokenizer(w)["input_ids"]) <= encoder.model.max_seq_length for w in windows)
    assert " ".join(windows).split() == long_text.split()  # every word is in exactly one window

    pooled = encoder.transform([long_text])[0]
    window_vectors = encoder.transform(windows)
    expected = (window_vectors * weights[owners == 1][:, None]).sum(axis=0)
    np.testing.assert_allclose(pooled, expected / np.linalg.norm(expected), atol=1e-5)
    # The angry ending moves the embedding; a model that cut at 256 tokens would not see it.
    truncated = encoder.transform([windows[0]])[0]
    angry = encoder.transform([ANGRY])[0]
    assert pooled @ angry > truncated @ angry + 0.05


def test_pickles_without_weights_and_reloads_lazily(encoder):
    encoder.transform([CALM])  # the network is loaded now
    blob = pickle.dumps(encoder)
    assert len(blob) < 2_000
    clone = pickle.loads(blob)
    assert "_model" not in clone.__dict__
    np.testing.assert_allclose(clone.transform([ANGRY]), encoder.transform([ANGRY]), atol=1e-6)


def test_int8_is_close_to_fp32():
    texts = [CALM, ANGRY, "I just wanted to check when my contract ends."]
    int8 = SentenceEncoder(device="cpu", precision="int8").transform(texts)
    fp32 = SentenceEncoder(device="cpu", precision="fp32").transform(texts)
    cosine = (int8 * fp32).sum(axis=1)
    assert cosine.min() > 0.9
    assert cosine.mean() > 0.95
    assert SentenceEncoder(device="cpu").resolved_precision in {"bf16", "int8"}
    assert SentenceEncoder(device="cuda").resolved_precision == "fp32"


@pytest.mark.skipif(not cpu_has_native_bf16(), reason="this CPU has no native bf16")
def test_bf16_is_nearly_fp32():
    texts = [CALM, ANGRY, "I just wanted to check when my contract ends."]
    bf16 = SentenceEncoder(device="cpu", precision="bf16").transform(texts)
    fp32 = SentenceEncoder(device="cpu", precision="fp32").transform(texts)
    assert bf16.dtype == np.float32
    assert (bf16 * fp32).sum(axis=1).min() > 0.999


@pytest.mark.parametrize("precision", ["int8", "bf16"])
def test_a_texts_vector_does_not_depend_on_its_batch_mates(precision):
    if precision == "bf16" and not cpu_has_native_bf16():
        pytest.skip("this CPU has no native bf16")
    # Dynamic int8 scales activations per forward pass: batch-mates must not leak in.
    texts = [CALM, ANGRY * 3, "Fine.", "I just wanted to check when my contract ends."]
    encoder = SentenceEncoder(device="cpu", precision=precision, batch_size=64)
    together = encoder.transform(texts)
    alone = np.vstack([encoder.transform([t]) for t in texts])
    cosine = (together * alone).sum(axis=1)
    assert cosine.min() > (1 - 1e-6 if precision == "int8" else 0.9999)


def test_quantisation_refuses_a_gpu():
    with pytest.raises(ValueError, match="CPU only"):
        SentenceEncoder(device="cuda", precision="int8").transform([CALM])


def test_cache_skips_encoding_known_texts(tmp_path, monkeypatch):
    encoder = SentenceEncoder(device="cpu", cache_dir=str(tmp_path))
    first = encoder.transform([CALM, ANGRY, CALM])
    assert len(encoder._embedding_cache()) == 2
    assert encoder.resolved_precision in encoder.identity

    retrain = SentenceEncoder(device="cpu", cache_dir=str(tmp_path), batch_size=4)

    def no_encoding(texts):
        raise AssertionError(f"re-encoded {len(texts)} cached texts")

    monkeypatch.setattr(retrain, "_embed_uncached", no_encoding)
    np.testing.assert_allclose(retrain.transform([ANGRY, CALM]), first[[1, 0]], atol=0)
    # Another precision is another identity: nothing is shared.
    assert (
        SentenceEncoder(device="cpu", precision="fp32", cache_dir=str(tmp_path)).identity != encoder.identity
    )
