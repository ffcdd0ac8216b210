"""Two facts about token streams that the codecs, the container and the tokenizer share,
written once (numpy only: the ``.p2p`` reader uses them without torch).
"""

from typing import NamedTuple, Optional, Sequence

import numpy as np


def frames_for(num_samples: int, hop_length: int) -> int:
    """Code frames of a waveform of ``num_samples`` samples: ``ceil(T / hop)``, at least one.

    A symbolic length (``torch.SymInt``, while a graph is exported) stays symbolic."""
    if type(num_samples).__name__ != "SymInt":
        num_samples = int(num_samples)
    return max(1, -(-num_samples // int(hop_length)))


class BadToken(NamedTuple):
    """The first token outside its codebook: its stream, its index within the stream
    (flattened), its value, and the stream's smallest and largest token."""

    stream: int
    index: int
    value: int
    low: int
    high: int


def first_bad_token(codes, sizes: Sequence[int]) -> Optional[BadToken]:
    """None if stream ``s`` of ``codes`` (streams first: (S, ...), a numpy array or a CPU
    tensor) lies in ``[0, sizes[s])`` for every s, else the first token that does not.
    ``codes`` has one stream per size."""
    if len(codes) != len(sizes):
        raise ValueError(f"{len(codes)} streams of tokens for {len(sizes)} codebook sizes")
    for s, size in enumerate(sizes):
        stream = np.asarray(codes[s]).reshape(-1)
        if stream.size == 0:
            continue
        low, high = int(stream.min()), int(stream.max())
        if low < 0 or high >= size:
            index = int(np.flatnonzero((stream < 0) | (stream >= size))[0])
            return BadToken(s, index, int(stream[index]), low, high)
    return None
