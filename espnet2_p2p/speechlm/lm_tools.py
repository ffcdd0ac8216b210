"""Reading a speech-LM experiment (``python -m espnet2_p2p.bin.speechlm_report`` writes the
table): the test set's negative log-likelihood of ``lm_calc_perplexity``
(:func:`test_nll`), tokens and bits per second of audio (:func:`measure`) and what the
training cost (:func:`training`: epochs and hours from its ``train.log``, parameters,
vocabulary)."""

import math
from pathlib import Path
from typing import Dict, Sequence

import numpy as np

from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.utils.train_log import read_curve


def test_nll(ppl_dir: Path) -> Dict[str, tuple]:
    """{utt: (negative log-likelihood in nats, tokens incl. end-of-sentence)} from
    lm_calc_perplexity's output (its perplexity is exp(nll / tokens) whatever --log_base)."""
    ppl, ntok = read_table(ppl_dir / "utt2ppl"), read_table(ppl_dir / "utt2ntokens")
    return {u: (math.log(float(ppl[u])) * int(ntok[u]), int(ntok[u])) for u in ppl}


def training(lm_exp: Path) -> dict:
    """Epochs, hours and parameter count of an LM experiment."""
    log = lm_exp / "train.log"
    curve = read_curve(log, "loss") if log.is_file() else []  # training wall time per epoch
    params = None
    checkpoints = sorted(lm_exp.glob("*.best.pth")) or sorted(lm_exp.glob("*epoch.pth"))
    if checkpoints:
        import torch

        state = torch.load(checkpoints[-1], map_location="cpu", weights_only=True)
        params = sum(v.numel() for v in state.values() if hasattr(v, "numel"))
    vocab = None
    config = lm_exp / "config.yaml"
    if config.is_file():
        import yaml

        vocab = len(yaml.safe_load(config.read_text()).get("token_list") or []) or None
    return dict(epochs=len(curve), hours=curve[-1].hours if curve else 0.0, params=params, vocab=vocab)


def measure(ppl_dir: Path, token_dir: Path, samples: Dict[str, str], fs: int) -> dict:
    nll = test_nll(ppl_dir)
    tokens = {}
    for line in (token_dir / "lm_text").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in nll:
            tokens[parts[0]] = len(parts) - 1
    missing = sorted(set(nll) - set(tokens) | set(nll) - set(samples))
    if missing:
        raise SystemExit(
            f"speechlm_report: {len(missing)} utterances of {ppl_dir} have no tokens or duration (e.g. {missing[0]})"
        )
    seconds = sum(int(samples[u]) for u in nll) / fs
    total_nll = sum(v for v, _ in nll.values())
    total_tokens = sum(n for _, n in nll.values())
    return dict(
        utts=len(nll),
        seconds=seconds,
        tokens_per_s=sum(tokens.values()) / seconds,
        ce_nats=total_nll / total_tokens,
        bits_per_s=total_nll / math.log(2) / seconds,
    )


def sample(lm, prompt, steps: int, allowed: Sequence[np.ndarray], temperature: float, generator) -> list:
    """Continue ``prompt`` (LM token ids) by ``steps`` ids drawn from the LM; the i-th id of
    the whole sequence only among ``allowed[i % len(allowed)]`` (boolean masks over the
    vocabulary: one per stream of a frame-ordered multi-stream layout)."""
    import torch

    sos = lm.sos
    y, state = [sos], None
    masks = [torch.from_numpy(~a) for a in allowed]
    for token in prompt:
        _, state = lm.lm.score(torch.tensor(y), state, None)
        y.append(int(token))
    out = []
    for _ in range(steps):
        logp, state = lm.lm.score(torch.tensor(y), state, None)
        logits = (logp / temperature).masked_fill(masks[(len(y) - 1) % len(masks)], -float("inf"))
        token = int(torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator))
        y.append(token)
        out.append(token)
    return out
