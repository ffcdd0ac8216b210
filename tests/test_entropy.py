"""Entropy coding of tokens (espnet2_p2p/container/entropy.py): exact round trips, fewer bits than
the fixed width on predictable tokens, identical coding in another process, refusals."""

import subprocess
import sys

import numpy as np
import pytest

from espnet2_p2p.container.entropy import BigramPrior, _Stream, coded_bits_per_token
from espnet2_p2p.errors import BitstreamError

K = 64


def markov(frames: int, streams: int = 1, seed: int = 0) -> np.ndarray:
    """Tokens that mostly repeat or step by one (as codec tokens of steady sounds do)."""
    rng = np.random.default_rng(seed)
    out = np.empty((streams, frames), dtype=np.int64)
    for s in range(streams):
        x = int(rng.integers(K))
        for t in range(frames):
            r = rng.random()
            x = x if r < 0.6 else (x + 1) % K if r < 0.9 else int(rng.integers(K))
            out[s, t] = x
    return out


@pytest.fixture(scope="module")
def prior():
    return BigramPrior.fit([markov(3000, 2, seed=i) for i in range(5)], K)


@pytest.mark.parametrize("frames", [1, 2, 319, 320, 321, 1025, 2049])
def test_round_trip_is_exact_for_every_length(prior, frames):
    for tokens in (markov(frames, 2, seed=99), np.random.default_rng(frames).integers(0, K, (2, frames))):
        payload = prior.encode(tokens)
        assert len(payload) % 4 == 0
        assert np.array_equal(prior.decode(payload, frames), tokens)


def test_predictable_tokens_cost_fewer_bits_than_the_fixed_width(prior):
    test = [markov(2000, 2, seed=50 + i) for i in range(3)]
    measured = coded_bits_per_token(prior, test)
    ideal = sum(prior.bits(t) for t in test) / sum(t.size for t in test)
    assert measured < 0.5 * np.log2(K)  # 6 bits fixed; this source needs about 2
    assert ideal <= measured < ideal + 0.05  # the coder's overhead is a few words


def test_another_process_decodes_what_this_one_coded(prior, tmp_path):
    tokens = markov(777, 2, seed=7)
    (tmp_path / "prior.npz").write_bytes(prior.to_bytes())
    (tmp_path / "payload").write_bytes(prior.encode(tokens))
    code = (
        "import sys, numpy as np; from pathlib import Path; from espnet2_p2p.container.entropy import BigramPrior;"
        "d = Path(sys.argv[1]); p = BigramPrior.from_bytes((d / 'prior.npz').read_bytes());"
        "np.save(d / 'out.npy', p.decode((d / 'payload').read_bytes(), 777)); print(p.fingerprint().hex())"
    )
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == prior.fingerprint().hex()
    assert np.array_equal(np.load(tmp_path / "out.npy"), tokens)


def test_fingerprint_names_the_counts_and_bad_input_is_refused(prior):
    again = BigramPrior.from_bytes(prior.to_bytes())
    assert again.fingerprint() == prior.fingerprint()
    sequences = [markov(3000, 2, seed=i) for i in range(5)]
    sequences[0][0, 5] = (sequences[0][0, 5] + 1) % K  # one count differs
    assert BigramPrior.fit(sequences, K).fingerprint() != prior.fingerprint()
    with pytest.raises(BitstreamError, match="not whole 32-bit words"):
        prior.decode(b"\x00" * 7, 10)
    payload = prior.encode(markov(50, 2))
    with pytest.raises(BitstreamError, match="more than 5 frames"):
        prior.decode(payload, 5)
    with pytest.raises(BitstreamError, match="cannot hold"):
        prior.decode(payload, 10**9)  # refused before anything is allocated
    with pytest.raises(ValueError, match=r"within the codebooks \[64, 64\]"):
        prior.encode(np.full((2, 3), K))
    with pytest.raises(ValueError, match="counts out of range"):
        BigramPrior([_Stream(4, np.array([5]), np.array([0]), np.array([1]))])
    with pytest.raises(ValueError, match="not a stored bigram prior"):
        BigramPrior.from_bytes(b"junk")


def test_streams_of_other_sizes_and_a_large_sparse_codebook():
    """A teacher's streams may differ in size; SecoustiCodec has 6561 codes (kept sparse)."""
    rng = np.random.default_rng(3)
    train = [np.stack([rng.integers(0, 6561, 400), rng.integers(0, 3, 400)]) for _ in range(4)]
    prior = BigramPrior.fit(train, [6561, 3])
    assert prior.sizes == [6561, 3]
    assert len(prior.to_bytes()) < 50_000  # sparse: 1,600 pairs, not 6562 x 6561 counts
    for frames in (1, 2, 321):
        tokens = np.stack([rng.integers(0, 6561, frames), rng.integers(0, 3, frames)])
        assert np.array_equal(prior.decode(prior.encode(tokens), frames), tokens)


def test_no_probability_reaches_one_so_token_counts_are_bounded():
    # a stream that always repeats one token: the bigram alone would give p -> 1
    prior = BigramPrior.fit([np.zeros((1, 10_000), dtype=np.int64)], 16)
    assert 0.02 < prior.min_bits() < 0.1  # the uniform 1/64 bounds p below 1
    probs = prior.probabilities(0, np.arange(17))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert probs.min() >= (1 / 64) / 16
    tokens = np.zeros((1, 5000), dtype=np.int64)
    payload = prior.encode(tokens)
    assert len(payload) * 8 < 0.1 * tokens.size  # far below a bit a token
    assert np.array_equal(prior.decode(payload, 5000), tokens)
