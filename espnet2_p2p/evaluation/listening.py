"""The listening page of a scoring run: ``listening.html`` beside ``RESULTS.md``.

The page holds the run's summary tables, then, for a few utterances chosen to span the
score range (:func:`choose_utterances`), the reference and every system, each with an
audio player, a spectrogram and its scores. It is plain HTML with inline CSS, without
scripts or anything fetched; the audio (FLAC: lossless, so what a listener hears is what
was scored) and the spectrograms (PNG) lie in ``listening/`` beside it and are linked
relatively, so the folder can be moved, zipped or served as it is.
"""

import html
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import soundfile as sf

from espnet2_p2p.evaluation.metrics import resample

PAGE = "listening.html"
ASSETS = "listening"
DEFAULT_UTTERANCES = 4
DYNAMIC_RANGE_DB = 80.0  # the colour scale of an utterance's spectrograms, below its reference's peak

STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; font-size: 0.9em; }
th:first-child, td:first-child { text-align: left; }
table.clips th { text-align: center; }
table.clips td { vertical-align: middle; }
table.clips img { display: block; }
table.clips audio { width: 240px; }
.note { color: #555; font-size: 0.9em; }
"""


def choose_utterances(results, metrics: Sequence[str], n: int, lower_is_better=frozenset()):
    """``n`` utterances spanning the range of one metric, worst first, and that metric.

    The metric is the first of ``metrics`` scored on the most utterances (a metric scored
    on every K-th only ranks fewer); an utterance's value is its mean over the systems.
    The picks are evenly spaced in rank: the worst, the best and between them.
    """
    utts = list(dict.fromkeys(u for per_utt in results.values() for u in per_utt))
    if n <= 0 or not utts:
        return [], None

    def mean(metric, utt):
        values = [per[utt][metric] for per in results.values() if utt in per and metric in per[utt]]
        values = [v for v in values if np.isfinite(v)]
        return float(np.mean(values)) if values else float("nan")

    best, ranked = None, []
    for metric in metrics:
        scored = [(mean(metric, u), u) for u in utts]
        scored = [(v, u) for v, u in scored if np.isfinite(v)]
        if len(scored) > len(ranked):
            best, ranked = metric, scored
    ranked = [u for _, u in sorted(ranked, key=lambda x: x[0], reverse=best in lower_is_better)]
    ranked += [u for u in utts if u not in ranked]  # unscored ones last, should n need them
    if n >= len(ranked):
        return ranked, best
    picks = np.unique(np.round(np.linspace(0, len(ranked) - 1, n)).astype(int))
    return [ranked[i] for i in picks], best


def markdown_to_html(text: str) -> str:
    """The Markdown the scorer writes (headings, pipe tables, bullets, paragraphs) as HTML."""
    out: List[str] = []
    table: List[str] = []
    para: List[str] = []
    items: List[str] = []

    def flush():
        if table:
            rows = [[html.escape(c.strip()) for c in line.strip().strip("|").split("|")] for line in table]
            rows = [r for r in rows if not all(set(c) <= set("-: ") for c in r)]  # the rule
            out.append("<table>")
            out.append("<tr>" + "".join(f"<th>{c}</th>" for c in rows[0]) + "</tr>")
            out.extend("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows[1:])
            out.append("</table>")
            table.clear()
        if para:
            out.append(f"<p>{html.escape(' '.join(para))}</p>")
            para.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        if line.startswith("|"):
            if para or items:
                flush()
            table.append(line)
            continue
        if table:
            flush()
        if line.startswith("#"):
            flush()
            level = min(len(line) - len(line.lstrip("#")), 6)
            out.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            if para:
                flush()
            items.append(line[2:].strip())
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
    flush()
    return "\n".join(out)


def summary_markdown(results_md: str, labels: Sequence[str]) -> str:
    """RESULTS.md without its per-utterance tables (one section per system): the summary,
    the paired differences and the notes."""
    kept = []
    for i, section in enumerate(results_md.split("\n## ")):
        title = section.split("\n", 1)[0].lstrip("# ").strip()
        if i > 0 and title in labels:
            rest = [line for line in section.split("\n")[1:] if not line.startswith("|")]
            kept.append("\n".join(rest).strip("\n"))
        else:
            kept.append(section if i == 0 else "## " + section)
    return "\n\n".join(k for k in kept if k)


def draw_spectrogram(wav: np.ndarray, fs: int, path: Path, top_db: float) -> None:
    """A small log spectrogram (0 to fs/2, the colour scale ``top_db`` down 80 dB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 1.35), dpi=80)
    with np.errstate(divide="ignore"):  # digital silence: log10(0), drawn at the bottom of the scale
        ax.specgram(
            wav + 1e-9, NFFT=512, Fs=fs, noverlap=384, cmap="magma", vmin=top_db - DYNAMIC_RANGE_DB, vmax=top_db
        )
    ax.set_yticks([0, fs / 4, fs / 2], [0, f"{fs / 4000:g}", f"{fs / 2000:g} kHz"])
    ax.tick_params(labelsize=7, length=2, pad=1)
    fig.subplots_adjust(left=0.1, right=0.99, top=0.97, bottom=0.17)
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3]
    plt.close(fig)
    from PIL import Image  # matplotlib's own dependency

    # 64 colours look the same here and take a third of the bytes of a full-colour PNG
    Image.fromarray(rgb).quantize(64).save(path, optimize=True)


