#!/usr/bin/env python3
"""What each token choice costs a speech LM, what it knows and what its LM's tokens sound
like (issue 30): one table from ESPnet's LM trainings, ``lm_calc_perplexity``, the ASR
probes and the LM continuations.

    python -m espnet2_p2p.bin.speechlm_report --data_dir dump/test \\
        --choice "plain stream=exp/lm_plain,exp/lm_plain/ppl_test,exp/tokens_plain/test" \\
        --probe "plain stream=exp/probe_plain/test/score.json" \\
        --continuations "plain stream=exp/continuations_plain/continuations.json" \\
        --probe "log-mel=exp/probe_logmel/test/score.json" --output table.md

A row per label, in order of first appearance; a row may have any of the three.
Each ``--choice LABEL=LM_EXP,PPL_DIR,TOKEN_DIR``: the LM's experiment dir (``train.log``,
``config.yaml``, a checkpoint), the output dir of ``espnet2.bin.lm_calc_perplexity`` on the
test set (``utt2ppl``, ``utt2ntokens``: ESPnet counts each utterance's tokens plus its
end-of-sentence) and the test set's token dump (``lm_text``). From it:

- tokens/s: tokens of the test utterances over their duration (``utt2num_samples``);
- CE/token: the test set's total negative log-likelihood over its tokens and
  end-of-sentence symbols, in nats and in bits;
- bits/s: the total negative log-likelihood in bits over the speech's duration (what an
  ideal entropy coder driven by the LM would spend, end-of-sentence included);
- the LM's parameters, its vocabulary, epochs and training time (from ``train.log``).

``--probe``: the CTC probe's CER and WER, size and training time
(``espnet2_p2p.bin.asr_probe score``). ``--continuations``: DNSMOS of the LM's
continuations and of the real tokens over the same span (``espnet2_p2p.bin.lm_continue``).
"""

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from espnet2_p2p.data.prepare import read_table
from espnet2_p2p.errors import one_line_errors
from espnet2_p2p.speechlm.lm_tools import measure, training


def labelled(specs: Sequence[str], option: str) -> Dict[str, str]:
    out = {}
    for spec in specs or []:
        label, sep, value = spec.partition("=")
        if not sep or not value:
            raise SystemExit(f"speechlm_report: {option} {spec!r}: expected LABEL=...")
        out[label] = value
    return out


def ci(d: dict, key: str) -> str:
    return f"{d[key]:.3f} ± {d[key + '_ci']:.3f}"


@one_line_errors("speechlm_report")
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, required=True, help="the test set's data dir (utt2num_samples)")
    parser.add_argument("--fs", type=int, default=16000)
    parser.add_argument("--choice", action="append", default=[], help="LABEL=LM_EXP,PPL_DIR,TOKEN_DIR")
    parser.add_argument(
        "--probe",
        action="append",
        default=[],
        help="LABEL=SCORE_JSON of the row's ASR probe (espnet2_p2p.bin.asr_probe score)",
    )
    parser.add_argument(
        "--continuations",
        action="append",
        default=[],
        help="LABEL=JSON of the row's LM continuations (espnet2_p2p.bin.lm_continue)",
    )
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    samples = read_table(args.data_dir / "utt2num_samples")
    lms, probes = labelled(args.choice, "--choice"), labelled(args.probe, "--probe")
    continuations = labelled(args.continuations, "--continuations")
    labels = list(dict.fromkeys([*lms, *probes, *continuations]))
    if not labels:
        raise SystemExit("speechlm_report: nothing to report (give --choice, --probe or --continuations)")
    rows: List[str] = []
    costs: List[str] = []
    notes: List[str] = []
    for label in labels:
        r = t = p = c = None
        if label in lms:
            parts = [Path(x) for x in lms[label].split(",")]
            if len(parts) != 3:
                raise SystemExit(
                    f"speechlm_report: --choice {label}={lms[label]}: expected LABEL=LM_EXP,PPL_DIR,TOKEN_DIR"
                )
            r, t = measure(parts[1], parts[2], samples, args.fs), training(parts[0])
        if label in probes:
            p = json.loads(Path(probes[label]).read_text())
        if label in continuations:
            c = json.loads(Path(continuations[label]).read_text())
            notes.append(
                f"{label}: {c['prompts']} prompts; the real tokens of the same span, decoded the same way,"
                f" score {ci(c, 'real')} (paired difference {c['diff']:+.3f} ± {c['diff_ci']:.3f})."
            )
        lm_cols = (
            f"{r['tokens_per_s']:.1f} | {r['ce_nats']:.3f} | {r['ce_nats'] / math.log(2):.3f} | {r['bits_per_s']:.1f}"
            if r
            else "- | - | - | -"
        )
        probe_cols = f"{100 * p['cer']:.1f} | {100 * p['wer']:.1f}" if p else "- | -"
        dnsmos_col = f" {ci(c, 'lm') if c else '-'} |" if continuations else ""
        rows.append(f"| {label} | {lm_cols} | {probe_cols} |{dnsmos_col}")
        lm_cost = (
            f"{t['vocab'] or '?'} | {t['params'] / 1e6:.2f} M | {t['epochs']} | {t['hours']:.2f}"
            if t and t["params"]
            else "- | - | - | -"
        )
        probe_cost = f"{p['params'] / 1e6:.2f} M | {p['epochs']} | {p['hours']:.2f}" if p else "- | - | -"
        costs.append(f"| {label} | {lm_cost} | {probe_cost} |")
    # no continuations decoded: no DNSMOS column
    dnsmos_head, dnsmos_rule = (" DNSMOS of LM continuations |", "---|") if continuations else ("", "")
    table = (
        "| token choice | tokens/s | CE/token (nats) | CE/token (bits) | bits/s of speech | probe CER % | probe WER %"
        f" |{dnsmos_head}\n|---|---|---|---|---|---|---|{dnsmos_rule}\n" + "\n".join(rows) + "\n\n"
        "| token choice | vocabulary | LM parameters | LM epochs | LM hours | probe parameters | probe epochs"
        " | probe hours |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(costs) + "\n"
    )
    if notes:
        table += "\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    args.output.write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
