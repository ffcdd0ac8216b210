"""Lossless entropy coding of token streams: a bigram prior and constriction's range coder.

``.p2p`` format version 3 (:mod:`espnet2_p2p.container.bitstream`) codes the transmitted tokens with
a :class:`BigramPrior` instead of packing them at ``ceil(log2 K)`` bits each.

The prior holds integer counts per stream: how often token ``b`` followed token ``a`` in
training tokens (``a = K`` marks the start of an utterance), kept sparse (only pairs that
occurred), so a codebook of 6,561 codes costs what its training tokens cost. The
probability of a token in context ``a`` is

    p(b | a) = (1 - e) * (w_a * c(a, b) / n_a + (1 - w_a) * u(b)) + e / K

Witten-Bell interpolation of the bigram with the add-one unigram ``u`` (``w_a = n_a /
(n_a + t_a)``, ``n_a`` tokens and ``t_a`` distinct tokens seen after ``a``), mixed with the
uniform distribution at weight ``e = 1/64``. The uniform part costs at most
``-log2(1 - e) = 0.023`` bits a token and bounds every probability away from 1, so a
payload of ``B`` bits cannot decode to more than ``(B + slack) / min_bits`` tokens
(:meth:`BigramPrior.min_bits`): a hostile header cannot make the decoder allocate more than
the file's size allows.

Exactness: the probabilities are computed from the integers by the same float64 numpy
operations, element by element, when encoding (a block of frames at once) and when decoding
(one frame at a time), and constriction's ``Categorical`` model quantises them to integer
frequencies; both sides therefore code with identical frequencies. A count model is exact
by construction; a neural prior would need integer arithmetic to be. Coding is
constriction's range coder (``constriction.stream.queue``).
"""

import hashlib
import io
import math
from typing import Iterable, List, Sequence, Union

import numpy as np

from espnet2_p2p.errors import BitstreamError
from espnet2_p2p.utils.tokens import first_bad_token

UNIFORM_WEIGHT = 1.0 / 64
#: Bits a stored payload may carry beyond the tokens' information (the coder's final words).
SLACK_BITS = 96
#: Decoding stops once the decoded tokens' information (bits under the prior) passes this
#: share of the payload's bits (+ slack): the 24-bit quantised frequencies the coder uses
#: differ from the float probabilities by far less than 1%.
COST_MARGIN = 1.02
# The most tokens an entropy-coded payload may hold (5.8 hours of a one-stream model at
# 50 Hz): range decoding goes token by token, so a hostile header claiming 24 million
# frames in an all-zero payload of 10 MB took 73 s and a gigabyte before the payload ran
# out; within this bound any payload is decoded or refused in about a second. Longer
# inputs are written at fixed width (espnet2_p2p.coding.files.FileCoder.encode).
MAX_CODED_TOKENS = 1 << 20
# what a stored prior may unpack to (the shipped teacher's: 19 MB in 13 arrays)
MAX_PRIOR_UNPACKED = 256 << 20
MAX_PRIOR_MEMBERS = 1 + 3 * 64
_BLOCK = 1024  # frames whose probabilities are built at once when encoding (memory bound)
_COST_BLOCK = 4096  # tokens decoded between two looks at what they cost
_KIND = b"espnet2_p2p bigram prior v1 (Witten-Bell + add-one unigram, uniform 1/64)"


def _coder():
    import constriction

    return constriction, constriction.stream.model.Categorical(perfect=False)


