"""Codebook use and a linear speaker-leakage probe on a codec's tokens
(``python -m espnet2_p2p.bin.token_probe`` describes the probe and writes the table)."""

from collections import defaultdict  # noqa: F401
from typing import Dict, List

import soundfile as sf
import torch
from tqdm import tqdm


@torch.no_grad()
def set_tokens(codec, wavs: Dict[str, str]) -> Dict[str, torch.Tensor]:
    out = {}
    for key in tqdm(sorted(wavs), desc="tokens"):
        audio, fs = sf.read(wavs[key], dtype="float32", always_2d=True)
        if fs != codec.fs:
            raise SystemExit(f"{key}: {fs} Hz, the codec wants {codec.fs} Hz")
        out[key] = codec.encode(torch.from_numpy(audio.mean(1)).view(1, 1, -1))[0, 0]
    return out


def digit_features(codes: torch.Tensor, levels: List[int]) -> torch.Tensor:
    """Tokens (T,) -> one-hot FSQ digits (T, sum(levels))."""
    feats, base = [], 1
    for lv in levels:
        digit = (codes // base) % lv
        feats.append(torch.nn.functional.one_hot(digit, lv).float())
        base *= lv
    return torch.cat(feats, dim=-1)


def _fit_predict(x_tr, y_tr, x_te, classes: int, seed: int = 0, l2: float = 1e-3):
    torch.manual_seed(seed)
    mean, std = x_tr.mean(0), x_tr.std(0).clamp(min=1e-3)
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    model = torch.nn.Linear(x_tr.shape[1], classes)
    opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x_tr), y_tr) + l2 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return model(x_te).argmax(-1)


def speaker_probe(tokens: Dict[str, torch.Tensor], utt2spk: Dict[str, str], levels: List[int]) -> dict:
    by_spk = defaultdict(list)
    for key in sorted(tokens):
        by_spk[utt2spk[key]].append(key)
    speakers = sorted(s for s, keys in by_spk.items() if len(keys) >= 2)
    if len(speakers) < 2:
        raise SystemExit("the speaker probe needs at least 2 speakers with 2 utterances each")
    sid = {s: i for i, s in enumerate(speakers)}
    split = {"train": [], "test": []}
    for s in speakers:
        for i, key in enumerate(by_spk[s]):
            split["train" if i % 2 == 0 else "test"].append(key)

    def frames(keys):
        x = torch.cat([digit_features(tokens[k], levels) for k in keys])
        y = torch.cat([torch.full((len(tokens[k]),), sid[utt2spk[k]]) for k in keys])
        return x, y

    def utts(keys):
        x = torch.stack([digit_features(tokens[k], levels).mean(0) for k in keys])
        return x, torch.tensor([sid[utt2spk[k]] for k in keys])

    result = {"speakers": len(speakers), "train_utts": len(split["train"]), "test_utts": len(split["test"])}
    for name, make in (("frame", frames), ("utterance", utts)):
        x_tr, y_tr = make(split["train"])
        x_te, y_te = make(split["test"])
        pred = _fit_predict(x_tr, y_tr, x_te, len(speakers))
        result[f"{name}_accuracy"] = float((pred == y_te).float().mean())
        result[f"{name}_majority"] = float(torch.bincount(y_te).max() / len(y_te))
    return result
