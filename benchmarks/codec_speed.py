#!/usr/bin/env python3
"""Speed, size and memory of P2PSynCodec (torch and ONNX Runtime) beside the codecs users
pick at low bitrates, in one run and one table.

    python -m benchmarks.codec_speed                     # the README's table (CPU)
    python -m benchmarks.codec_speed --only size,rtf --threads 1 --lengths 10 --codecs p2p_paper,p2p_paper_ort,dac16
    python -m benchmarks.codec_speed --device cuda --only train

Codecs (``--codecs``), all with random weights (speed does not depend on training):

- ``p2p_paper`` / ``p2p_paper_ort``: the paper-scale student (``conf/student.yaml``,
  codebooks initialised by one teacher step), in PyTorch and exported to ONNX
  (:mod:`espnet2_p2p.onnx`) run by ONNX Runtime; ``p2p_paper_ort_int8``: that export
  with its matrix products dynamically quantised to int8 (``p2p-codec export --int8``);
- ``p2p_small`` / ``p2p_small_ort`` / ``p2p_small_ort_int8``: the shipped student (trained,
  ``espnet2_p2p.pretrained.DEFAULT``; the rows name it, and the file's first line its SHA-256);

Ours run as ``p2p-codec`` runs them: through :class:`espnet2_p2p.coding.coder.TorchCoder` or
:class:`espnet2_p2p.onnx.OnnxCodec` with the package's chunk plan
(:mod:`espnet2_p2p.coding.chunks`), so long inputs are coded chunk by chunk.
- ``dac16``: DAC's published 16 kHz configuration (64 -> 1536 channels, strides
  2, 4, 5, 8, 12 codebooks of 1024), built from transformers' ``DacModel``, a port of
  Descript's classes (Descript's own package pins protobuf 3.19, which breaks onnx here);
- ``encodec24``: EnCodec 24 kHz from Meta's ``encodec`` package (``pretrained=False``),
  1.5 kbps;
- ``snac24``: SNAC 24 kHz (the speech model, 0.98 kbps) from its ``snac`` package.

Install the others with ``pip install -e '.[bench]'``; a codec whose package is missing
is left out with a notice. Parts (``--only``):

- ``size``: parameters and GFLOPs per second of audio (``torch.utils.flop_counter``, FLOPs
  = 2 x multiply-accumulates) of encoding and decoding (a student's decoding includes
  the pseudo-VQ prediction); an ONNX row repeats its PyTorch twin's counts;
- ``rtf``: encode and decode real-time factors (seconds of compute per second of audio)
  of ``--lengths`` second inputs with each of ``--threads``, after a warm-up call at that
  length (PyTorch's first call on new chunk shapes costs more): the median of ``--runs``
  (one run for the other codecs' inputs over 10 s, which take minutes); then the speed of
  each of ours relative to DAC 16 kHz, from the same run;
- ``memory``: the peak memory that encoding + decoding the longest input adds, each codec
  in a fresh process (CPU: peak RSS, reset through ``/proc/self/clear_refs``, minus the
  RSS before; CUDA: ``max_memory_allocated`` minus the allocation before);
- ``scaling``: the paper-scale student's encode + decode RTF for 1, 10, 60 and 600 s,
  whole-input (PyTorch) and with the chunk plan (PyTorch and ONNX Runtime);
- ``train``: training steps per second of the tiny teacher and student.

The tables are printed as Markdown and written to ``--output`` (default
``benchmarks/RESULTS.md``); the first table holds the comparison.
"""

import argparse
import copy
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

import torch

from espnet2_p2p import pretrained
from espnet2_p2p.utils.config import load_config

ROOT = Path(__file__).resolve().parents[1]
FS = 16000
ALL_CODECS = "p2p_paper,p2p_paper_ort,p2p_paper_ort_int8,p2p_small,p2p_small_ort,dac16,encodec24,snac24"
REFERENCE = "dac16"  # the codec our speed is compared with


# ------------------------------------------------------------------ models
def _task_args(config: dict):
    return argparse.Namespace(
        codec=config["codec"],
        codec_conf=config.get("codec_conf", {}),
        model_conf={},
        optim=config.get("optim", "adam"),
        optim_conf=config.get("optim_conf", {}),
        optim2=config.get("optim2", "adam"),
        optim2_conf=config.get("optim2_conf", {}),
        sharded_ddp=False,
    )


