"""The scorer: metrics, alignment, the two-folder CLI and its errors."""

import jiwer
import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from conftest import REAL_SPEECH  # noqa: E402
from espnet2_p2p.bin import score
from espnet2_p2p.evaluation import metrics, scoring
from espnet2_p2p.evaluation.metrics import METRICS, align
from espnet2_p2p.evaluation.scoring import normalise_words

FAST_METRICS = ["pesq_wb", "stoi", "estoi", "lsd", "mel_distance"]


def read(path):
    wav, fs = sf.read(str(path), dtype="float32")
    return wav, fs


def degrade(wav, fs, shift=0, noise=0.0, fs_out=None, seed=0):
    rng = np.random.default_rng(seed)
    out = np.concatenate([np.zeros(shift, np.float32), wav]) + noise * rng.standard_normal(len(wav) + shift)
    out = out.astype(np.float32)
    if fs_out and fs_out != fs:
        out = torchaudio.functional.resample(torch.from_numpy(out), fs, fs_out).numpy()
    return out


def test_metrics_rank_identity_above_degradation(espeak_corpus):
    wav, fs = read(next((espeak_corpus / "test" / "wav").glob("*.wav")))
    noisy = degrade(wav, fs, noise=0.02)
    very_noisy = degrade(wav, fs, noise=0.1, seed=1)
    same = {m: METRICS[m](wav, wav, fs) for m in FAST_METRICS}
    assert same["pesq_wb"] > 4.5 and same["stoi"] > 0.999 and same["estoi"] > 0.999
    assert same["lsd"] == pytest.approx(0.0, abs=1e-6)
    assert same["mel_distance"] == pytest.approx(0.0, abs=1e-6)
    for m in FAST_METRICS:
        a, b = METRICS[m](wav, noisy, fs), METRICS[m](wav, very_noisy, fs)
        if m in score.LOWER_IS_BETTER:
            assert same[m] < a < b, m
        else:
            assert same[m] > a > b, m


@pytest.mark.parametrize("shift", [-37, 0, 80])
def test_align_recovers_the_lag(shift):
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(4000).astype(np.float32)
    hyp = np.roll(ref, shift) if shift < 0 else np.concatenate([np.zeros(shift, np.float32), ref])
    r, h, lag = align(ref, hyp, 200)
    assert lag == shift and len(r) == len(h)
    if shift >= 0:
        assert np.allclose(r, h)


