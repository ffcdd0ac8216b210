"""Coding test utterances for evaluation: one utterance through a ``.p2p`` file and back
(what a user's file gives), the pseudo-token accuracy of a student against its teacher,
and codebook use; decoding a data dir with a system (:func:`decode_one`, reused when its
inputs did not change: :func:`system_key`, :func:`reusable`) and the tables of a run
(:func:`write_tables`). ``python -m espnet2_p2p.bin.decode`` parses its options."""

import hashlib
import json
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from espnet2_p2p.coding.coder import TorchCoder
from espnet2_p2p.container.bitstream import P2PFile
from espnet2_p2p.layout import Rates
from espnet2_p2p.model_io import load_files
from espnet2_p2p.utils.files import file_digest


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
    # chunk_seconds None: one piece, what whole-input coding gives (coding_plan)
    codes, side = coder.encode_file(
        lambda a, b: wav[a:b], len(wav), "all" if student else "transmitted", chunk_seconds=None
    )
    sent = codes[: layout.transmitted_streams][:n_streams]
    P2PFile.of(layout, sent, len(wav), coder.fingerprint, side).write(p2p_path)
    p2p = P2PFile.read(p2p_path, layout=layout, fingerprint=coder.fingerprint)
    pieces: List[np.ndarray] = []
    coder.decode_file(p2p.codes, p2p.header.num_samples, pieces.append, chunk_seconds=None, side_info=p2p.side_info)
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
        ((p == t).float().mean().item(), torch.bincount(t).max().item() / t.numel()) for p, t in zip(predicted, target)
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


def system_key(label: str, config: Path, model_file: Path, options: dict, utts) -> str:
    """What a decoded folder depends on: the label and options, the bytes of the config and
    the model file, and the input audio (ids, paths, sizes and modification times)."""
    audio = []
    for utt, path in utts:
        st = Path(path).stat()
        audio.append([utt, path, st.st_size, st.st_mtime_ns])
    text = json.dumps([label, file_digest(config), file_digest(model_file), sorted(options.items()), audio])
    return hashlib.sha256(text.encode()).hexdigest()


def reusable(out_dir: Path, key: str, utts) -> Optional[dict]:
    """The record of a folder decoded before from the same inputs, else None."""
    try:
        record = json.loads((out_dir / "system.json").read_text())
    except (OSError, ValueError):
        return None
    if record.get("key") != key or not all((out_dir / f"{u}.wav").is_file() for u, _ in utts):
        return None
    return record


def decode_one(label: str, config: Path, model_file: Path, options: dict, utts, out_dir: Path) -> dict:
    """Decode every utterance with one system; returns its measurements."""
    coder = TorchCoder(load_files(config, model_file).codec)
    if "pseudo_codeword" in options:
        try:
            coder.codec.set_pseudo_codeword(options["pseudo_codeword"])
        except ValueError as e:
            raise SystemExit(f"decode: {label}: {e}") from None
    n_streams = options.get("streams")
    if n_streams is not None and n_streams not in (1, coder.layout.transmitted_streams):
        # a .p2p file (and the decoder) takes the plain stream alone or every transmitted one
        raise SystemExit(
            f"decode: {label}: streams={n_streams}: a system sends stream 0 alone (streams=1) or all"
            f" {coder.layout.transmitted_streams} streams it transmits"
        )
    import soundfile as sf
    from tqdm import tqdm

    fs = coder.layout.fs
    (out_dir / "bitstreams").mkdir(parents=True, exist_ok=True)
    pairs, total, sent = [], Rates(), []
    for utt, path in tqdm(utts, desc=f"decoding {label}"):
        wav, rate = sf.read(path, dtype="float32")
        if rate != fs:
            raise SystemExit(f"decode: {utt}: {path} is {rate} Hz, the codec needs {fs} Hz")
        p2p = out_dir / "bitstreams" / f"{utt}.p2p"
        wav_hat, tokens, header = decode_system(coder, wav, n_streams, p2p)
        sf.write(str(out_dir / f"{utt}.wav"), wav_hat, fs, subtype="FLOAT")
        total += header.rates()
        sent.append(P2PFile.read(p2p, layout=coder.layout, fingerprint=coder.fingerprint).codes)
        if tokens is not None:
            pairs.append(tokens)
    sizes = list(header.stream_sizes)
    return dict(
        nominal_bps=total.nominal_bps,
        payload_bps=total.payload_bps,
        file_bps=total.file_bps,
        mean_file_bytes=total.file_bits / 8 / len(utts),
        codebook_use=codebook_use([np.concatenate([t[i] for t in sent]) for i in range(len(sizes))], sizes),
        pseudo_top1=token_accuracy(pairs) if pairs else None,
    )


def write_tables(summary: Dict[str, dict], output_dir: Path) -> None:
    """bitrate.md, codebook_use.md, token_accuracy.md (students) and summary.json."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "bitrate.md").write_text(
        "| system | nominal bit/s (whole frames) | token payload bit/s (measured) | .p2p files"
        " bit/s (with the 56-byte container and any side information) | mean file size (bytes) |\n|---|---|---|---|---|\n"
        + "".join(
            f"| {label} | {r['nominal_bps']:g} | {r['payload_bps']:.1f} | {r['file_bps']:.1f} | {r['mean_file_bytes']:.1f} |\n"
            for label, r in summary.items()
        )
    )
    (output_dir / "codebook_use.md").write_text(
        "| system | stream | codes used | share | token entropy (bits) |\n|---|---|---|---|---|\n"
        + "".join(
            f"| {label} | {i} | {u['used']} / {u['size']} | {100 * u['share']:.1f}% | {u['entropy_bits']:.2f} |\n"
            for label, r in summary.items()
            for i, u in enumerate(r["codebook_use"])
        )
    )
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    accuracy = [
        f"| {label} | " + "<br>".join(f"{n}: {a:.3f} ({m:.3f})" for n, (a, m) in enumerate(r["pseudo_top1"], 1)) + " |"
        for label, r in summary.items()
        if r["pseudo_top1"]
    ]
    if accuracy:
        (output_dir / "token_accuracy.md").write_text(
            "| system | pseudo-token top-1 per level (majority baseline) |\n|---|---|\n" + "\n".join(accuracy) + "\n"
        )
    else:  # no student among these systems: no table left from an earlier run
        (output_dir / "token_accuracy.md").unlink(missing_ok=True)
