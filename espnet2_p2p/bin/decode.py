#!/usr/bin/env python3
"""Decode a data dir with trained codecs into folders of wavs, for the scorer.

    python -m espnet2_p2p.bin.decode --data_dir data/test --output_dir exp/decode \
        --system "student:exp/student/config.yaml:exp/student/valid.ce_loss.best.pth" \
        --system "plain:exp/teacher/config.yaml:exp/teacher/valid.mel_l1_loss.best.pth:streams=1"

Each ``--system LABEL:CONFIG:MODEL_FILE[:OPTIONS]`` is built through ESPnet
(:func:`espnet2_p2p.model_io.load_files`) and writes, per utterance, the bitstream
``OUTPUT_DIR/LABEL/bitstreams/<utt>.p2p`` (:mod:`espnet2_p2p.container.bitstream`) and the audio
decoded from that file, ``OUTPUT_DIR/LABEL/<utt>.wav``. A SecoustiCodec system codes
through its streaming path, with its paralinguistic vector as the file's side information.
OPTIONS, comma-separated: ``streams=1`` keeps the plain stream of a teacher's codes
(plain-only decoding; a ``.p2p`` file holds stream 0 alone or all 1 + N, so another K is
refused); ``pseudo_codeword=argmax|expected`` overrides a student's
codeword rule. For students, ``OUTPUT_DIR/token_accuracy.md`` gives the pseudo-token
top-1 accuracy against the teacher's tokens and the majority-token baseline (the most
frequent teacher token of the decoded set, per level), and every system's bitrate
measured from the files written (``bitrate.md``: token payload, and whole files with
the container's header and CRC); ``codebook_use.md`` gives per transmitted stream the
codes used and the token entropy; ``summary.json`` holds all of it for
:mod:`espnet2_p2p.bin.results_table`.

A system already decoded into OUTPUT_DIR is not decoded again: ``LABEL/system.json``,
written when its folder is complete, records what it was made from (the spec, the bytes of
the config and model files, the input audio files' sizes and modification times) and its
measurements. Adding a system to a finished run decodes that system only; a changed
model or data dir decodes again; ``--force`` decodes everything.
Score the folders with ``python -m espnet2_p2p.bin.score``.
"""

import argparse
import hashlib
from pathlib import Path
import json
from typing import Dict, Optional

import numpy as np
import soundfile as sf
from tqdm import tqdm

import espnet2_p2p  # noqa: F401  (registers the codecs)
from espnet2_p2p.container.bitstream import P2PFile
from espnet2_p2p.coding.coder import TorchCoder
from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.errors import one_line_errors
from espnet2_p2p.model_io import load_files
from espnet2_p2p.utils.files import file_digest


def parse_system(spec: str):
    parts = spec.split(":")
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError(
            f"--system wants LABEL:CONFIG:MODEL_FILE[:OPTIONS], got {spec!r}"
        )
    options = {}
    for item in filter(None, (parts[3] if len(parts) == 4 else "").split(",")):
        key, _, value = item.partition("=")
        if key not in ("streams", "pseudo_codeword") or not value:
            raise argparse.ArgumentTypeError(f"unknown --system option {item!r} in {spec!r}")
        if key == "streams" and not value.isdigit():
            raise argparse.ArgumentTypeError(f"streams wants a whole number, got {value!r} in {spec!r}")
        options[key] = int(value) if key == "streams" else value
    return parts[0], Path(parts[1]), Path(parts[2]), options