def test_two_folders_resampled_aligned_and_reported(espeak_corpus, tmp_path):
    ref_dir = espeak_corpus / "test" / "wav"
    hyp_dir = tmp_path / "hyp"
    hyp_dir.mkdir()
    for path in ref_dir.glob("*.wav"):
        wav, fs = read(path)
        hyp = degrade(wav, fs, shift=80, noise=0.002, fs_out=8000)  # 8 kHz, 5 ms late, stereo
        sf.write(str(hyp_dir / path.name), np.stack([hyp, hyp], axis=1), 8000)
    out = tmp_path / "scores"
    results = score.run(ref_dir, [("codec8k", hyp_dir), ("identity", ref_dir)], out, FAST_METRICS)
    n = len(list(ref_dir.glob("*.wav")))
    assert len(results["codec8k"]) == n
    assert all(s["stoi"] > 0.85 for s in results["codec8k"].values())  # aligned, else it collapses
    assert all(s["pesq_wb"] > 4.5 for s in results["identity"].values())
    table = (out / "RESULTS.md").read_text()
    assert "| codec8k |" in table and "| identity |" in table and "± " in table
    assert len((out / "scores.tsv").read_text().splitlines()) == 1 + 2 * n
    png = (out / "spectrograms.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000

    # The same from a wav.scp, through the command line.
    score.main(
        [
            "--ref",
            str(espeak_corpus / "test" / "wav.scp"),
            "--hyp",
            f"x={hyp_dir}",
            "--output_dir",
            str(tmp_path / "cli"),
            "--metrics",
            "stoi,lsd",
        ]
    )
    assert "| x |" in (tmp_path / "cli" / "RESULTS.md").read_text()


def test_bad_inputs_are_named(espeak_corpus, tmp_path):
    ref_dir = espeak_corpus / "test" / "wav"
    names = sorted(p.name for p in ref_dir.glob("*.wav"))
    partial = tmp_path / "partial"
    partial.mkdir()
    with pytest.raises(score.ScoreError, match=f"lacks {len(names)} of the {len(names)}.*{names[0]}"):
        score.run(ref_dir, [("p", partial)], tmp_path / "o", ["stoi"])
    for name in names:
        (partial / name).write_bytes(b"RIFF not really a wav")
    with pytest.raises(score.ScoreError, match=f"cannot read audio file .*{names[0]}"):
        score.run(ref_dir, [("p", partial)], tmp_path / "o", ["stoi"])
    with pytest.raises(score.ScoreError, match="unknown metrics"):
        score.run(ref_dir, [("p", ref_dir)], tmp_path / "o", ["utmos"])
    with pytest.raises(SystemExit, match="score: reference .*nowhere is neither a folder nor a wav.scp"):
        score.main(["--ref", str(tmp_path / "nowhere"), "--hyp", str(ref_dir), "--output_dir", str(tmp_path / "o")])
    (tmp_path / "bad.scp").write_text("u1 /x.wav\nu2\n")
    with pytest.raises(score.ScoreError, match=r"bad.scp:2: expected '<id> <path>', got 'u2' without a path"):
        score.run(tmp_path / "bad.scp", [("p", ref_dir)], tmp_path / "o", ["stoi"])


def test_a_reference_list_with_a_repeated_id_or_a_command_is_refused(espeak_corpus, tmp_path):
    """Issue 29 (8, 17): the last of two lines of one id used to win silently."""
    ref_dir = espeak_corpus / "test" / "wav"
    a, b = sorted(ref_dir.glob("*.wav"))[:2]
    (tmp_path / "dup.scp").write_text(f"u1 {a}\nu1 {b}\n")
    with pytest.raises(score.ScoreError, match=r"dup.scp:2: the id 'u1' appears twice"):
        score.run(tmp_path / "dup.scp", [("p", ref_dir)], tmp_path / "o", ["stoi"])
    (tmp_path / "tab.scp").write_text(f"{a.stem}\t{a}\n")  # Kaldi tables may separate with a tab
    assert score.list_references(tmp_path / "tab.scp") == {a.stem: a}
    (tmp_path / "pipe.scp").write_text(f"u1 sox {a} -t wav - |\n")
    with pytest.raises(score.ScoreError, match=r"pipe.scp:1: u1 is a command"):
        score.run(tmp_path / "pipe.scp", [("p", ref_dir)], tmp_path / "o", ["stoi"])


@pytest.mark.parametrize("shift", ["nan", "-5", "inf"])
def test_max_shift_must_be_a_finite_number_of_milliseconds(espeak_corpus, tmp_path, shift):
    ref_dir = espeak_corpus / "test" / "wav"
    with pytest.raises(SystemExit, match="--max_shift_ms must be a finite number >= 0"):
        score.main(
            ["--ref", str(ref_dir), "--hyp", str(ref_dir), "--output_dir", str(tmp_path / "o"), "--max_shift_ms", shift]
        )


def test_visqol_scores_identity_at_the_top_and_degradation_lower(espeak_corpus):
    wav, fs = read(next((espeak_corpus / "test" / "wav").glob("*.wav")))
    same = METRICS["visqol"](wav, wav, fs)
    noisy = METRICS["visqol"](wav, degrade(wav, fs, noise=0.01), fs)
    very_noisy = METRICS["visqol"](wav, degrade(wav, fs, noise=0.1, seed=1), fs)
    assert same == pytest.approx(5.0, abs=1e-3)  # the top of the scaled MOS-LQO scale
    assert 1.0 <= very_noisy < noisy < same - 0.2
    # a 48 kHz pair is scored at 16 kHz (speech mode): the same as the 16 kHz pair
    up = degrade(wav, fs, fs_out=48000)
    assert METRICS["visqol"](up, up, 48000) == pytest.approx(5.0, abs=1e-3)


def test_fs_scores_a_16k_codec_at_16k_against_a_48k_reference(espeak_corpus, tmp_path):
    """A hypothesis that is the reference band-limited to 8 kHz is perfect at --fs 16000 and
    not at the reference's 48 kHz, where the band the codec never coded counts."""
    rng = np.random.default_rng(0)
    wav, fs = read(next((espeak_corpus / "test" / "wav").glob("*.wav")))
    ref48 = degrade(wav, fs, fs_out=48000) + 0.01 * rng.standard_normal(3 * len(wav)).astype(np.float32)
    hyp16 = metrics.resample(ref48, 48000, 16000)  # the scorer's own band-limiting
    (tmp_path / "ref").mkdir()
    (tmp_path / "hyp").mkdir()
    sf.write(str(tmp_path / "ref" / "u.wav"), ref48, 48000, subtype="FLOAT")
    sf.write(str(tmp_path / "hyp" / "u.wav"), hyp16, 16000, subtype="FLOAT")
    hyps = [("codec", tmp_path / "hyp")]
    at48 = score.run(tmp_path / "ref", hyps, tmp_path / "o48", ["lsd", "stoi"])["codec"]["u"]
    at16 = score.run(tmp_path / "ref", hyps, tmp_path / "o16", ["lsd", "stoi"], fs=16000)["codec"]["u"]
    # references at two rates in one folder: each is scored at --fs, not at the first one's rate
    sf.write(str(tmp_path / "ref" / "v.wav"), hyp16, 16000, subtype="FLOAT")
    sf.write(str(tmp_path / "hyp" / "v.wav"), hyp16, 16000, subtype="FLOAT")
    both = score.run(tmp_path / "ref", hyps, tmp_path / "o2", ["lsd", "stoi"], nj=2)["codec"]
    assert both["v"]["lsd"] < 1e-6 and both["u"]["lsd"] == pytest.approx(at48["lsd"], rel=1e-5)
    assert at16["lsd"] < 0.05 < 0.5 < at48["lsd"]
    assert at16["stoi"] > 0.999
    with pytest.raises(SystemExit, match="--fs must be a sampling rate"):
        score.main(
            [
                "--ref",
                str(tmp_path / "ref"),
                "--hyp",
                str(tmp_path / "hyp"),
                "--output_dir",
                str(tmp_path / "o"),
                "--fs",
                "0",
            ]
        )


@pytest.mark.skipif(not REAL_SPEECH.is_dir(), reason="../shared/data/real_speech is not present")
def test_real_speech_scores(tmp_path):
    ref = REAL_SPEECH / "libritts_16k"
    results = score.run(ref, [("identity", ref)], tmp_path, ["stoi", "mel_distance"])
    assert len(results["identity"]) == 10
    assert all(s["stoi"] > 0.999 for s in results["identity"].values())


def test_speaker_similarity_is_high_for_one_voice_and_low_for_two(tmp_path):
    """One espeak-ng voice reading two sentences against two voices reading one sentence;
    a silent hypothesis has no embedding: NaN and a note, not a traceback."""
    from espnet2_p2p.data.espeak import Speaker, synthesize

    text, other = (
        "The quick brown fox jumps over the lazy dog near the river bank.",
        "She sells sea shells by the sea shore every summer morning.",
    )
    us, rp = Speaker("us", "en-us"), Speaker("rp", "en-gb-x-rp+f3")
    a, b, c = synthesize(us, text), synthesize(us, other), synthesize(rp, text)
    sim = METRICS["speaker_sim"]
    same, one_voice, two_voices = sim(a, a, 16000), sim(a, b, 16000), sim(a, c, 16000)
    assert same == pytest.approx(1.0, abs=1e-5)
    assert one_voice > 0.8 and two_voices < 0.75 and one_voice - two_voices > 0.1, (one_voice, two_voices)
    assert sim(a, 0.2 * a, 16000) > 0.999  # the level is not the voice
    noisy = sim(a, degrade(a, 16000, noise=0.003), 16000)  # a codec's noise keeps the voice
    assert noisy > two_voices + 0.1
    assert sim(metrics.resample(a, 16000, 48000), metrics.resample(c, 16000, 48000), 48000) == pytest.approx(
        two_voices, abs=0.02
    )

    for name, wav in (("ref", a), ("rp", c), ("silent", np.zeros_like(a))):
        (tmp_path / name).mkdir()
        sf.write(str(tmp_path / name / "u.wav"), wav, 16000)
    hyps = [("same", tmp_path / "ref"), ("rp", tmp_path / "rp"), ("silent", tmp_path / "silent")]
    results = score.run(tmp_path / "ref", hyps, tmp_path / "o", ["stoi", "speaker_sim"])
    assert results["same"]["u"]["speaker_sim"] > 0.999
    assert results["rp"]["u"]["speaker_sim"] == pytest.approx(two_voices, abs=0.02)
    assert np.isnan(results["silent"]["u"]["speaker_sim"])
    text = (tmp_path / "o" / "RESULTS.md").read_text()
    assert "speaker_sim ↑" in text and "silent: u: speaker_sim not scored" in text
    paired = text.split("## Paired difference to same")[1].split("\n## ")[0]
    assert paired.splitlines()[2].endswith("| speaker_sim ↑ |") and "| rp | " in paired


@pytest.mark.slow
def test_dnsmos_prefers_clean_speech(espeak_corpus):
    wav, fs = read(next((espeak_corpus / "test" / "wav").glob("*.wav")))
    assert METRICS["dnsmos"](wav, wav, fs) > METRICS["dnsmos"](wav, degrade(wav, fs, noise=0.1), fs)


def tiny_espnet_asr(tmp_path):
    """A randomly initialised ESPnet ASR model saved as config.yaml + model.pth."""
    import yaml
    from espnet2.tasks.asr import ASRTask

    tokens = ["<blank>", "<unk>"] + list("abcdefghijklmnopqrstuvwxyz'") + ["<space>", "<sos/eos>"]
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "tokens.txt").write_text("\n".join(tokens) + "\n")
    small = ["output_size=16", "attention_heads=2", "linear_units=16", "num_blocks=1"]
    argv = [
        "--token_list",
        str(tmp_path / "tokens.txt"),
        "--token_type",
        "char",
        "--encoder",
        "transformer",
        "--decoder",
        "transformer",
        "--normalize",
        "none",
        "--frontend_conf",
        "n_fft=512",
        "--frontend_conf",
        "hop_length=160",
    ]
    for item in small:
        argv += ["--encoder_conf", item]
    for item in small[1:]:
        argv += ["--decoder_conf", item]
    args = ASRTask.get_parser().parse_args(argv)
    model = ASRTask.build_model(args)
    args.token_list = tokens
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), tmp_path / "model.pth")
    return tmp_path / "config.yaml", tmp_path / "model.pth"