class _Stream:
    """One stream's sparse counts: CSR rows by context (K + 1 rows), columns = tokens."""

    def __init__(self, size: int, contexts: np.ndarray, tokens: np.ndarray, counts: np.ndarray):
        if size < 2:
            raise ValueError(f"a codebook has at least 2 entries, got {size}")
        contexts, tokens, counts = (np.asarray(a) for a in (contexts, tokens, counts))
        if not (contexts.shape == tokens.shape == counts.shape) or contexts.ndim != 1:
            raise ValueError("contexts, tokens and counts must be 1-D arrays of one length")
        for a in (contexts, tokens, counts):
            if a.size and not np.issubdtype(a.dtype, np.integer):
                raise ValueError("counts must be integers")
        if contexts.size and (first_bad_token(np.stack([contexts, tokens]), [size + 1, size]) or counts.min() < 1):
            raise ValueError(f"counts out of range for a codebook of {size}")
        keys = contexts.astype(np.int64) * size + tokens.astype(np.int64)
        order = np.argsort(keys, kind="stable")
        if keys.size and (np.diff(keys[order]) == 0).any():
            raise ValueError("a (context, token) pair appears twice")
        self.size = int(size)
        self.contexts = contexts[order].astype(np.int64)
        self.tokens = tokens[order].astype(np.int64)
        self.counts = counts[order].astype(np.int64)
        self.keys = keys[order]  # context * size + token, sorted: where a pair's count lies
        self.indptr = np.searchsorted(self.contexts, np.arange(size + 2))
        totals = np.bincount(self.contexts, weights=self.counts, minlength=size + 1)
        lens = np.diff(self.indptr)
        self.totals = np.maximum(totals, 1.0)
        unigram = np.bincount(self.tokens, weights=self.counts, minlength=size) + 1.0
        self.unigram = unigram / unigram.sum()
        weight = totals / np.maximum(totals + lens, 1)  # Witten-Bell: the context's own share
        self.own = (1.0 - UNIFORM_WEIGHT) * weight / self.totals  # per count
        self.rest = (1.0 - UNIFORM_WEIGHT) * (1.0 - weight)  # per unit of unigram
        self.floor = UNIFORM_WEIGHT / size
        # decoding: constriction's quantised model of each context seen, built once (the
        # same floats quantised the same way as the encoder's batched rows); bounded
        self._models, self._cache_limit = {}, max(64, (1 << 22) // size)

    def probabilities(self, contexts: np.ndarray) -> np.ndarray:
        """P(token | context) for contexts (n,) -> (n, K) float64."""
        contexts = np.asarray(contexts, dtype=np.int64)
        probs = self.rest[contexts][:, None] * self.unigram[None, :] + self.floor
        starts, ends = self.indptr[contexts], self.indptr[contexts + 1]
        lens = ends - starts
        if lens.sum():
            rows = np.repeat(np.arange(contexts.size), lens)
            pos = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(starts, lens)
            probs[rows, self.tokens[pos]] += self.own[contexts][rows] * self.counts[pos]
        return probs

    def model(self, context: int):
        """constriction's categorical model of one context (cached)."""
        model = self._models.get(context)
        if model is None:
            if len(self._models) >= self._cache_limit:
                self._models.clear()
            constriction, _ = _coder()
            model = constriction.stream.model.Categorical(self.probabilities(np.array([context]))[0], perfect=False)
            self._models[context] = model
        return model

    def costs(self, contexts: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """What tokens (n,) cost in their contexts (n,): ``-log2 p(token | context)``, float64."""
        contexts, tokens = np.asarray(contexts, dtype=np.int64), np.asarray(tokens, dtype=np.int64)
        keys = contexts * self.size + tokens
        pos = np.minimum(np.searchsorted(self.keys, keys), max(0, self.keys.size - 1))
        own = np.where(self.keys[pos] == keys, self.counts[pos], 0) if self.keys.size else np.zeros(keys.shape)
        return -np.log2(self.own[contexts] * own + self.rest[contexts] * self.unigram[tokens] + self.floor)

    def max_probability(self) -> float:
        """An upper bound of every probability this stream codes with."""
        top_own = np.zeros(self.size + 1)
        np.maximum.at(top_own, self.contexts, self.counts)
        bound = self.own * top_own + self.rest * self.unigram.max() + self.floor
        return float(min(1.0, bound.max()))


class BigramPrior:
    """Bigram priors of the transmitted streams of a codec (one per stream)."""

    def __init__(self, streams: Sequence[_Stream]):
        if not streams:
            raise ValueError("a prior needs at least one stream")
        self.streams = list(streams)

    @property
    def num_streams(self) -> int:
        return len(self.streams)

    @property
    def sizes(self) -> List[int]:
        return [s.size for s in self.streams]

    @classmethod
    def fit(cls, sequences: Iterable[np.ndarray], sizes: Union[int, Sequence[int]]) -> "BigramPrior":
        """Count the bigrams of token arrays (S, T); ``sizes``: every stream's codebook size
        (one int: all streams alike)."""
        keys = None
        for seq in sequences:
            seq = np.asarray(seq, dtype=np.int64)
            if seq.ndim != 2:
                raise ValueError(f"tokens must be (streams, frames), got shape {seq.shape}")
            stream_sizes = [int(sizes)] * seq.shape[0] if np.isscalar(sizes) else [int(k) for k in sizes]
            if len(stream_sizes) != seq.shape[0] or first_bad_token(seq, stream_sizes):
                raise ValueError(f"tokens must be ({len(stream_sizes)}, frames) within the codebooks {stream_sizes}")
            if keys is None:
                keys = [[] for _ in stream_sizes]
            for s, size in enumerate(stream_sizes):
                prev = np.concatenate([[size], seq[s, :-1]])
                keys[s].append(np.unique(prev * size + seq[s], return_counts=True))
        if keys is None:
            raise ValueError("no token sequences to count")
        streams = []
        for s, size in enumerate(stream_sizes):
            all_keys = np.concatenate([k for k, _ in keys[s]])
            all_counts = np.concatenate([c for _, c in keys[s]])
            uniq, inverse = np.unique(all_keys, return_inverse=True)
            counts = np.bincount(inverse, weights=all_counts).astype(np.int64)
            streams.append(_Stream(size, uniq // size, uniq % size, counts))
        return cls(streams)

    def fingerprint(self) -> bytes:
        """8 bytes naming these counts (a file coded with one prior needs the same one);
        computed once (the counts do not change)."""
        if getattr(self, "_fingerprint", None) is None:
            self._fingerprint = self._digest()
        return self._fingerprint

    def _digest(self) -> bytes:
        digest = hashlib.sha256(_KIND)
        for s in self.streams:
            digest.update(np.asarray([s.size, s.counts.size], dtype="<i8").tobytes())
            for a in (s.contexts, s.tokens, s.counts):
                digest.update(a.astype("<i8").tobytes())
        return digest.digest()[:8]

    def probabilities(self, stream: int, contexts: np.ndarray) -> np.ndarray:
        """P(token | previous token) for each context (n,) -> (n, K) float64."""
        return self.streams[stream].probabilities(contexts)

    def min_bits(self) -> float:
        """A lower bound of the bits any token costs (from the largest probability);
        computed once."""
        if getattr(self, "_min_bits", None) is None:
            self._min_bits = -math.log2(max(s.max_probability() for s in self.streams))
        return self._min_bits

    def max_tokens(self, payload_bytes: int) -> int:
        """The most tokens a payload of that many bytes can hold."""
        return int((8 * payload_bytes + SLACK_BITS) / (0.999 * self.min_bits()))

    def bits(self, tokens: np.ndarray) -> float:
        """Ideal code length of tokens (S, T) in bits (the coder adds a few words)."""
        tokens = np.asarray(tokens, dtype=np.int64)
        total = 0.0
        for s, stream in enumerate(self.streams):
            prev = np.concatenate([[stream.size], tokens[s, :-1]])
            total -= float(np.log2(stream.probabilities(prev)[np.arange(tokens.shape[1]), tokens[s]]).sum())
        return total

    # ------------------------------------------------------------- coding
    def check_tokens(self, tokens: np.ndarray) -> np.ndarray:
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 2 or tokens.shape[0] != self.num_streams:
            raise ValueError(f"tokens must be ({self.num_streams}, frames), got shape {tokens.shape}")
        if first_bad_token(tokens, self.sizes):
            raise ValueError(f"tokens must lie within the codebooks {self.sizes}")
        return tokens

    def encode(self, tokens: np.ndarray) -> bytes:
        """Tokens (S, T) -> bytes (a whole number of 32-bit words), stream after stream."""
        tokens = self.check_tokens(tokens)
        constriction, family = _coder()
        encoder = constriction.stream.queue.RangeEncoder()
        for s, stream in enumerate(self.streams):
            prev = np.concatenate([[stream.size], tokens[s, :-1]])
            for a in range(0, tokens.shape[1], _BLOCK):
                b = min(tokens.shape[1], a + _BLOCK)
                encoder.encode(tokens[s, a:b].astype(np.int32), family, stream.probabilities(prev[a:b]))
        return encoder.get_compressed().astype("<u4").tobytes()

    def decode(self, payload: bytes, num_frames: int) -> np.ndarray:
        """bytes -> tokens (S, num_frames) int64. A payload too short for that many tokens,
        one that does not decode, or one that holds more raises
        :class:`~espnet2_p2p.errors.BitstreamError`."""
        if len(payload) % 4:
            raise BitstreamError(f"entropy-coded payload of {len(payload)} bytes is not whole 32-bit words")
        if self.num_streams * num_frames > min(self.max_tokens(len(payload)), MAX_CODED_TOKENS):
            raise BitstreamError(
                f"an entropy-coded payload of {len(payload)} bytes cannot hold"
                f" {self.num_streams} x {num_frames} tokens with this prior"
            )
        constriction, _ = _coder()
        budget = COST_MARGIN * (8 * len(payload) + SLACK_BITS)
        cost = 0.0
        try:
            decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
            out = np.empty((self.num_streams, num_frames), dtype=np.int64)
            for s, stream in enumerate(self.streams):
                prev, row, start = stream.size, out[s], 0
                for t in range(num_frames):
                    prev = row[t] = decoder.decode(stream.model(prev))
                    if t + 1 - start == _COST_BLOCK or t + 1 == num_frames:  # what the block cost
                        contexts = np.concatenate([[stream.size if start == 0 else row[start - 1]], row[start:t]])
                        cost += float(stream.costs(contexts, row[start : t + 1]).sum())
                        start = t + 1
                        if cost > budget:  # the payload is spent: it cannot hold the frames claimed
                            raise BitstreamError(
                                f"entropy-coded payload of {len(payload)} bytes is spent after {t} of"
                                f" {num_frames} frames of stream {s}: the file claims more than it holds"
                            )
            exhausted = decoder.maybe_exhausted()
        except BitstreamError:
            raise
        except Exception as e:  # constriction reports bad data with its own exception types
            raise BitstreamError(f"entropy-coded payload does not decode: {e}") from None
        if not exhausted:
            raise BitstreamError(f"entropy-coded payload holds more than {num_frames} frames of tokens")
        return out

    # ------------------------------------------------------------- storage
    def to_bytes(self) -> bytes:
        arrays = {"sizes": np.asarray(self.sizes, dtype=np.int64)}
        for i, s in enumerate(self.streams):
            arrays[f"contexts{i}"] = s.contexts.astype(np.int32)
            arrays[f"tokens{i}"] = s.tokens.astype(np.int32)
            arrays[f"counts{i}"] = s.counts.astype(np.int32 if s.counts.max(initial=0) < 2**31 else np.int64)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "BigramPrior":
        """A prior written by :meth:`to_bytes`; what it unpacks to is bounded (from the
        archive's own headers, before anything is unpacked) by :data:`MAX_PRIOR_UNPACKED`."""
        import zipfile

        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                unpacked = sum(info.file_size for info in zf.infolist())
                if len(zf.infolist()) > MAX_PRIOR_MEMBERS or unpacked > MAX_PRIOR_UNPACKED:
                    raise ValueError(
                        f"not a stored bigram prior: it would unpack to {unpacked} bytes in"
                        f" {len(zf.infolist())} arrays (at most {MAX_PRIOR_UNPACKED} in {MAX_PRIOR_MEMBERS})"
                    )
                for info in zf.infolist():  # numpy allocates what an array's header says
                    with zf.open(info) as member:
                        version = np.lib.format.read_magic(member)
                        read_header = {
                            (1, 0): np.lib.format.read_array_header_1_0,
                            (2, 0): np.lib.format.read_array_header_2_0,
                        }.get(version)
                        if read_header is None:
                            raise ValueError(f"{info.filename}: .npy version {version}")
                        shape, _, dtype = read_header(member)
                    if dtype.hasobject or int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > info.file_size:
                        raise ValueError(
                            f"not a stored bigram prior: {info.filename} claims {shape} of {dtype}"
                            f" in {info.file_size} bytes"
                        )
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise ValueError(f"not a stored bigram prior: {e}") from None
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                sizes = npz["sizes"]
                return cls(
                    [
                        _Stream(int(k), npz[f"contexts{i}"], npz[f"tokens{i}"], npz[f"counts{i}"])
                        for i, k in enumerate(sizes)
                    ]
                )
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise ValueError(f"not a stored bigram prior: {e}") from None


def coded_bits_per_token(prior: BigramPrior, sequences: List[np.ndarray]) -> float:
    """Measured bits per token of coding every sequence (S, T) with ``prior``."""
    bits = sum(8 * len(prior.encode(seq)) for seq in sequences)
    return bits / sum(np.asarray(seq).size for seq in sequences)
