#!/usr/bin/env python3
"""Per-epoch validation loss and perplexity of an ESPnet LM run, from its train.log.

    python -m espnet2_p2p.bin.lm_report exp/lm/train.log [--output exp/lm/RESULTS.md]

ESPnet's LM reports the mean cross-entropy per token (``[valid] loss=``, natural log);
the perplexity is ``exp(loss)``. Prints a Markdown table and the first/last perplexity,
and writes them to ``--output`` (a file, so that what the libraries imported with the
package print on stdout never lands in it).
"""

import math
import sys
from pathlib import Path

from espnet2_p2p.utils.train_log import valid_losses


def report(log: Path) -> str:
    rows = valid_losses(log)
    if not rows:
        raise SystemExit(f"lm_report: no '[valid] loss=' epoch results in {log}")
    lines = ["| epoch | valid loss (nats/token) | valid perplexity |", "|---|---|---|"]
    lines += [f"| {e} | {loss:.4f} | {math.exp(loss):.2f} |" for e, loss in rows]
    first, last = math.exp(rows[0][1]), math.exp(rows[-1][1])
    lines += ["", f"Validation perplexity: epoch {rows[0][0]} {first:.2f} -> epoch {rows[-1][0]} {last:.2f}"]
    return "\n".join(lines)


def main(argv=None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    output = None
    if "--output" in args:
        i = args.index("--output")
        if i + 1 >= len(args):
            raise SystemExit("lm_report: --output needs a file")
        output = Path(args[i + 1])
        del args[i : i + 2]
    if len(args) != 1:
        raise SystemExit("usage: python -m espnet2_p2p.bin.lm_report TRAIN_LOG [--output FILE]")
    text = report(Path(args[0]))
    if output is not None:
        output.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