class ConstantMOS(torch.nn.Module):
    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        return torch.full((1,), 3.25) + 0.0 * wav.mean()


def test_optional_scorers_use_local_model_files_only(espeak_corpus, tmp_path, monkeypatch):
    asr_config, asr_model = tiny_espnet_asr(tmp_path / "asr")
    heard = {}  # utterance -> what the ASR model transcribed

    class RecordingWER(score.ESPnetWER):
        def __call__(self, hyp, fs, utt):
            recognise = self.speech2text

            def record(speech):
                result = recognise(speech)
                heard[utt] = result[0][0] if result else ""
                return result

            self.speech2text = record
            try:
                return super().__call__(hyp, fs, utt)
            finally:
                self.speech2text = recognise

    monkeypatch.setattr(score, "ESPnetWER", RecordingWER)
    mos = tmp_path / "mos.pt"
    torch.jit.script(ConstantMOS()).save(str(mos))
    ref = espeak_corpus / "test" / "wav.scp"  # its text file holds the transcripts
    out = tmp_path / "scores"
    score.main(
        [
            "--ref",
            str(ref),
            "--hyp",
            f"same={espeak_corpus / 'test' / 'wav'}",
            "--output_dir",
            str(out),
            "--metrics",
            "stoi",
            "--utmos_model",
            str(mos),
            "--asr_config",
            str(asr_config),
            "--asr_model",
            str(asr_model),
        ]
    )
    header, *rows = (out / "scores.tsv").read_text().splitlines()
    assert header.split("\t")[2:] == ["stoi", "utmos", "wer"]
    texts = dict(line.split(" ", 1) for line in (espeak_corpus / "test" / "text").read_text().splitlines())
    assert sorted(heard) == sorted(row.split("\t")[1] for row in rows)
    for row in rows:
        utt = row.split("\t")[1]
        stoi, utmos, wer = map(float, row.split("\t")[2:])
        # a random ASR model: whatever it transcribed, the WER is jiwer's for that transcript
        expected = jiwer.wer(" ".join(normalise_words(texts[utt])), " ".join(normalise_words(heard[utt])))
        assert utmos == 3.25 and wer == pytest.approx(expected, abs=1e-6)
    assert "wer ↓" in (out / "RESULTS.md").read_text()
    pair = ["--ref", str(ref), "--hyp", str(espeak_corpus / "test" / "wav"), "--output_dir", str(out)]
    with pytest.raises(SystemExit, match="MOS model .*nothing.pt does not exist"):
        score.main([*pair, "--utmos_model", str(tmp_path / "nothing.pt")])
    with pytest.raises(SystemExit, match="needs both --asr_config and --asr_model"):
        score.main([*pair, "--asr_config", str(asr_config)])


