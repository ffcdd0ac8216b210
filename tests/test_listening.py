"""The listening page of a scoring run (espnet2_p2p/evaluation/listening.py): which utterances it
shows, its HTML and relative links, its size, and the page in a real browser (headless
Chromium plays every clip to its end and decodes every image)."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from chromium import Chromium, find_chromium

from conftest import REAL_SPEECH
from espnet2_p2p.bin import score
from espnet2_p2p.evaluation.listening import PAGE, choose_utterances, markdown_to_html

LINK = re.compile(r'(?:src|href)="([^"]*)"')


def results_of(values):
    """system -> utterance -> {"stoi": v} from system -> [v per utterance]."""
    return {s: {f"u{i}": {"stoi": v} for i, v in enumerate(vs)} for s, vs in values.items()}


def test_the_utterances_span_the_score_range_worst_first():
    results = results_of({"a": [0.5, 0.9, 0.1, 0.7, 0.3], "b": [0.5, 0.9, 0.1, 0.7, 0.3]})
    assert choose_utterances(results, ["stoi"], 3) == (["u2", "u0", "u1"], "stoi")
    assert choose_utterances(results, ["stoi"], 2)[0] == ["u2", "u1"]  # the worst and the best
    assert choose_utterances(results, ["stoi"], 9)[0] == ["u2", "u4", "u0", "u3", "u1"]
    assert choose_utterances(results, ["stoi"], 0) == ([], None)
    # lower is better: the worst is the highest; a metric scored on fewer utterances (NaN:
    # --every) does not rank them while another is scored on all
    for per_utt in results.values():
        for i, s in enumerate(per_utt.values()):
            s["lsd"] = float(i)
            s["dnsmos"] = 3.0 if i == 0 else float("nan")
    assert choose_utterances(results, ["dnsmos", "lsd"], 2, {"lsd"}) == (["u4", "u0"], "lsd")


def test_the_scorers_markdown_becomes_html():
    text = "## Summary (a < b)\n\n| system | stoi ↑ |\n|---|---|\n| x&y | 0.500 ± 0.1 |\n\n- note one\n- two\n"
    page = markdown_to_html(text)
    assert "<h2>Summary (a &lt; b)</h2>" in page
    assert "<tr><th>system</th><th>stoi ↑</th></tr>" in page and "<td>x&amp;y</td>" in page
    assert "---" not in page and "<ul><li>note one</li><li>two</li></ul>" in page


def make_run(ref_dir: Path, root: Path, n_systems: int = 2):
    """Systems that are the references degraded: noise at two levels, then quieter copies."""
    rng = np.random.default_rng(0)
    hyps = []
    for k in range(n_systems):
        folder = root / f"sys{k}"
        folder.mkdir(parents=True)
        for i, path in enumerate(sorted(ref_dir.glob("*.wav"))):
            wav, fs = sf.read(str(path), dtype="float32")
            noise = (0.003 + 0.01 * ((i + k) % 3)) * rng.standard_normal(len(wav)).astype(np.float32)
            sf.write(str(folder / path.name), (0.9**k) * wav + noise, fs)
        hyps.append((f"sys {k} <{k}>", folder))  # a label that needs escaping
    return hyps


def check_links(page: Path):
    """Every src/href of the page: relative, inside its folder, and there."""
    links = LINK.findall(page.read_text())
    for link in links:
        assert "://" not in link and not link.startswith("/") and ".." not in link, link
        assert (page.parent / link).is_file(), link
    return links


def test_the_page_shows_the_chosen_utterances_with_relative_links(espeak_corpus, tmp_path):
    ref_dir = espeak_corpus / "train" / "wav"  # 8 utterances
    hyps = make_run(ref_dir, tmp_path)
    out = tmp_path / "scores"
    results = score.run(ref_dir, hyps, out, ["stoi", "lsd"], page_utts=3)
    page = out / PAGE
    text = page.read_text()
    assert "<script" not in text.lower() and "http" not in text.lower()
    assert "<h2>Summary (mean ± 95% CI)</h2>" in text and "Paired difference to sys 0 &lt;0&gt;" in text
    assert "sys 1 &lt;1&gt;" in text and "<sys" not in text
    links = check_links(page)
    assert sum(link.endswith(".flac") for link in links) == 3 * 3  # reference + 2 systems, 3 utterances
    assert sum(link.endswith(".png") for link in links) == 3 * 3
    # the worst, the median and the best utterance by STOI, worst first, with their scores
    shown = re.findall(r"<h3>([^<]+) <span", text)
    mean = {u: np.mean([results[s][u]["stoi"] for s in results]) for u in results[hyps[0][0]]}
    ranked = sorted(mean, key=mean.get)
    assert len(shown) == 3 and shown[0] == ranked[0] and shown[-1] == ranked[-1]
    assert mean[shown[0]] < mean[shown[1]] < mean[shown[2]]
    assert f"<td>{results[hyps[1][0]][shown[0]]['stoi']:.3f}</td>" in text
    # the clips are the files as scored: same length, same samples (16-bit)
    clip, fs = sf.read(str(out / "listening" / "u0_ref.flac"), dtype="float32")
    ref, fs_ref = sf.read(str(ref_dir / f"{shown[0]}.wav"), dtype="float32")
    assert fs == fs_ref and len(clip) == len(ref) and np.abs(clip - ref).max() < 1e-4

    # a run of one system keeps the other's scores (score_cache.json), and its clips here
    score.run(ref_dir, hyps[1:], out, ["stoi", "lsd"], page_utts=3)
    assert sum(link.endswith(".flac") for link in check_links(page)) == 3 * 3

    moved = tmp_path / "elsewhere" / "copy"
    shutil.move(str(out), str(moved))  # a moved (or unzipped, or served) folder still works
    check_links(moved / PAGE)

    score.run(ref_dir, hyps, moved, ["stoi", "lsd"], page_utts=0)  # the tables only; old clips gone
    assert "<audio" not in (moved / PAGE).read_text() and "<table>" in (moved / PAGE).read_text()
    assert not list((moved / "listening").iterdir())
    with pytest.raises(SystemExit, match="--page_utts must be at least 0"):
        score.main(
            ["--ref", str(ref_dir), "--hyp", str(ref_dir), "--output_dir", str(tmp_path / "x"), "--page_utts", "-1"]
        )


@pytest.mark.skipif(not REAL_SPEECH.is_dir(), reason="../shared/data/real_speech is not present")
def test_a_20_clip_run_with_six_systems_makes_a_page_under_5_mb(tmp_path):
    from espnet2_p2p.evaluation.metrics import resample

    clips = sorted((REAL_SPEECH / "libritts_16k").glob("*.wav")) + sorted((REAL_SPEECH / "vctk_48k").glob("*.wav"))
    (tmp_path / "ref").mkdir()
    for p in clips:  # as the recipes score them: at 16 kHz
        wav, fs = sf.read(str(p), dtype="float32")
        sf.write(str(tmp_path / "ref" / f"{p.stem}.wav"), resample(wav, fs, 16000), 16000)
    hyps = make_run(tmp_path / "ref", tmp_path / "hyps", n_systems=6)
    out = tmp_path / "scores"
    score.main(
        ["--ref", str(tmp_path / "ref"), "--output_dir", str(out), "--metrics", "lsd"]
        + [f"--hyp={label}={folder}" for label, folder in hyps]
    )
    files = [out / PAGE] + list((out / "listening").iterdir())
    total = sum(f.stat().st_size for f in files)
    assert len(files) == 1 + 2 * 4 * 7  # the default 4 utterances: a clip and a picture each
    assert total < 5e6, f"{total / 1e6:.2f} MB"


JS_PLAY_ALL = """
(async () => {
  const out = [];
  for (const audio of document.querySelectorAll('audio')) {
    const r = {src: audio.getAttribute('src')};
    try {
      audio.muted = true;
      audio.playbackRate = 16;
      await new Promise((ok, fail) => {
        audio.addEventListener('ended', ok);
        audio.addEventListener('error', () => fail(new Error('media error ' + (audio.error && audio.error.code))));
        setTimeout(() => fail(new Error('not ended after 30 s')), 30000);
        audio.play().catch(fail);
      });
    } catch (e) { r.error = String(e); }
    Object.assign(r, {duration: audio.duration, ended: audio.ended, time: audio.currentTime});
    out.push(r);
  }
  return out;
})()
"""

JS_IMAGES = "[...document.images].map(i => ({src: i.getAttribute('src'), ok: i.complete, w: i.naturalWidth, h: i.naturalHeight}))"


@pytest.mark.skipif(
    find_chromium() is None,
    reason="Chromium is not installed: `make apt-deps` installs Debian's"
    " chromium package (the test loads the listening page in it)",
)
def test_the_page_plays_every_clip_to_its_end_in_chromium(espeak_corpus, tmp_path):
    from PIL import Image

    ref_dir = espeak_corpus / "train" / "wav"
    out = tmp_path / "scores"
    score.run(ref_dir, make_run(ref_dir, tmp_path), out, ["stoi"], page_utts=3)
    page = out / PAGE
    with Chromium(1100, 1300) as browser:
        browser.open(page.as_uri())
        clips = browser.evaluate(JS_PLAY_ALL)
        images = browser.evaluate(JS_IMAGES)
        browser.screenshot(tmp_path / "page.png")
    assert len(clips) == 9 and len(images) == 9
    for clip in clips:
        info = sf.info(str(out / clip["src"]))
        assert "error" not in clip and clip["ended"], clip
        assert clip["duration"] == pytest.approx(info.frames / info.samplerate, abs=1e-3), clip
        assert clip["time"] == pytest.approx(clip["duration"], abs=1e-3), clip
    for image in images:
        assert image["ok"] and image["w"] > 0, image
        assert (image["w"], image["h"]) == Image.open(out / image["src"]).size
    shot = Image.open(tmp_path / "page.png")
    assert shot.size == (1100, 1300) and len(set(shot.convert("L").getdata())) > 50  # not blank