def build_p2p(student_config: str, device: str):
    """A student with codebooks initialised by one teacher step (random weights)."""
    from espnet2.tasks.gan_codec import GANCodecTask

    import espnet2_p2p  # noqa: F401

    student_cfg = load_config(ROOT / "conf" / student_config)
    teacher_cfg = copy.deepcopy(student_cfg)
    for key in ("quantizer_mode", "predictor_conf", "pseudo_codeword", "finetune_decoder", "lambda_ce"):
        teacher_cfg["codec_conf"].pop(key, None)
    torch.manual_seed(0)
    teacher = GANCodecTask.build_model(_task_args(teacher_cfg))
    teacher.train()
    teacher(0.1 * torch.randn(2, 8000), forward_generator=True)
    student = GANCodecTask.build_model(_task_args(student_cfg))
    student.load_state_dict(teacher.state_dict(), strict=False)
    return student.eval().to(device)


def _shipped(device: str):
    from espnet2_p2p import pretrained
    from espnet2_p2p.model_io import load_codec

    return load_codec(pretrained.default_model(), device=device)


class Coder:
    """One codec for timing: ``encode(x) -> codes`` and ``decode(codes, samples)`` on a
    (1, 1, T) tensor at ``fs``; ``modules`` are what parameters and FLOPs are counted of."""

    def __init__(self, name: str, fs: int, encode, decode, modules, ours: bool = False, twin: str = ""):
        self.name, self.fs, self._encode, self._decode = name, fs, encode, decode
        self.modules, self.ours, self.twin = modules, ours, twin

    def encode(self, x):
        return self._encode(x)

    def decode(self, codes, samples: int):
        return self._decode(codes, samples)

    def params(self) -> float:
        return sum(p.numel() for m in self.modules for p in m.parameters())


def _torch_p2p(name: str, model) -> Coder:
    """The student as ``p2p-codec`` runs it in PyTorch: :class:`espnet2_p2p.coding.coder.TorchCoder`
    with the package's chunk plan (inputs up to a chunk with its context on both sides are coded whole)."""
    from espnet2_p2p.coding.coder import TorchCoder

    codec = model.codec
    return Coder(name, codec.fs, *_planned(TorchCoder(codec, fingerprint=b"")), [codec.generator], ours=True)


def _planned(file_coder):
    """encode(x) and decode(codes, samples) through a coder's ``encode_file`` /
    ``decode_file``, with the package's default chunk plan."""

    def encode(x):
        flat = x[0, 0].cpu().numpy()
        return file_coder.encode_file(lambda s, e: flat[s:e], len(flat))[0]

    def decode(codes, samples):
        out = []
        file_coder.decode_file(codes, samples, out.append)
        return out

    return encode, decode


def _onnx_p2p(name: str, model, threads: int, twin: str, int8: bool = False) -> Coder:
    """The model exported to ONNX (once per model; ``int8``: its matrix products dynamically
    quantised) and run by ONNX Runtime on ``threads`` with the package's chunk plan."""
    from espnet2_p2p.onnx import OnnxCodec
    from espnet2_p2p.onnx.export import export_codec

    folder = _EXPORTS.get((id(model), int8))
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="p2p_onnx_"))
        export_codec(model, folder, max_seconds=61.0, int8=int8)
        _EXPORTS[(id(model), int8)] = folder
    ort_codec = OnnxCodec(folder, threads=threads)
    return Coder(name, ort_codec.fs, *_planned(ort_codec), [], ours=True, twin=twin)


_EXPORTS: Dict[tuple, Path] = {}
_MODELS: Dict[str, object] = {}


def _dac16() -> Coder:
    from transformers import DacConfig, DacModel

    config = DacConfig(
        encoder_hidden_size=64,
        downsampling_ratios=[2, 4, 5, 8],
        decoder_hidden_size=1536,
        n_codebooks=12,
        codebook_size=1024,
        codebook_dim=8,
        sampling_rate=16000,
    )
    torch.manual_seed(0)
    model = DacModel(config).eval()
    return Coder(
        "DAC 16 kHz (6 kbps)",
        16000,
        lambda x: model.encode(x).audio_codes,
        lambda c, n: model.decode(audio_codes=c).audio_values,
        [model],
    )


def _encodec24() -> Coder:
    from encodec import EncodecModel

    torch.manual_seed(0)
    model = EncodecModel.encodec_model_24khz(pretrained=False).eval()
    model.set_target_bandwidth(1.5)
    return Coder("EnCodec 24 kHz (1.5 kbps)", 24000, model.encode, lambda c, n: model.decode(c), [model])


