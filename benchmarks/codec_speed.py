#!/usr/bin/env python3
"""Speed, size and scaling of P2PSynCodec beside ESPnet's own codecs.

    python -m benchmarks.codec_speed                     # everything, CPU
    python -m benchmarks.codec_speed --only size,rtf --threads 1 --lengths 10
    python -m benchmarks.codec_speed --device cuda --only train

Parts (``--only``):

- ``size``: parameters and GFLOPs per second of audio (``torch.utils.flop_counter``;
  FLOPs = 2 x multiply-accumulates) of encoding, pseudo-VQ prediction and decoding;
- ``rtf``: encode and decode real-time factors for ``--lengths`` second inputs with each
  of ``--threads``, median of ``--runs`` after a warm-up, and the ratios P2PSynCodec /
  each ESPnet codec. For students the pseudo-VQ prediction is
  timed on its own and is part of "decode";
- ``memory``: the peak memory that encoding + decoding the longest input adds, each codec
  in a fresh process (CPU: peak RSS, reset through ``/proc/self/clear_refs``, minus the
  RSS before; CUDA: ``max_memory_allocated`` minus the allocation before);
- ``scaling``: the paper-scale student's encode + decode RTF for 1, 10, 60 and 600 s,
  whole-input coding (up to 60 s) and chunked coding (30 s chunks, 2 s context,
  :mod:`espnet2_p2p.chunked`); inputs over 10 s are timed once;
- ``train``: training steps per second of the tiny teacher and student (batch 8 x 0.5 s)
  and, on CUDA, the memory per batch item.

Models have random weights (codebooks initialised by one training step): speed does
not depend on training. ESPnet's SoundStream, DAC and EnCodec are built from their
classes at 16 kHz with the hop of 320 samples (50 Hz) and 4 codebooks of 1024, coding
at 0.5 kbps (one codebook) like the student. Tables are printed as Markdown and written
to ``--output`` (default ``benchmarks/RESULTS.md``).
"""

import argparse
import copy
import inspect
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
FS = 16000


# ------------------------------------------------------------------ models
def _task_args(config: dict):
    return argparse.Namespace(
        codec=config["codec"], codec_conf=config.get("codec_conf", {}), model_conf={},
        optim=config.get("optim", "adam"), optim_conf=config.get("optim_conf", {}),
        optim2=config.get("optim2", "adam"), optim2_conf=config.get("optim2_conf", {}),
        sharded_ddp=False,
    )  # fmt: skip


def build_p2p(student_config: str, device: str):
    """A student with codebooks initialised by one teacher step (random weights)."""
    import espnet2_p2p  # noqa: F401
    from espnet2.tasks.gan_codec import GANCodecTask

    student_cfg = yaml.safe_load((ROOT / "conf" / student_config).read_text())
    teacher_cfg = copy.deepcopy(student_cfg)
    for key in ("quantizer_mode", "predictor_conf", "pseudo_codeword", "finetune_decoder", "lambda_ce"):
        teacher_cfg["codec_conf"].pop(key, None)
    torch.manual_seed(0)
    teacher = GANCodecTask.build_model(_task_args(teacher_cfg))
    teacher.train()
    teacher(0.1 * torch.randn(2, 8000), forward_generator=True)
    student = GANCodecTask.build_model(_task_args(student_cfg))
    student.load_state_dict(teacher.state_dict(), strict=False)
    return student.codec.eval().to(device)


def _espnet_codec(cls, device: str):
    params = copy.deepcopy(inspect.signature(cls.__init__).parameters["generator_params"].default)
    params.update(
        encdec_ratios=[8, 5, 4, 2], quantizer_n_q=4, quantizer_bins=1024,
        quantizer_target_bandwidth=[0.5, 2.0],
    )  # fmt: skip
    extra = {}
    if cls.__name__ == "Encodec":  # ESPnet's default is not nested as its discriminator wants
        flat = inspect.signature(cls.__init__).parameters["discriminator_params"].default
        extra["discriminator_params"] = {"msstft_discriminator_params": copy.deepcopy(flat)}
    torch.manual_seed(0)
    codec = cls(sampling_rate=FS, generator_params=params, **extra)
    codec.train()
    with torch.no_grad():  # one pass to initialise the k-means codebooks
        codec.generator(0.1 * torch.randn(1, 1, 8000))
    return codec.eval().to(device)


