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
import json
from pathlib import Path

import espnet2_p2p  # noqa: F401  (registers the codecs)
from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.errors import one_line_errors
from espnet2_p2p.evaluation.decoding import decode_one, reusable, system_key, write_tables


def parse_system(spec: str):
    parts = spec.split(":")
    if len(parts) not in (3, 4):
        raise argparse.ArgumentTypeError(f"--system wants LABEL:CONFIG:MODEL_FILE[:OPTIONS], got {spec!r}")
    options = {}
    for item in filter(None, (parts[3] if len(parts) == 4 else "").split(",")):
        key, _, value = item.partition("=")
        if key not in ("streams", "pseudo_codeword") or not value:
            raise argparse.ArgumentTypeError(f"unknown --system option {item!r} in {spec!r}")
        if key == "streams" and not value.isdigit():
            raise argparse.ArgumentTypeError(f"streams wants a whole number, got {value!r} in {spec!r}")
        options[key] = int(value) if key == "streams" else value
    return parts[0], Path(parts[1]), Path(parts[2]), options


@one_line_errors("decode")
def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