@pytest.mark.parametrize(
    "transcript, wer",
    [
        ("the cat sat on the mat", 0.0),  # the reference, normalised: no error
        ("the cat sat on a mat", 1 / 6),  # one substitution of 6 words
        ("the cat sat on mat", 1 / 6),  # one deletion
        ("the black cat sat on the mat", 1 / 6),  # one insertion
        ("a dog sat", 5 / 6),  # 2 substitutions (a, dog) and 3 deletions
        ("", 1.0),  # nothing heard: every word deleted
    ],
)
def test_wer_counts_the_word_errors_of_a_known_transcript(tmp_path, monkeypatch, transcript, wer):
    """ESPnetWER on a known pair: an ASR stand-in that transcribes as told, against the
    reference "The cat sat on the mat." (case and punctuation normalised away)."""
    import types

    class Told:
        def __init__(self, asr_train_config, asr_model_file, beam_size):
            self.asr_train_args = types.SimpleNamespace(frontend_conf={"fs": 16000})

        def __call__(self, speech):
            return [(transcript, [], [], None)]

    monkeypatch.setattr("espnet2.bin.asr_inference.Speech2Text", Told)
    for name in ("config.yaml", "model.pth"):
        (tmp_path / name).write_text("")
    scorer = score.ESPnetWER(tmp_path / "config.yaml", tmp_path / "model.pth", {"u": "The cat sat on the mat."})
    assert scorer(np.zeros(16000, dtype=np.float32), 16000, "u") == pytest.approx(wer, abs=1e-12)
    assert scorer(np.zeros(16000, dtype=np.float32), 16000, "u") == pytest.approx(
        jiwer.wer("the cat sat on the mat", transcript), abs=1e-12
    )


