#!/usr/bin/env python3
"""What the tokens know: prepare and score a CTC ASR probe (issue 30, item 2).

    python -m espnet2_p2p.bin.asr_probe prepare --data train=dump/train --data dev=dump/dev \\
        --data test=dump/test --output_dir exp/asr_text
    python -m espnet2_p2p.bin.asr_probe score --exp exp/probe_plain --task mt \\
        --inputs exp/tokens_plain/test/lm_text --text exp/asr_text/test/text --output_dir exp/probe_plain/test
    python -m espnet2_p2p.bin.asr_probe score --exp exp/probe_logmel --task asr \\
        --inputs dump/test/wav.scp --text exp/asr_text/test/text --output_dir exp/probe_logmel/test

``prepare`` writes each set's normalised transcripts (``text``, ``text_shape``) and the
character token list (``chars.txt``, from the first set) for ESPnet's trainers. ``score``
decodes a trained probe greedily on a set and writes its CER and WER (jiwer) with its
size and training time to ``score.json`` (and the hypotheses to ``hyp``). The training
itself is ESPnet's (``espnet2.bin.mt_train`` with ``model: discrete_asr`` for tokens,
``espnet2.bin.asr_train`` for log-mel), as egs2/speechocean762/codec1/local/speechlm.sh
runs it with conf/asr_probe_tokens.yaml and conf/asr_probe_logmel.yaml.
"""

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.errors import one_line_errors
from espnet2_p2p.evaluation import asr_probe


@one_line_errors("asr_probe")
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="normalised transcripts and the character list")
    prep.add_argument(
        "--data", action="append", required=True, help="NAME=DATA_DIR (with a text file); the first is training"
    )
    prep.add_argument("--output_dir", type=Path, required=True)
    sc = sub.add_parser("score", help="CER and WER of a trained probe")
    sc.add_argument("--exp", type=Path, required=True, help="the probe's ESPnet experiment dir")
    sc.add_argument("--task", choices=("mt", "asr"), required=True, help="mt: token input; asr: audio input")
    sc.add_argument("--inputs", type=Path, required=True, help="token lines (mt) or a wav.scp (asr)")
    sc.add_argument("--text", type=Path, required=True, help="the normalised references (prepare's text)")
    sc.add_argument("--output_dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "prepare":
        sets = {}
        for spec in args.data:
            name, sep, path = spec.partition("=")
            if not sep or not (Path(path) / "text").is_file():
                raise SystemExit(f"asr_probe: --data {spec!r}: expected NAME=DATA_DIR with a text file")
            sets[name] = Path(path)
        token_list = asr_probe.prepare_text(sets, args.output_dir, train=next(iter(sets)))
        print(f"{len(token_list.read_text().split())} tokens: {token_list}")
        return 0
    inputs = read_table(args.inputs)
    result = asr_probe.score(args.exp, args.task, inputs, args.text, args.output_dir)
    print(f"{args.exp}: CER {100 * result['cer']:.1f}%, WER {100 * result['wer']:.1f}% on {result['utts']} utterances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