class Coder:
    """encode / predict / decode callables of one codec, for timing."""

    def __init__(self, name: str, codec, kind: str):
        self.name, self.codec, self.kind = name, codec, kind

    @property
    def generator(self):
        return self.codec.generator

    def params(self) -> Dict[str, float]:
        gen = self.codec.generator
        total = sum(p.numel() for p in gen.parameters())
        pred = 0
        if self.kind == "p2p":
            pred = sum(p.numel() for p in gen.quantizer.predictors.parameters())
        return {"params": total, "predictor_params": pred}

    def encode(self, x):
        if self.kind == "p2p":
            return self.codec.encode(x)
        return self.codec.generator.encode(x, target_bw=0.5)

    def predict(self, codes):
        """P2PSynCodec: plain tokens -> quantized latent (pseudo VQs predicted)."""
        return self.codec.generator.quantizer.decode(codes[0])[0]

    def synthesise(self, latent, length):
        return self.codec.generator.synthesise(latent, length)[0]

    def decode(self, codes, length):
        if self.kind == "p2p":
            return self.codec.decode(codes, length=length)
        return self.codec.generator.decode(codes)


def coders(device: str, which) -> List[Coder]:
    out = []
    if "p2p_paper" in which:
        out.append(Coder("P2PSynCodec student (paper scale)", build_p2p("student.yaml", device), "p2p"))
    if "p2p_tiny" in which:
        out.append(Coder("P2PSynCodec student (tiny)", build_p2p("student_tiny.yaml", device), "p2p"))
    from espnet2.gan_codec.dac.dac import DAC
    from espnet2.gan_codec.encodec.encodec import Encodec
    from espnet2.gan_codec.soundstream.soundstream import SoundStream

    for name, cls in [("SoundStream", SoundStream), ("DAC", DAC), ("EnCodec", Encodec)]:
        if name.lower() in which:
            out.append(Coder(f"ESPnet {name}", _espnet_codec(cls, device), "espnet"))
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


