#!/usr/bin/env python3
"""What a token LM's continuations sound like (issue 30, item 3).

    python -m espnet2_p2p.bin.lm_continue --lm_exp exp/lm_plain --tokens exp/tokens_plain/test \\
        --data_dir dump/test --output_dir exp/continuations [--model ZIP]

From the ``--num_prompts`` longest test utterances (at least prompt + continuation long),
the first ``--prompt_seconds`` of each one's plain-stream tokens prompt ESPnet's LM
(``espnet2.tasks.lm.LMTask``, the run's best checkpoint), which samples
``--continue_seconds`` of tokens (``--temperature``; the special symbols are never
drawn). The student decodes prompt + continuation (its pseudo streams predicted, as for
any plain stream), and the continuation's part of the audio is kept. A multi-stream dump
(the teacher's 1 + N streams flattened frame by frame, ``token_info.json``'s ``streams``)
is continued the same way, each drawn token only among its level's codes, and decoded by
``--model_name teacher`` with every stream given. Beside it, the same utterance's real
tokens over the same span are decoded the same way: the codec's own decoding of real
speech. DNSMOS (P.835 overall) of both, mean with 95% CI and the paired
difference, goes to ``OUTPUT_DIR/continuations.md`` (and ``.json``); ``lm/`` and ``real/`` hold the wavs,
``spectrograms.png`` three examples.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from espnet2_p2p.errors import P2PError, one_line_errors
from espnet2_p2p.speechlm.lm_tools import continuations


@one_line_errors("lm_continue")
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm_exp", type=Path, required=True)
    parser.add_argument(
        "--tokens",
        type=Path,
        required=True,
        help="the test set's token dump (lm_text, token_info.json): the plain stream or all streams",
    )
    parser.add_argument("--data_dir", type=Path, required=True, help="the test set's data dir (utt2num_samples)")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--model", default=None, help="the packed model that decodes (default: shipped)")
    parser.add_argument(
        "--model_name",
        default="student",
        choices=("student", "teacher"),
        help="which of its codecs decodes (teacher: every stream given)",
    )
    parser.add_argument("--num_prompts", type=int, default=50)
    parser.add_argument("--prompt_seconds", type=float, default=1.0)
    parser.add_argument("--continue_seconds", type=float, default=3.0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    needed = [
        args.lm_exp / "config.yaml",
        args.lm_exp / "valid.loss.best.pth",
        args.tokens / "lm_text",
        args.data_dir / "utt2num_samples",
    ]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        raise P2PError(
            f"{', '.join(missing)}: missing (--lm_exp is a trained LM's folder, --tokens a token dump,"
            " --data_dir a data dir)"
        )
    from espnet2_p2p.coding.coder import open_coder
    from espnet2_p2p.evaluation.scoring import plot_spectrograms
    from espnet2_p2p.utils.stats import mean_ci95

    coder = open_coder(args.model, "torch", args.model_name)
    run = continuations(
        args.lm_exp,
        args.tokens,
        args.data_dir,
        args.output_dir,
        coder,
        args.num_prompts,
        args.prompt_seconds,
        args.continue_seconds,
        args.temperature,
        args.seed,
    )
    if not run["utts"]:
        print(
            f"lm_continue: no test utterance holds {run['frames']} frames ({args.prompt_seconds:g} s +"
            f" {args.continue_seconds:g} s)",
            file=sys.stderr,
        )
        return 1
    utts, scores, examples, streams = run["utts"], run["scores"], run["examples"], run["streams"]
    if len(utts) < args.num_prompts:
        print(f"lm_continue: only {len(utts)} test utterances hold {run['frames']} frames", file=sys.stderr)
    plot_spectrograms(examples, args.output_dir / "spectrograms.png")
    lm_mean, lm_ci = mean_ci95(scores["lm"])
    real_mean, real_ci = mean_ci95(scores["real"])
    diff, diff_ci = mean_ci95(np.subtract(scores["lm"], scores["real"]))
    decoded_by = (
        "decoded by the student (pseudo streams predicted)"
        if streams == 1 and args.model_name == "student"
        else f"decoded by the {args.model_name} ({streams} stream(s) given)"
    )
    table = (
        f"Produced by `python -m espnet2_p2p.bin.lm_continue --lm_exp {args.lm_exp} --tokens {args.tokens}"
        f" --data_dir {args.data_dir} --output_dir {args.output_dir} --model_name {args.model_name}` ({len(utts)} prompts of"
        f" {args.prompt_seconds:g} s, {args.continue_seconds:g} s continued, temperature {args.temperature:g},"
        f" seed {args.seed}).\n\n"
        f"| {decoded_by} | DNSMOS (overall) |\n|---|---|\n"
        f"| LM continuations | {lm_mean:.3f} ± {lm_ci:.3f} |\n"
        f"| real tokens, same span | {real_mean:.3f} ± {real_ci:.3f} |\n"
        f"| paired difference | {diff:+.3f} ± {diff_ci:.3f} |\n"
    )
    (args.output_dir / "continuations.md").write_text(table)
    summary = dict(
        prompts=len(utts),
        streams=streams,
        decoder=args.model_name,
        lm=lm_mean,
        lm_ci=lm_ci,
        real=real_mean,
        real_ci=real_ci,
        diff=diff,
        diff_ci=diff_ci,
    )
    (args.output_dir / "continuations.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