def _snac24() -> Coder:
    from snac import SNAC

    torch.manual_seed(0)
    model = SNAC(
        sampling_rate=24000,
        encoder_dim=48,
        encoder_rates=[2, 4, 8, 8],
        decoder_dim=1024,
        decoder_rates=[8, 8, 4, 2],
        attn_window_size=None,
        codebook_size=4096,
        codebook_dim=8,
        vq_strides=[4, 2, 1],
        noise=True,
        depthwise=True,
    ).eval()
    return Coder("SNAC 24 kHz (0.98 kbps)", 24000, model.encode, lambda c, n: model.decode(c), [model])


def _model(which: str, device: str):
    if which not in _MODELS:
        _MODELS[which] = build_p2p("student.yaml", device) if which == "paper" else _shipped(device)
    return _MODELS[which]


OURS = ("p2p_paper", "p2p_paper_ort", "p2p_paper_ort_int8", "p2p_small", "p2p_small_ort", "p2p_small_ort_int8")

#: how the shipped student's rows are named: by the model shipped when the benchmark runs
_SHIPPED = f"shipped {pretrained.DEFAULT}"


def coder(key: str, device: str, threads: int = 1) -> Coder:
    """The codec ``key`` (ONNX ones run on ``threads``); our models are built once."""
    if key not in OURS:
        return {"dac16": _dac16, "encodec24": _encodec24, "snac24": _snac24}[key]()
    which = "paper" if key.startswith("p2p_paper") else "small"
    name = f"P2PSynCodec student, {'paper scale' if which == 'paper' else _SHIPPED} (0.5 kbps)"
    if key.endswith("_ort_int8"):
        return _onnx_p2p(
            f"{name}, ONNX Runtime int8", _model(which, device), threads, twin=f"{name}, PyTorch", int8=True
        )
    if key.endswith("_ort"):
        return _onnx_p2p(f"{name}, ONNX Runtime", _model(which, device), threads, twin=f"{name}, PyTorch")
    return _torch_p2p(f"{name}, PyTorch", _model(which, device))


def available(keys: List[str]) -> List[str]:
    """The keys whose package is installed (a notice for the others)."""
    import importlib.util

    needs = {"dac16": "transformers", "encodec24": "encodec", "snac24": "snac"}
    out = []
    for key in keys:
        if key in needs and importlib.util.find_spec(needs[key]) is None:
            print(f"note: {key} left out: `{needs[key]}` is not installed (pip install -e '.[bench]')", file=sys.stderr)
            continue
        out.append(key)
    return out


# --------------------------------------------------------------- measuring
def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return _status_mb("VmHWM")


def rss_mb() -> float:
    return _status_mb("VmRSS")


def timed(fn: Callable, runs: int, device: str, warmup: bool = True) -> float:
    """Median seconds of ``runs`` calls after one warm-up call."""
    if warmup:
        fn()
        _sync(device)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def gflops(fn: Callable) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def audio(seconds: float, device: str, fs: int = FS) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (0.1 * torch.randn(1, 1, int(seconds * fs), generator=g)).to(device)


# ------------------------------------------------------------------- parts
@torch.no_grad()
def part_size(keys: List[str], device: str) -> Dict[str, tuple]:
    """name -> (parameters, encode GFLOPs/s, decode GFLOPs/s) on 10 s inputs."""
    sizes = {}
    for key in keys:
        c = coder(key, device)
        if c.twin:  # an ONNX graph of a PyTorch model: the same arithmetic
            sizes[c.name] = sizes.get(c.twin) or (float("nan"),) * 3
            continue
        x = audio(10.0, device, c.fs)
        codes = c.encode(x)
        sizes[c.name] = (
            c.params(),
            gflops(lambda: c.encode(x)) / 10,
            gflops(lambda: c.decode(codes, x.shape[-1])) / 10,
        )
        print(f"size {c.name}: {sizes[c.name]}", flush=True)
    return sizes