def test_truncated_and_silent_hypotheses_are_scored_as_what_they_are(espeak_corpus, tmp_path):
    """A 0.5 s hypothesis of a longer reference is not perfect: the missing part counts as
    silence and a note says so; a silent hypothesis gets NaN for PESQ with a named note,
    not a traceback, and the tables and the plot are still written."""
    wav, fs = read(next((espeak_corpus / "test" / "wav").glob("*.wav")))
    for name in ("ref", "short", "silent"):
        (tmp_path / name).mkdir()
    sf.write(str(tmp_path / "ref" / "u.wav"), wav, fs)
    sf.write(str(tmp_path / "short" / "u.wav"), wav[: fs // 2], fs)
    sf.write(str(tmp_path / "silent" / "u.wav"), np.zeros_like(wav), fs)
    hyps = [("short", tmp_path / "short"), ("silent", tmp_path / "silent"), ("same", tmp_path / "ref")]
    results = score.run(tmp_path / "ref", hyps, tmp_path / "o", ["pesq_wb", "stoi", "lsd"])
    assert results["same"]["u"]["stoi"] > 0.999
    assert results["short"]["u"]["stoi"] < 0.8 and results["short"]["u"]["pesq_wb"] < 3.0
    assert np.isnan(results["silent"]["u"]["pesq_wb"])
    text = (tmp_path / "o" / "RESULTS.md").read_text()
    assert "short: u: hypothesis 0.50 s, reference" in text and "missing part is scored as silence" in text
    assert "silent: u: pesq_wb not scored" in text
    assert (tmp_path / "o" / "spectrograms.png").is_file()


def test_a_hypothesis_longer_than_its_reference_is_penalised_and_noted(espeak_corpus, tmp_path):
    """Issue 29 (9): the reference followed by 3 s more scored STOI 1.000 and PESQ 4.40."""
    wav, fs = read(next((espeak_corpus / "test" / "wav").glob("*.wav")))
    other = np.tile(wav, 1 + 3 * fs // len(wav))[: 3 * fs]
    for name in ("ref", "long", "same"):
        (tmp_path / name).mkdir()
    sf.write(str(tmp_path / "ref" / "u.wav"), wav, fs)
    sf.write(str(tmp_path / "same" / "u.wav"), wav, fs)
    sf.write(str(tmp_path / "long" / "u.wav"), np.concatenate([wav, other]), fs)
    results = score.run(
        tmp_path / "ref",
        [("long", tmp_path / "long"), ("same", tmp_path / "same")],
        tmp_path / "o",
        ["pesq_wb", "stoi"],
    )
    share = len(wav) / (len(wav) + 3 * fs - int(0.05 * fs))  # the part the reference covers
    assert results["same"]["u"]["stoi"] > 0.999
    assert results["long"]["u"]["stoi"] == pytest.approx(results["same"]["u"]["stoi"] * share, abs=0.02)
    assert results["long"]["u"]["pesq_wb"] < 1.0 + (results["same"]["u"]["pesq_wb"] - 1.0) * share + 0.05
    assert "past the reference's end count at the worst value" in (tmp_path / "o" / "RESULTS.md").read_text()


def test_every_scores_a_slow_metric_on_every_kth_utterance(espeak_corpus, tmp_path):
    ref_dir = espeak_corpus / "test" / "wav"
    n = len(list(ref_dir.glob("*.wav")))
    results = score.run(ref_dir, [("same", ref_dir)], tmp_path / "o", ["stoi", "lsd"], every={"stoi": 2})
    scored = [u for u, s in results["same"].items() if np.isfinite(s["stoi"])]
    assert len(scored) == -(-n // 2) and all(np.isfinite(s["lsd"]) for s in results["same"].values())
    assert f"stoi: scored on every 2th utterance ({-(-n // 2)} of {n})" in (tmp_path / "o" / "RESULTS.md").read_text()
    with pytest.raises(SystemExit, match="--every wants METRIC:K"):
        score.main(
            ["--ref", str(ref_dir), "--hyp", str(ref_dir), "--output_dir", str(tmp_path / "x"), "--every", "dnsmos:0"]
        )


def test_a_system_scored_before_is_kept_and_a_changed_one_rescored(espeak_corpus, tmp_path, monkeypatch):
    """Adding a system to a finished run scores that system only; a system whose files
    changed, other settings, or --force score again."""
    import os

    ref_dir = espeak_corpus / "test" / "wav"
    hyp_dir = tmp_path / "hyp"
    hyp_dir.mkdir()
    for path in ref_dir.glob("*.wav"):
        wav, fs = read(path)
        sf.write(str(hyp_dir / path.name), degrade(wav, fs, noise=0.01), fs)
    out = tmp_path / "scores"
    first = score.run(ref_dir, [("noisy", hyp_dir)], out, ["stoi", "lsd"])
    calls = []
    real = scoring.score_pair
    monkeypatch.setattr(scoring, "score_pair", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    again = score.run(ref_dir, [("noisy", hyp_dir), ("same", ref_dir)], out, ["stoi", "lsd"])
    n = len(first["noisy"])
    # noisy: one call without metrics for the spectrogram; same: every utterance scored
    assert calls.count([]) == 1 and len(calls) == 1 + n
    for utt, s in first["noisy"].items():
        assert again["noisy"][utt]["stoi"] == pytest.approx(s["stoi"], abs=1e-6)
    assert len((out / "scores.tsv").read_text().splitlines()) == 1 + 2 * n
    assert "| noisy |" in (out / "RESULTS.md").read_text() and "| same |" in (out / "RESULTS.md").read_text()

    victim = next(hyp_dir.glob("*.wav"))
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    calls.clear()
    score.run(ref_dir, [("noisy", hyp_dir), ("same", ref_dir)], out, ["stoi", "lsd"])
    assert len(calls) == 2  # a newer file of the same bytes: both kept (a spectrogram read each)
    wav, fs = read(victim)
    sf.write(str(victim), wav * 0.5, fs)
    calls.clear()
    score.run(ref_dir, [("noisy", hyp_dir), ("same", ref_dir)], out, ["stoi", "lsd"])
    assert len(calls) == n + 1  # noisy scored again, same kept
    calls.clear()
    kept = score.run(ref_dir, [("same", ref_dir)], out, ["stoi", "lsd"])  # a run of one system
    assert len(calls) == 1 and set(kept) == {"same", "noisy"}  # noisy, not named, stays
    assert len((out / "scores.tsv").read_text().splitlines()) == 1 + 2 * n
    calls.clear()
    score.run(ref_dir, [("noisy", hyp_dir)], out, ["stoi"])  # other metrics: nothing kept
    assert len(calls) == n
    calls.clear()
    score.run(ref_dir, [("noisy", hyp_dir)], out, ["stoi"], force=True)
    assert len(calls) == n
    with pytest.raises(score.ScoreError, match="given twice"):
        score.run(ref_dir, [("a", hyp_dir), ("a", ref_dir)], out, ["stoi"])


def test_an_odd_rate_hypothesis_is_resampled_in_bounded_memory(tmp_path):
    """Issue 29 (7): 10 s at 16001 Hz peaked at 5.1 GB through torchaudio's resampler."""
    import subprocess
    import sys

    import numpy as np
    import soundfile as sf

    t = np.arange(160000) / 16000
    (tmp_path / "ref").mkdir()
    (tmp_path / "hyp").mkdir()
    sf.write(tmp_path / "ref" / "u.wav", 0.3 * np.sin(2 * np.pi * 220 * t), 16000)
    sf.write(tmp_path / "hyp" / "u.wav", 0.3 * np.sin(2 * np.pi * 220 * np.arange(160010) / 16001), 16001)
    probe = "\n".join(
        [
            "import resource",
            "from pathlib import Path",
            "from espnet2_p2p.bin import score",
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss",
            f"score.run(Path({str(tmp_path / 'ref')!r}), [('h', Path({str(tmp_path / 'hyp')!r}))],"
            f" Path({str(tmp_path / 'out')!r}), ['stoi'], fs=16000)",
            "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)",
        ]
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-500:]
    assert int(proc.stdout.strip().splitlines()[-1]) < 500, proc.stdout  # MB over what the imports took


def test_each_system_is_measured_on_its_own_code_rate_grid(tmp_path, capsys):
    """--grid_rate LABEL=RATE: a codec buzzing at 20 Hz (SecoustiCodec's ~21 Hz kind) shows
    its lines when measured at 20 Hz, beside one measured at the default 50 Hz; a changed
    rate rescores that system; an unknown label or a bad value stops with one line."""
    fs, rng = 16000, np.random.default_rng(0)
    ref_dir, buzz20, buzz50 = tmp_path / "ref", tmp_path / "buzz20", tmp_path / "buzz50"
    for d in (ref_dir, buzz20, buzz50):
        d.mkdir()
    n = 4 * fs
    noise = (0.05 * rng.standard_normal(n)).astype(np.float32)
    sf.write(str(ref_dir / "u.wav"), noise, fs)
    for d, rate in ((buzz20, 20), (buzz50, 50)):
        pulses = np.zeros(n, np.float32)
        pulses[:: fs // rate] = 1.0
        sf.write(str(d / "u.wav"), 3.0 * pulses + noise, fs, subtype="FLOAT")
    out = tmp_path / "scores"
    args = ["--ref", str(ref_dir), "--hyp", f"buzz20={buzz20}", "--hyp", f"buzz50={buzz50}", "--output_dir", str(out)]
    args += ["--metrics", "grid_share,grid_line_db", "--page_utts", "0"]
    score.main([*args, "--grid_rate", "buzz20=20"])
    rows = {line.split("\t")[0]: line.split("\t")[2:] for line in (out / "scores.tsv").read_text().splitlines()[1:]}
    share20, lines20 = map(float, rows["buzz20"])
    share50, lines50 = map(float, rows["buzz50"])
    assert share20 > 0.5 and lines20 > 10 and share50 > 0.5 and lines50 > 10  # each at its own rate
    assert "on the grid of 50 Hz (buzz20 20 Hz)." in (out / "RESULTS.md").read_text()
    capsys.readouterr()
    score.main([*args])  # buzz20 now at 50 Hz: rescored, its 20 Hz lines fall off the grid
    assert "buzz50: scored before from the same files, kept" in capsys.readouterr().out
    rows = {line.split("\t")[0]: line.split("\t")[2:] for line in (out / "scores.tsv").read_text().splitlines()[1:]}
    assert float(rows["buzz20"][0]) < share20 and float(rows["buzz20"][1]) < lines20
    for bad, said in (
        (["--grid_rate", "nobody=20"], "names systems that are not scored: nobody"),
        (["--grid_rate", "buzz20=fast"], "wants [LABEL=]RATE in Hz"),
        (["--grid_rate", "2"], "from 4 to 1000 Hz, got 2.0"),
    ):
        with pytest.raises(SystemExit) as err:
            score.main([*args, *bad])
        assert said in str(err.value) and "\n" not in str(err.value)