def audio(seconds: float, device: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (0.1 * torch.randn(1, 1, int(seconds * FS), generator=g)).to(device)


# ------------------------------------------------------------------- parts
@torch.no_grad()
def part_size(cs: List[Coder], device: str) -> List[str]:
    rows = ["| codec | generator params | of which predictors | encode GFLOPs/s | prediction GFLOPs/s | decode GFLOPs/s (with prediction) |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    x = audio(10.0, device)
    for c in cs:
        p = c.params()
        codes = c.encode(x)
        enc = gflops(lambda: c.encode(x)) / 10
        dec = gflops(lambda: c.decode(codes, x.shape[-1])) / 10
        pred = gflops(lambda: c.predict(codes)) / 10 if c.kind == "p2p" else None
        rows.append(
            f"| {c.name} | {p['params'] / 1e6:.2f} M | {p['predictor_params'] / 1e6:.2f} M | {enc:.3f} |"
            f" {'-' if pred is None else f'{pred:.3f}'} | {dec:.3f} |"
        )
    return rows


@torch.no_grad()
def part_rtf(cs: List[Coder], device: str, threads: List[int], lengths: List[float], runs: int) -> List[str]:
    rows = ["| codec | threads | input (s) | encode RTF | prediction RTF | decode RTF (with prediction) | encode + decode RTF |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    results = {}
    for n in threads:
        torch.set_num_threads(n)
        for seconds in lengths:
            x = audio(seconds, device)
            for c in cs:
                codes = c.encode(x)
                t_enc = timed(lambda: c.encode(x), runs, device) / seconds
                t_dec = timed(lambda: c.decode(codes, x.shape[-1]), runs, device) / seconds
                t_pred = timed(lambda: c.predict(codes), runs, device) / seconds if c.kind == "p2p" else None
                results[(c.name, n, seconds)] = (t_enc, t_dec)
                rows.append(
                    f"| {c.name} | {n} | {seconds:g} | {t_enc:.4f} | {'-' if t_pred is None else f'{t_pred:.4f}'}"
                    f" | {t_dec:.4f} | {t_enc + t_dec:.4f} |"
                )
                print(rows[-1], flush=True)
    ours = [c.name for c in cs if c.kind == "p2p"]
    theirs = [c.name for c in cs if c.kind != "p2p"]
    if ours and theirs:
        rows += ["", "Ratios (P2PSynCodec time / ESPnet codec time; < 1: ours is faster):", "",
                 "| ours | theirs | threads | input (s) | encode | decode (with prediction) |",
                 "|---|---|---|---|---|---|"]  # fmt: skip
        for o in ours:
            for t in theirs:
                for n in threads:
                    for seconds in lengths:
                        (oe, od), (te, td) = results[(o, n, seconds)], results[(t, n, seconds)]
                        rows.append(f"| {o} | {t} | {n} | {seconds:g} | {oe / te:.3f} | {od / td:.3f} |")
    return rows


@torch.no_grad()
def _memory_child(codec_key: str, seconds: float, device: str) -> None:
    """In a fresh process: peak memory of encode + decode of one codec (printed)."""
    (c,) = coders(device, [codec_key])
    x = audio(seconds, device)
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


def part_memory(device: str, keys: List[str], seconds: float = 60.0) -> List[str]:
    import subprocess

    rows = [f"| codec | extra peak memory of encode + decode of {seconds:g} s (MB) | resident before (MB) |", "|---|---|---|"]
    for key in keys:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.codec_speed", "--only", "_memory", "--codecs", key,
             "--lengths", str(seconds), "--device", device, "--threads", str(torch.get_num_threads())],
            capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("MEMORY ")]
        if not line:
            raise RuntimeError(f"memory measurement of {key} failed: {out.stderr[-1000:]}")
        name, extra, before = line[0][len("MEMORY "):].split("|")
        rows.append(f"| {name} | {float(extra):.0f} | {float(before):.0f} |")
        print(rows[-1], flush=True)
    return rows


@torch.no_grad()
def part_scaling(device: str, runs: int, lengths=(1.0, 10.0, 60.0, 600.0), whole_max: float = 60.0) -> List[str]:
    from espnet2_p2p import chunked

    codec = build_p2p("student.yaml", device)
    rows = ["| input (s) | whole-input encode + decode RTF | chunked (30 s, 2 s context) encode + decode RTF |",
            "|---|---|---|"]  # fmt: skip
    for seconds in lengths:
        x = audio(seconds, device)
        whole = "-"
        r = runs if seconds <= 10 else 1  # long inputs: one timed run after the warm-up
        if seconds <= whole_max:
            whole = f"{timed(lambda: codec.decode(codec.encode(x), length=x.shape[-1]), r, device) / seconds:.4f}"
        flat = x[0, 0].cpu().numpy()

        def chunk_run():
            codes = chunked.encode(codec, lambda s, e: flat[s:e], len(flat))
            chunked.decode(codec, codes, len(flat), lambda w: None)

        # 600 s: one run, no warm-up (the same model and chunk shapes ran just before)
        t = timed(chunk_run, r, device, warmup=seconds < 600)
        rows.append(f"| {seconds:g} | {whole} | {t / seconds:.4f} |")
        print(rows[-1], flush=True)
    return rows


def part_train(device: str, runs: int) -> List[str]:
    import espnet2_p2p  # noqa: F401
    from espnet2.tasks.gan_codec import GANCodecTask

    rows = ["| model (tiny) | batch | steps/s | samples/s (0.5 s each) | memory per batch item (MB) |", "|---|---|---|---|---|"]
    teacher_cfg = yaml.safe_load((ROOT / "conf" / "teacher_tiny.yaml").read_text())
    student_cfg = yaml.safe_load((ROOT / "conf" / "student_tiny.yaml").read_text())
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
    parser.add_argument("--only", default="size,rtf,memory,scaling,train")
    parser.add_argument("--codecs", default="p2p_paper,p2p_tiny,soundstream,dac,encodec")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--lengths", default="10,60")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    args = parser.parse_args(argv)
    parts = args.only.split(",")
    if parts == ["_memory"]:
        torch.set_num_threads(int(args.threads.split(",")[0]))
        _memory_child(args.codecs, float(args.lengths.split(",")[0]), args.device)
        return
    threads = [int(t) for t in args.threads.split(",")]
    lengths = [float(s) for s in args.lengths.split(",")]
    torch.set_num_threads(max(threads))
    header = [
        "# Codec benchmarks",
        "",
        f"`python -m benchmarks.codec_speed {' '.join(sys.argv[1:] if argv is None else argv)}`".replace("  ", " "),
        "",
        f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads available to torch"
        f" ({torch.__version__}); device {args.device}"
        + (f" ({torch.cuda.get_device_name(0)})" if args.device.startswith("cuda") else ""),
        "",
    ]
    out = list(header)
    cs = coders(args.device, args.codecs.split(",")) if {"size", "rtf"} & set(parts) else []
    if "size" in parts:
        out += ["## Size and compute", ""] + part_size(cs, args.device) + [""]
        print("\n".join(out), flush=True)
    if "rtf" in parts:
        out += ["## Real-time factors (seconds of compute per second of audio)", ""]
        out += part_rtf(cs, args.device, threads, lengths, args.runs) + [""]
    if "memory" in parts:
        out += ["## Peak memory (each codec in a fresh process, weights loaded first)", ""]
        out += part_memory(args.device, args.codecs.split(","), max(lengths)) + [""]
    if "scaling" in parts:
        torch.set_num_threads(max(threads))
        out += ["## Scaling with input length (paper-scale student)", ""] + part_scaling(args.device, args.runs) + [""]
    if "train" in parts:
        torch.set_num_threads(max(threads))
        out += ["## Training throughput", ""] + part_train(args.device, args.runs) + [""]
    text = "\n".join(out)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(text)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