@torch.no_grad()
def part_rtf(keys: List[str], device: str, threads: List[int], lengths: List[float], runs: int) -> Dict[tuple, tuple]:
    """(name, threads, seconds) -> (encode RTF, decode RTF)."""
    results = {}
    built = {}
    for n in threads:
        torch.set_num_threads(n)
        for key in keys:
            if key not in built or "_ort" in key:  # ONNX Runtime's threads are set per session
                built[key] = coder(key, device, threads=n)
            c = built[key]
            for seconds in sorted(lengths):
                x = audio(seconds, device, c.fs)
                codes = c.encode(x)
                r = runs if seconds <= 10 or c.ours else 1  # the others' long inputs: one run
                t_enc = timed(lambda: c.encode(x), r, device) / seconds
                t_dec = timed(lambda: c.decode(codes, x.shape[-1]), r, device) / seconds
                results[(c.name, n, seconds)] = (t_enc, t_dec)
                print(f"rtf {c.name} threads={n} {seconds:g}s: encode {t_enc:.4f} decode {t_dec:.4f}", flush=True)
    return results


@torch.no_grad()
def _memory_child(codec_key: str, seconds: float, device: str, threads: int) -> None:
    """In a fresh process: peak memory of encode + decode of one codec (printed)."""
    c = coder(codec_key, device, threads)
    x = audio(seconds, device, c.fs)
    c.encode(x)  # allocate what any run needs once (weights, workspaces), then measure
    before = rss_mb()
    reset_peak()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2**20
    c.decode(c.encode(x), x.shape[-1])
    _sync(device)
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else peak_rss_mb()
    print(f"MEMORY {c.name}|{peak - before:.1f}|{before:.1f}", flush=True)


def part_memory(device: str, keys: List[str], seconds: float, threads: int) -> Dict[str, tuple]:
    """name -> (extra peak MB of encode + decode of ``seconds``, resident MB before)."""
    import subprocess

    out = {}
    for key in keys:
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.codec_speed",
                "--only",
                "_memory",
                "--codecs",
                key,
                "--lengths",
                str(seconds),
                "--device",
                device,
                "--threads",
                str(threads),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        line = [ln for ln in run.stdout.splitlines() if ln.startswith("MEMORY ")]
        if not line:
            raise RuntimeError(f"memory measurement of {key} failed: {run.stderr[-1000:]}")
        name, extra, before = line[0][len("MEMORY ") :].split("|")
        out[name] = (float(extra), float(before))
        print(f"memory {name}: {extra} MB (resident before {before} MB)", flush=True)
    return out


def tables(names: List[str], sizes, rtf, memory, threads: List[int], lengths: List[float]) -> List[str]:
    """The comparison (one table), the split into encode / decode, and the goals."""
    ref = next((n for n in names if n.startswith("DAC 16 kHz")), None)
    one, longest = min(threads), max(lengths)
    cols = [(n, s) for n in threads for s in lengths]
    head = [
        "| codec | params | GFLOPs/s encode | GFLOPs/s decode |"
        + "".join(f" enc + dec RTF, {n} thr, {s:g} s |" for n, s in cols)
        + f" decode RTF, {one} thr, {lengths[0]:g} s |"
        + (f" decode speed vs DAC 16 kHz ({one} thr, {lengths[0]:g} s) |" if ref else "")
        + (f" extra peak memory, {longest:g} s (MB) |" if memory else "")
    ]
    head.append("|" + "---|" * (head[0].count("|") - 1))
    rows = []
    for name in names:
        p, ge, gd = sizes.get(name, (float("nan"),) * 3)
        cells = [name, f"{p / 1e6:.1f} M", f"{ge:.2f}", f"{gd:.2f}"]
        for n, s in cols:
            e, d = rtf.get((name, n, s), (float("nan"), float("nan")))
            cells.append(f"{e + d:.4f}")
        d1 = rtf.get((name, one, lengths[0]), (float("nan"),) * 2)[1]
        cells.append(f"{d1:.4f}")
        if ref:
            cells.append(f"{rtf[(ref, one, lengths[0])][1] / d1:.1f}x")
        if memory:
            cells.append(f"{memory.get(name, (float('nan'),))[0]:.0f}")
        rows.append("| " + " | ".join(cells) + " |")
    detail = [
        "| codec | threads | input (s) | encode RTF | decode RTF | enc + dec RTF |"
        + (" DAC 16 kHz decode time / this decode time |" if ref else ""),
        "|---|---|---|---|---|---|" + ("---|" if ref else ""),
    ]
    for name in names:
        for n, s in cols:
            if (name, n, s) not in rtf:
                continue
            e, d = rtf[(name, n, s)]
            ratio = f" {rtf[(ref, n, s)][1] / d:.1f} |" if ref else ""
            detail.append(f"| {name} | {n} | {s:g} | {e:.4f} | {d:.4f} | {e + d:.4f} |{ratio}")
    goals = []
    ours = [n for n in names if n.startswith("P2PSynCodec")]
    if ref:
        for name in ours:
            worst = min(rtf[(ref, one, s)][1] / rtf[(name, one, s)][1] for s in lengths if (name, one, s) in rtf)
            goals.append(
                f"- Decoding at least 10x faster than DAC 16 kHz on {one} thread ({name}): "
                f"{'met' if worst >= 10 else 'not met'} (slowest of the lengths: {worst:.1f}x)."
            )
    for name in [n for n in names if n.startswith("P2PSynCodec student, paper") and "ONNX" in n]:
        worst = max(sum(rtf[(name, one, s)]) for s in lengths)
        goals.append(
            f"- Encode + decode RTF at most 0.05 on {one} thread ({name}): "
            f"{'met' if worst <= 0.05 else 'not met'} (largest of the lengths: {worst:.4f})."
        )
    if len(lengths) > 1:
        short = min(lengths)
        for name in ours:
            if all((name, one, s) in rtf for s in lengths):
                ratio = max(sum(rtf[(name, one, s)]) for s in lengths) / sum(rtf[(name, one, short)])
                goals.append(
                    f"- Linear in length (issue 31): the RTF of every length within 10% of {short:g} s's on {one}"
                    f" thread ({name}): {'met' if ratio <= 1.1 else 'not met'} (largest / {short:g} s: {ratio:.2f})."
                )
    return (
        head
        + rows
        + ["", "### Encode and decode apart", ""]
        + detail
        + (["", "### Goals (issue 20), from the rows above", ""] + goals if goals else [])
    )


