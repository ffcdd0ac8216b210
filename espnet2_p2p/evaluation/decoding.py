"""Coding test utterances for evaluation: one utterance through a ``.p2p`` file and back
(what a user's file gives), the pseudo-token accuracy of a student against its teacher,
and codebook use. ``python -m espnet2_p2p.bin.decode`` runs it over a data dir and writes
the tables."""

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from espnet2_p2p.container.bitstream import P2PFile
from espnet2_p2p.coding.coder import TorchCoder


WHOLE_SECONDS = 3600.0


@torch.no_grad()
def decode_system(coder: TorchCoder, wav: np.ndarray, n_streams: Optional[int], p2p_path: Path):
    """Code one utterance through a .p2p file with ``coder`` (which chooses chunked or
    streaming coding itself).

    Returns:
        (decoded wav, (predicted pseudo tokens, teacher tokens) for a student else None,
        the header of the file written).
    """
    layout = coder.layout
    student = layout.predicts_streams
    # A student's transmitted stream is the first of all its streams: code once, keep both.
    # one piece for any utterance of a corpus (a chunk of an hour): what whole-input coding gives
    codes, side = coder.encode_file(lambda a, b: wav[a:b], len(wav), "all" if student else "transmitted",
                                    chunk_seconds=WHOLE_SECONDS)  # fmt: skip
    sent = codes[: layout.transmitted_streams][:n_streams]
    P2PFile.of(layout, sent, len(wav), coder.fingerprint, side).write(p2p_path)
    p2p = P2PFile.read(p2p_path, layout=layout, fingerprint=coder.fingerprint)
    pieces: List[np.ndarray] = []
    coder.decode_file(p2p.codes, p2p.header.num_samples, pieces.append, chunk_seconds=WHOLE_SECONDS,
                      side_info=p2p.side_info)  # fmt: skip
    tokens = None
    if student:
        tokens = (torch.from_numpy(codes[1:]), torch.from_numpy(coder.teacher_tokens(wav)[1:]))
    return np.concatenate(pieces), tokens, p2p.header


def token_accuracy(pairs) -> List[Tuple[float, float]]:
    """Per pseudo level: (top-1 accuracy, majority baseline) over all frames of all
    utterances; the baseline is the share of the most frequent teacher token."""
    predicted = torch.cat([p for p, _ in pairs], dim=1)
    target = torch.cat([t for _, t in pairs], dim=1)
    return [
        ((p == t).float().mean().item(), torch.bincount(t).max().item() / t.numel())
        for p, t in zip(predicted, target)
    ]


def codebook_use(streams: List[np.ndarray], sizes: List[int]) -> List[Dict[str, float]]:
    """Per transmitted stream: codes used, their share of the codebook, token entropy (bits)."""
    out = []
    for tokens, size in zip(streams, sizes):
        counts = np.bincount(tokens, minlength=size)
        p = counts[counts > 0] / counts.sum()
        used = int((counts > 0).sum())
        out.append(dict(size=size, used=used, share=used / size, entropy_bits=float(-(p * np.log2(p)).sum())))
    return out
