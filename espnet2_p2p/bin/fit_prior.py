#!/usr/bin/env python3
"""Fit the entropy-coding prior of a codec's transmitted tokens on training data.

    python -m espnet2_p2p.bin.fit_prior --model exp/student/config.yaml:exp/student/model.pth \\
        --wav_scp dump/train/wav.scp --output exp/prior_student.npz
    python -m espnet2_p2p.bin.fit_prior --model exp/p2psyn_packed.zip --model_name student \\
        --tokens_dir dump/tokens/train --output exp/prior_student.npz

The tokens are those ``p2p-codec encode`` puts into a file (a student's plain stream, a
teacher's 1 + N streams, SecoustiCodec's FSQ stream): coded here from ``--wav_scp`` (the
same code path as the CLI), or read from a token dump of the same model
(``espnet2_p2p.bin.dump_tokens``; its first streams are the transmitted ones). The prior
(:class:`espnet2_p2p.entropy.BigramPrior`) is written as ``.npz``; ``espnet2_p2p.bin.pack``
stores it with the model (``NAME:CONFIG:MODEL:PRIOR``), and ``p2p-codec encode`` then
writes format 3. ``--model`` also takes ``CONFIG:MODEL`` (two files).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from espnet2_p2p.errors import P2PError


def _runner(args):
    from espnet2_p2p.bin.p2p_codec import Runner

    return Runner(argparse.Namespace(model=args.model, model_name=args.model_name, device=args.device,
                                     chunk_seconds=30.0, context_seconds=2.0, quiet=True))  # fmt: skip


def _load(args):
    """(codec, fingerprint hex) of --model (a path, or CONFIG:MODEL)."""
    from espnet2_p2p.model_io import fingerprint, load_files

    if ":" in args.model and not Path(args.model).exists():
        config, model_file = args.model.split(":", 1)
        model = load_files(config, model_file, args.device)
        return model.codec, fingerprint(model).hex(), None
    runner = _runner(args)
    return runner.codec, runner.fingerprint.hex(), runner


def tokens_from_audio(codec, runner, wav_scp: Path, max_seconds: Optional[float]) -> List[np.ndarray]:
    from tqdm import tqdm

    from espnet2_p2p.bin.p2p_codec import list_inputs

    if runner is None:
        raise P2PError("--wav_scp needs --model as a packed zip, an experiment dir or a .pth file")
    inputs = list_inputs(wav_scp, (".wav", ".flac", ".ogg"))
    out, seconds = [], 0.0
    for _, path in tqdm(inputs, desc="tokens", unit="file"):
        codes, _, num_samples = runner.transmitted(path)
        out.append(codes)
        seconds += num_samples / codec.fs
        if max_seconds is not None and seconds >= max_seconds:
            break
    return out


def tokens_from_dump(codec, fingerprint_hex: str, tokens_dir: Path) -> List[np.ndarray]:
    import kaldiio

    info_file = tokens_dir / "token_info.json"
    if not info_file.is_file():
        raise P2PError(f"{tokens_dir} is not a token dump (no token_info.json)")
    info = json.loads(info_file.read_text())
    if info.get("model_fingerprint") and info["model_fingerprint"] != fingerprint_hex:
        raise P2PError(f"{tokens_dir} holds the tokens of model {info['model_fingerprint']}, --model is {fingerprint_hex}")
    streams = codec.transmitted_streams
    sizes = list(codec.stream_sizes[:streams])
    if info["codebook_sizes"][:streams] != sizes:
        raise P2PError(f"{tokens_dir}: codebooks {info['codebook_sizes']}, the model transmits {sizes}")
    offsets = np.asarray(info["offsets"][:streams])[:, None]
    out = []
    for ids in kaldiio.load_scp(str(tokens_dir / "tokens.scp")).values():
        ids = np.asarray(ids, dtype=np.int64)
        flat = ids.reshape(-1, info["streams"]).T if info["order"] == "frame" else ids.reshape(info["streams"], -1)
        out.append(flat[:streams] - offsets)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="packed zip, experiment dir, .pth, or CONFIG:MODEL")
    parser.add_argument("--model_name", default=None, help="which model of a packed zip")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--wav_scp", type=Path, help="audio to code: a wav.scp, a folder or one file")
    source.add_argument("--tokens_dir", type=Path, help="a token dump of the same model")
    parser.add_argument("--max_seconds", type=float, default=None, help="stop after this much audio (--wav_scp)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    from espnet2_p2p.entropy import BigramPrior
    from espnet2_p2p.utils.files import temp_path

    try:
        codec, fp, runner = _load(args)
        if args.wav_scp is not None:
            sequences = tokens_from_audio(codec, runner, args.wav_scp, args.max_seconds)
        else:
            sequences = tokens_from_dump(codec, fp, args.tokens_dir)
        if not sequences:
            raise P2PError("no tokens to fit a prior on")
        sizes = list(codec.stream_sizes[: codec.transmitted_streams])
        prior = BigramPrior.fit(sequences, sizes)
    except (P2PError, ValueError, OSError) as e:
        print(f"fit_prior: error: {e}", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(args.output)
    try:
        tmp.write_bytes(prior.to_bytes())
        tmp.replace(args.output)
    finally:
        tmp.unlink(missing_ok=True)
    tokens = sum(s.size for s in sequences)
    frames = sum(s.shape[1] for s in sequences)
    ideal = sum(prior.bits(s) for s in sequences) / frames * codec.frame_rate
    print(f"wrote {args.output}: prior {prior.fingerprint().hex()} of {len(sequences)} utterances,"
          f" {tokens} tokens ({frames / codec.frame_rate / 3600:.2f} h); on them {ideal:.0f} bit/s"
          f" against {codec.nominal_bitrate:.0f} nominal")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