@torch.no_grad()
def part_scaling(device: str, runs: int, lengths=(1.0, 10.0, 60.0, 600.0), whole_max: float = 60.0) -> List[str]:
    """The paper-scale student's encode + decode RTF by input length, in PyTorch and on ONNX
    Runtime (the current torch threads; ONNX Runtime as many), whole and with the
    package's chunk plan."""
    from espnet2_p2p.coding.chunks import DEFAULT_CHUNK_SECONDS, DEFAULT_CONTEXT_SECONDS

    model = _model("paper", device)
    codec = model.codec
    threads = torch.get_num_threads()
    plan = f"{DEFAULT_CHUNK_SECONDS:g} s chunks, {DEFAULT_CONTEXT_SECONDS:g} s context"
    backends = [("PyTorch", coder("p2p_paper", device))]
    if device == "cpu":
        backends.append(("ONNX Runtime", coder("p2p_paper_ort", device, threads=threads)))
    rows = [
        f"{threads} thread(s). Whole input: PyTorch's `codec.encode` / `codec.decode` on the whole input; the plan:"
        f" what `p2p-codec` does ({plan}; inputs up to a chunk with its context on both sides are coded whole)."
        f" Each length: the median of {runs} runs after a warm-up call at it; 600 s: one run, no warm-up"
        " (the first of its 63 chunks runs cold).",
        "",
        "| input (s) | PyTorch, whole input | " + " | ".join(f"{b}, {plan}" for b, _ in backends) + " |",
        "|---|---|" + "---|" * len(backends),
    ]
    for seconds in lengths:
        x = audio(seconds, device)
        whole = "-"
        r = runs if seconds <= 60 else 1  # 600 s: one timed run
        if seconds <= whole_max:
            whole = f"{timed(lambda: codec.decode(codec.encode(x), length=x.shape[-1]), r, device) / seconds:.4f}"
        cells = []
        for _, c in backends:
            # 600 s: one run, no warm-up (the first of its 63 chunks runs cold)
            t = timed(lambda: c.decode(c.encode(x), x.shape[-1]), r, device, warmup=seconds < 600)
            cells.append(f"{t / seconds:.4f}")
        rows.append(f"| {seconds:g} | {whole} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    return rows


def part_train(device: str, runs: int) -> List[str]:
    from espnet2.tasks.gan_codec import GANCodecTask

    import espnet2_p2p  # noqa: F401

    rows = [
        "| model (tiny) | batch | steps/s | samples/s (0.5 s each) | memory per batch item (MB) |",
        "|---|---|---|---|---|",
    ]
    teacher_cfg = load_config(ROOT / "conf" / "teacher_tiny.yaml")
    student_cfg = load_config(ROOT / "conf" / "student_tiny.yaml")
    torch.manual_seed(0)
    teacher = GANCodecTask.build_model(_task_args(teacher_cfg)).to(device)
    teacher.train()
    teacher(0.1 * torch.randn(2, 8000, device=device), forward_generator=True)
    student = GANCodecTask.build_model(_task_args(student_cfg)).to(device)
    student.load_state_dict(teacher.state_dict(), strict=False)
    for name, model, cfg in [("teacher", teacher, teacher_cfg), ("student", student, student_cfg)]:
        model.train()
        optim, _ = GANCodecTask.build_optimizers(_task_args(cfg), model)

        def step(batch):
            x = 0.1 * torch.randn(batch, 8000, device=device)
            out = model(x, forward_generator=True)
            optim.zero_grad()
            out["loss"].backward()
            optim.step()

        cuda = device.startswith("cuda")
        mem = {}
        for batch in (8, 16):
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            t = timed(lambda: step(batch), runs, device)
            mem[batch] = (t, torch.cuda.max_memory_allocated() / 2**20 if cuda else None)
        # Per item: the peak allocation of batch 16 minus batch 8, over 8. On CPU the
        # allocator keeps freed memory, so the process RSS cannot show it: CUDA only.
        per_item = f"{(mem[16][1] - mem[8][1]) / 8:.1f}" if cuda else "- (CUDA only)"
        t8 = mem[8][0]
        rows.append(f"| {name} | 8 | {1 / t8:.2f} | {8 / t8:.1f} | {per_item} |")
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="size,rtf,memory")
    parser.add_argument("--codecs", default=ALL_CODECS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--lengths", default="10,60")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args(argv)
    parts = args.only.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    lengths = [float(s) for s in args.lengths.split(",")]
    if parts == ["_memory"]:
        torch.set_num_threads(threads[0])
        _memory_child(args.codecs, lengths[0], args.device, threads[0])
        return
    keys = available(args.codecs.split(","))
    torch.set_num_threads(max(threads))
    started = time.time()
    from benchmarks.provenance import RANDOM, model_line

    shipped = [k for k in keys if k in OURS and not k.startswith("p2p_paper")]
    rest = f' in the rows "{_SHIPPED}"; the other rows: random weights'
    out = [
        model_line(pretrained.default_model(), rest) if shipped else RANDOM,
        "",
        "# Codec benchmarks",
        "",
        f"`python -m benchmarks.codec_speed {' '.join(sys.argv[1:] if argv is None else argv)}`".replace(" `", "`"),
        "",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads available to torch"
        f" ({torch.__version__}); device {args.device}"
        + (f" ({torch.cuda.get_device_name(0)})" if args.device.startswith("cuda") else ""),
        "",
    ]
    if {"size", "rtf", "memory"} & set(parts):
        sizes = part_size(keys, args.device) if "size" in parts else {}
        rtf = part_rtf(keys, args.device, threads, lengths, args.runs) if "rtf" in parts else {}
        memory = part_memory(args.device, keys, max(lengths), min(threads)) if "memory" in parts else {}
        names = list(dict.fromkeys([c for c in sizes] + [k[0] for k in rtf] + list(memory)))
        out += [
            "## Speed, size and memory",
            "",
            ("Random weights but the shipped student's rows; " if shipped else "Random weights; ")
            + "RTF = seconds of compute per second of audio (lower is faster);"
            " GFLOPs per second of audio; decoding includes the pseudo-VQ prediction; RTF: after a warm-up call"
            f" at each length, the median of {args.runs} runs (one run for the other codecs' inputs over 10 s);"
            f" extra peak memory: encoding + decoding {max(lengths):g} s in a fresh process, beyond the loaded model"
            f" ({min(threads)} thread).",
            "",
        ]
        out += tables(names, sizes, rtf, memory, threads, lengths) + [""]
    if "scaling" in parts:
        torch.set_num_threads(max(threads))
        out += ["## Scaling with input length (paper-scale student)", ""] + part_scaling(args.device, args.runs) + [""]
    if "train" in parts:
        torch.set_num_threads(max(threads))
        out += ["## Training throughput", ""] + part_train(args.device, args.runs) + [""]
    out += [
        f"The run took {(time.time() - started) / 60:.1f} min; load average when it ended: {os.getloadavg()[0]:.1f}"
        f" on {os.cpu_count()} cores (speed is only comparable between runs on an otherwise idle machine).",
        "",
    ]
    text = "\n".join(out)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(text)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