def peak_db(wav: np.ndarray, fs: int) -> float:
    """The loudest bin of ``wav``'s spectrogram, in matplotlib's specgram dB."""
    import matplotlib.mlab as mlab

    spec, _, _ = mlab.specgram(wav + 1e-9, NFFT=512, Fs=fs, noverlap=384)
    return float(10 * np.log10(spec.max() + 1e-30))


def _cells(scores: Optional[Dict[str, float]], metrics: Sequence[str]) -> str:
    out = []
    for m in metrics:
        v = scores.get(m, float("nan")) if scores is not None else None
        out.append("<td></td>" if v is None else f"<td>{v:.3f}</td>" if np.isfinite(v) else "<td>–</td>")
    return "".join(out)


def write_page(
    output_dir: Path,
    results_md: str,
    results,
    metrics: Sequence[str],
    refs: Dict[str, Path],
    hyp_dirs: Dict[str, Optional[Path]],
    n_utts: int = DEFAULT_UTTERANCES,
    fs: Optional[int] = None,
    lower_is_better=frozenset(),
) -> Path:
    """Write ``output_dir/listening.html`` and its ``listening/`` folder; returns the page.

    ``results``: system -> utterance -> metric -> value (the scorer's); ``hyp_dirs``:
    system -> folder of ``<utt>.wav`` (None: a system without audio at hand, listed
    without a player). The audio is each file as the scorer read it: downmixed, at ``fs``
    (default: its reference's rate), not delay-compensated.
    """
    output_dir = Path(output_dir)
    assets = output_dir / ASSETS
    if assets.is_dir():
        shutil.rmtree(assets)  # the clips of an earlier run
    assets.mkdir(parents=True)
    from espnet2_p2p.evaluation.scoring import read_audio  # (scoring writes this page)

    labels = list(results)
    chosen, by = choose_utterances(results, metrics, n_utts, lower_is_better)
    arrows = {m: "↓" if m in lower_is_better else "↑" for m in metrics}
    head = "".join(f"<th>{html.escape(m)} {arrows[m]}</th>" for m in metrics)
    n_all = len(refs)
    body = [markdown_to_html(summary_markdown(results_md, labels))]
    if chosen:
        body.append(f"<h2>Listening: {len(chosen)} of {n_all} utterances</h2>")
        body.append(
            f"<p class=note>Chosen to span {html.escape(by)} (the mean over the systems), worst first;"
            " each file as the scorer read it (downmixed, resampled to the scoring rate, not"
            " delay-compensated). One colour scale per utterance: its reference's peak and"
            f" {DYNAMIC_RANGE_DB:g} dB below.</p>"
        )
    for k, utt in enumerate(chosen):
        ref, rate = read_audio(refs[utt])
        if fs:
            ref, rate = resample(ref, rate, fs), fs
        top = peak_db(ref, rate)
        rows = [("reference", ref, None)]
        for label in labels:
            path = hyp_dirs.get(label) and Path(hyp_dirs[label]) / f"{utt}.wav"
            if path and path.is_file():
                wav, hyp_rate = read_audio(path)
                rows.append((label, resample(wav, hyp_rate, rate), results[label].get(utt, {})))
            else:
                rows.append((label, None, results[label].get(utt, {})))
        body.append(f"<h3>{html.escape(utt)} <span class=note>({len(ref) / rate:.2f} s, {rate} Hz)</span></h3>")
        body.append(f"<table class=clips><tr><th>system</th><th>listen</th><th>spectrogram</th>{head}</tr>")
        for j, (label, wav, scores) in enumerate(rows):
            name = f"u{k}_{'ref' if j == 0 else f's{j}'}"
            if wav is None:
                media = "<td class=note>audio not at hand</td><td></td>"
            else:
                sf.write(str(assets / f"{name}.flac"), np.clip(wav, -1.0, 1.0), rate, format="FLAC", subtype="PCM_16")
                draw_spectrogram(wav, rate, assets / f"{name}.png", top)
                media = (
                    f'<td><audio controls preload="metadata" src="{ASSETS}/{name}.flac"></audio></td>'
                    f'<td><img src="{ASSETS}/{name}.png" alt="spectrogram of {html.escape(label)}"></td>'
                )
            body.append(f"<tr><td>{html.escape(label)}</td>{media}{_cells(scores, metrics)}</tr>")
        body.append("</table>")
    title = f"Listening page: {output_dir.resolve().name}"
    page = output_dir / PAGE
    page.write_text(
        "<!doctype html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n" + "\n".join(body) + "\n</body>\n</html>\n",
        encoding="utf-8",
    )
    return page
