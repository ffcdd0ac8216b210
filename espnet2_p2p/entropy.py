"""Lossless entropy coding of token streams: a bigram prior and constriction's range coder.

Groundwork for ``.p2p`` format version 3 (issue 19; not yet in the container or the CLI).
A :class:`BigramPrior` holds integer counts per stream: how often token ``b`` followed
token ``a`` in training tokens (``a = K`` marks the start of an utterance). Its
probabilities (Witten-Bell interpolation of the bigram with the add-one unigram) are
computed from those integers by the same float64 numpy operations when encoding and when
decoding, and quantised to integer frequencies by constriction's ``Categorical`` model, so
both sides code with identical frequencies: a count model is exact by construction, which
a neural prior would not be without integer arithmetic. Coding is constriction's range
coder (``constriction.stream.queue``).
"""

import hashlib
import io
from typing import Iterable, List

import numpy as np

from espnet2_p2p.errors import BitstreamError
from espnet2_p2p.utils.tokens import first_bad_token

_BLOCK = 1024  # frames whose probabilities are built at once when encoding (memory bound)


def _coder():
    import constriction

    return constriction, constriction.stream.model.Categorical(perfect=False)


class BigramPrior:
    """Per-stream bigram counts (S, K + 1, K) and the probabilities coding uses."""

    def __init__(self, counts: np.ndarray):
        counts = np.asarray(counts)
        if counts.ndim != 3 or counts.shape[1] != counts.shape[2] + 1 or counts.shape[2] < 2:
            raise ValueError(f"counts must be (streams, K + 1, K) with K >= 2, got shape {counts.shape}")
        if not np.issubdtype(counts.dtype, np.integer) or (counts < 0).any():
            raise ValueError("counts must be non-negative integers")
        self.counts = counts.astype(np.int64)
        self.num_streams, self.size = counts.shape[0], counts.shape[2]
        totals = self.counts.sum(axis=2)  # (S, K + 1)
        types = (self.counts > 0).sum(axis=2)
        unigram = self.counts.sum(axis=1) + 1.0  # (S, K), add-one
        self._unigram = unigram / unigram.sum(axis=1, keepdims=True)
        self._seen = totals / np.maximum(totals + types, 1)  # weight of a context's own counts
        self._totals = np.maximum(totals, 1).astype(np.float64)

    @classmethod
    def fit(cls, sequences: Iterable[np.ndarray], size: int) -> "BigramPrior":
        """Count the bigrams of token arrays (S, T) (every stream with ``size`` codes)."""
        counts = None
        for seq in sequences:
            seq = np.asarray(seq, dtype=np.int64)
            if seq.ndim != 2 or first_bad_token(seq, [size] * seq.shape[0]):
                raise ValueError(f"tokens must be (streams, frames) in [0, {size}), got shape {seq.shape}")
            if counts is None:
                counts = np.zeros((seq.shape[0], size + 1, size), dtype=np.int64)
            for s in range(seq.shape[0]):
                np.add.at(counts[s], (np.concatenate([[size], seq[s, :-1]]), seq[s]), 1)
        if counts is None:
            raise ValueError("no token sequences to count")
        return cls(counts)

    def fingerprint(self) -> bytes:
        """8 bytes naming these counts (a file coded with one prior needs the same one)."""
        digest = hashlib.sha256(np.asarray(self.counts.shape, dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(self.counts).tobytes())
        return digest.digest()[:8]

    def probabilities(self, stream: int, contexts: np.ndarray) -> np.ndarray:
        """P(token | previous token) for each context (n,) -> (n, K) float64."""
        contexts = np.asarray(contexts, dtype=np.int64)
        own = self.counts[stream][contexts] / self._totals[stream][contexts, None]
        weight = self._seen[stream][contexts, None]
        return weight * own + (1.0 - weight) * self._unigram[stream][None, :]

    def bits(self, tokens: np.ndarray) -> float:
        """Ideal code length of tokens (S, T) in bits (the coder adds a few words)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        total = 0.0
        for s in range(tokens.shape[0]):
            prev = np.concatenate([[self.size], tokens[s, :-1]])
            total -= float(np.log2(self.probabilities(s, prev)[np.arange(tokens.shape[1]), tokens[s]]).sum())
        return total

    # ------------------------------------------------------------- coding
    def encode(self, tokens: np.ndarray) -> bytes:
        """Tokens (S, T) -> bytes (a whole number of 32-bit words)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 2 or tokens.shape[0] != self.num_streams:
            raise ValueError(f"tokens must be ({self.num_streams}, frames), got shape {tokens.shape}")
        if first_bad_token(tokens, [self.size] * self.num_streams):
            raise ValueError(f"tokens must lie in [0, {self.size})")
        constriction, family = _coder()
        encoder = constriction.stream.queue.RangeEncoder()
        for s in range(self.num_streams):
            prev = np.concatenate([[self.size], tokens[s, :-1]])
            for a in range(0, tokens.shape[1], _BLOCK):
                b = min(tokens.shape[1], a + _BLOCK)
                encoder.encode(tokens[s, a:b].astype(np.int32), family, self.probabilities(s, prev[a:b]))
        return encoder.get_compressed().astype("<u4").tobytes()

    def decode(self, payload: bytes, num_frames: int) -> np.ndarray:
        """bytes -> tokens (S, num_frames) int64; a payload that does not decode to exactly
        that many tokens raises :class:`~espnet2_p2p.errors.BitstreamError`."""
        if len(payload) % 4:
            raise BitstreamError(f"entropy-coded payload of {len(payload)} bytes is not whole 32-bit words")
        constriction, family = _coder()
        try:
            decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
            out = np.empty((self.num_streams, num_frames), dtype=np.int64)
            for s in range(self.num_streams):
                prev = self.size
                for t in range(num_frames):
                    prev = out[s, t] = int(decoder.decode(family, self.probabilities(s, [prev]))[0])
            exhausted = decoder.maybe_exhausted()
        except Exception as e:  # constriction reports bad data with its own exception types
            raise BitstreamError(f"entropy-coded payload does not decode: {e}") from None
        if not exhausted:
            raise BitstreamError(f"entropy-coded payload holds more than {num_frames} frames of tokens")
        return out

    # ------------------------------------------------------------- storage
    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, counts=self.counts.astype(np.int32 if self.counts.max(initial=0) < 2**31 else np.int64))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "BigramPrior":
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return cls(npz["counts"])
        except (OSError, ValueError, KeyError) as e:
            raise ValueError(f"not a stored bigram prior: {e}") from None


def coded_bits_per_token(prior: BigramPrior, sequences: List[np.ndarray]) -> float:
    """Measured bits per token of coding every sequence (S, T) with ``prior``."""
    bits = sum(8 * len(prior.encode(seq)) for seq in sequences)
    return bits / sum(np.asarray(seq).size for seq in sequences)