from espnet2_p2p.evaluation.decoding import codebook_use, decode_system, token_accuracy


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
        raise SystemExit(f"decode: {label}: streams={n_streams}: a system sends stream 0 alone (streams=1) or all"
                         f" {coder.layout.transmitted_streams} streams it transmits")  # fmt: skip
    fs = coder.layout.fs
    (out_dir / "bitstreams").mkdir(parents=True, exist_ok=True)
    pairs, payload_bits, file_bytes, seconds, sent = [], 0, 0, 0.0, []
    for utt, path in tqdm(utts, desc=f"decoding {label}"):
        wav, rate = sf.read(path, dtype="float32")
        if rate != fs:
            raise SystemExit(f"decode: {utt}: {path} is {rate} Hz, the codec needs {fs} Hz")
        p2p = out_dir / "bitstreams" / f"{utt}.p2p"
        wav_hat, tokens, header = decode_system(coder, wav, n_streams, p2p)
        sf.write(str(out_dir / f"{utt}.wav"), wav_hat, fs, subtype="FLOAT")
        payload_bits += header.payload_bits
        file_bytes += p2p.stat().st_size
        seconds += len(wav) / fs
        sent.append(P2PFile.read(p2p, layout=coder.layout, fingerprint=coder.fingerprint).codes)
        if tokens is not None:
            pairs.append(tokens)
    sizes = list(header.stream_sizes)
    return dict(
        nominal_bps=header.payload_bitrate, payload_bps=payload_bits / seconds,
        file_bps=8 * file_bytes / seconds, mean_file_bytes=file_bytes / len(utts),
        codebook_use=codebook_use([np.concatenate([t[i] for t in sent]) for i in range(len(sizes))], sizes),
        pseudo_top1=token_accuracy(pairs) if pairs else None,
    )  # fmt: skip


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
    )  # fmt: skip
    (output_dir / "codebook_use.md").write_text(
        "| system | stream | codes used | share | token entropy (bits) |\n|---|---|---|---|---|\n"
        + "".join(
            f"| {label} | {i} | {u['used']} / {u['size']} | {100 * u['share']:.1f}% | {u['entropy_bits']:.2f} |\n"
            for label, r in summary.items() for i, u in enumerate(r["codebook_use"])
        )
    )  # fmt: skip
    (output_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    accuracy = [
        f"| {label} | " + "<br>".join(f"{n}: {a:.3f} ({m:.3f})" for n, (a, m) in enumerate(r["pseudo_top1"], 1)) + " |"
        for label, r in summary.items() if r["pseudo_top1"]
    ]  # fmt: skip
    if accuracy:
        (output_dir / "token_accuracy.md").write_text(
            "| system | pseudo-token top-1 per level (majority baseline) |\n|---|---|\n"
            + "\n".join(accuracy) + "\n"
        )
    else:  # no student among these systems: no table left from an earlier run
        (output_dir / "token_accuracy.md").unlink(missing_ok=True)


@one_line_errors("decode")
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data_dir", type=Path, required=True, help="Kaldi dir with wav.scp")
    parser.add_argument("--system", type=parse_system, action="append", required=True)
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--force", action="store_true", help="decode systems decoded before again")
    args = parser.parse_args(argv)

    labels = [label for label, *_ in args.system]
    if len(set(labels)) != len(labels):
        raise SystemExit(f"decode: a label is given twice: {labels}")
    for label, config, model_file, _ in args.system:  # every file before any decoding
        for path in (config, model_file):
            if not path.is_file():
                raise SystemExit(f"decode: {label}: {path} does not exist")
    utts = list(read_table(args.data_dir / "wav.scp").items())
    summary = {}
    for label, config, model_file, options in args.system:
        out_dir = args.output_dir / label
        key = system_key(label, config, model_file, options, utts)
        record = None if args.force else reusable(out_dir, key, utts)
        if record is not None:
            print(f"decode: {label}: {out_dir} was decoded from the same model and data, kept")
        else:
            (out_dir / "system.json").unlink(missing_ok=True)
            record = dict(key=key, **decode_one(label, config, model_file, options, utts, out_dir))
            (out_dir / "system.json").write_text(json.dumps(record, indent=1))
        summary[label] = {k: v for k, v in record.items() if k != "key"}
    write_tables(summary, args.output_dir)
    print(f"wrote {len(args.system)} systems x {len(utts)} utterances to {args.output_dir}")


if __name__ == "__main__":
    main()
