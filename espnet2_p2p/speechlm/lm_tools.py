"""Reading a speech-LM experiment (``python -m espnet2_p2p.bin.speechlm_report`` writes the
table): the test set's negative log-likelihood of ``lm_calc_perplexity``
(:func:`test_nll`), tokens and bits per second of audio (:func:`measure`) and what the
training cost (:func:`training`: epochs and hours from its ``train.log``, parameters,
vocabulary); sampling continuations of test prompts from the LM and decoding them
(:func:`sample`, :func:`continuations`: ``python -m espnet2_p2p.bin.lm_continue``)."""

import json
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


def continuations(
    lm_exp: Path,
    tokens_dir: Path,
    data_dir: Path,
    output_dir: Path,
    coder,
    num_prompts: int,
    prompt_seconds: float,
    continue_seconds: float,
    temperature: float,
    seed: int,
) -> dict:
    """Continue the ``num_prompts`` longest test utterances of a token dump (``tokens_dir``:
    ``lm_text``, ``token_info.json``) long enough for prompt + continuation: the LM of
    ``lm_exp`` (its best checkpoint) samples ``continue_seconds`` after the first
    ``prompt_seconds`` of each, each token among its stream's codes; ``coder`` decodes
    prompt + continuation and the utterance's real tokens over the same span, and keeps the
    continuation's part (``output_dir/lm/``, ``output_dir/real/``). Returns ``utts``, per
    kind the DNSMOS ``scores`` and a few ``examples`` (label, audio, rate), ``streams`` and
    ``frames`` (prompt + continuation); ``utts`` is empty when no utterance is long enough."""
    import soundfile as sf
    import torch
    from espnet2.tasks.lm import LMTask
    from tqdm import tqdm

    from espnet2_p2p.evaluation.metrics import dnsmos

    torch.set_num_threads(1)
    lm, train_args = LMTask.build_model_from_file(lm_exp / "config.yaml", lm_exp / "valid.loss.best.pth", "cpu")
    lm.eval()
    token_list = list(train_args.token_list)
    index = {name: i for i, name in enumerate(token_list)}
    info = tokens_dir / "token_info.json"
    streams = int(json.loads(info.read_text()).get("streams", 1)) if info.exists() else 1
    allowed = [np.array([name.startswith(f"<codec_layer{k}_code") for name in token_list]) for k in range(streams)]
    layout = coder.layout
    prompt_frames = int(round(prompt_seconds * layout.frame_rate))
    steps = int(round(continue_seconds * layout.frame_rate))
    total = prompt_frames + steps
    samples = {u: int(n) for u, n in read_table(data_dir / "utt2num_samples").items()}
    tokens = {}
    for line in (tokens_dir / "lm_text").read_text().splitlines():
        parts = line.split()
        if len(parts) - 1 >= total * streams and samples.get(parts[0], 0) >= total * layout.hop_length:
            tokens[parts[0]] = parts[1:]
    utts = sorted(tokens, key=lambda u: (-samples[u], u))[:num_prompts]
    if not utts:
        return dict(utts=[], frames=total)
    generator = torch.Generator().manual_seed(seed)
    hop = layout.hop_length
    start, end = prompt_frames * hop, total * hop
    for kind in ("lm", "real"):
        (output_dir / kind).mkdir(parents=True, exist_ok=True)
    scores = {"lm": [], "real": []}
    examples = []

    def decode(ids) -> np.ndarray:
        flat = [int(token_list[i].rsplit("_code", 1)[1].rstrip(">")) for i in ids]
        codes = np.array(flat, dtype=np.int64).reshape(total, streams).T  # (streams, frames)
        pieces = []
        with torch.no_grad():
            coder.decode_file(codes, total * hop, pieces.append)
        return np.concatenate(pieces)[start:end]

    for utt in tqdm(utts, desc="continuations"):
        real_ids = [index[t] for t in tokens[utt][: total * streams]]
        prompt = real_ids[: prompt_frames * streams]
        drawn = sample(lm, prompt, steps * streams, allowed, temperature, generator)
        for kind, ids in (("lm", prompt + drawn), ("real", real_ids)):
            wav = decode(ids)
            sf.write(str(output_dir / kind / f"{utt}.wav"), wav, layout.fs, subtype="FLOAT")
            scores[kind].append(dnsmos(wav, layout.fs))
            if len(examples) < 6:
                examples.append((f"{utt}: {'LM continuation' if kind == 'lm' else 'real tokens'}", wav, layout.fs))
    return dict(utts=utts, scores=scores, examples=examples, streams=streams, frames=total)
