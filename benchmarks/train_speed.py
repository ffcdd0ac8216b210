#!/usr/bin/env python3
"""Training throughput of the small P2PSynCodec configs on this CPU (issue 27, item 1).

    python -m benchmarks.train_speed                              # RESULTS_train_speed.md
    python -m benchmarks.train_speed --compare /tmp/before        # also an older checkout
    python -m benchmarks.train_speed --configs conf/teacher_small.yaml --threads 1 --steps 20

Each measurement runs in a fresh process: the model is built from the config through
ESPnet's GAN codec task with its own optimizers (``build_optimizers``), and a step is what
ESPnet's GAN trainer does with a batch (generator turn, backward, optimizer step, then the
discriminator turn), on batches of 8 x 0.5 s cut from ``--wav_scp`` (default: the
speechocean762 recipe's training list when stages 1-2 have run there, else white noise at
-20 dBFS, said in the table). The student is built from a teacher that took one step.

Rows: steps/s with 1 and 2 threads of one training (and the milliseconds of the
generator's forward, its backward and the optimizer step), and, with ``--concurrent``, the
summed steps/s of two 1-thread trainings run at the same time (how the recipe's two
queues use the 2 cores). ``--compare DIR`` measures the package found in DIR (an older
checkout: ``git worktree add DIR COMMIT``) in the same run, so before/after share a machine
state. Stop other work on the machine first: the numbers are only as quiet as the CPU.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Optional

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCP = ROOT / "egs2" / "speechocean762" / "codec1" / "dump" / "train" / "wav.scp"
CHUNK = 8000
BATCH = 8


def _batches(wav_scp: Optional[Path], seed: int = 0):
    """An endless generator of (8, 8000) float32 batches."""
    import numpy as np
    import soundfile as sf
    import torch

    rng = np.random.default_rng(seed)
    clips = []
    if wav_scp is not None and wav_scp.is_file():
        for line in wav_scp.read_text().splitlines()[:64]:
            path = Path(line.split(maxsplit=1)[1])
            path = path if path.is_absolute() else wav_scp.parent.parent.parent / path
            audio = sf.read(str(path), dtype="float32")[0]
            if len(audio) > CHUNK:
                clips.append(audio)
    while True:
        if clips:
            rows = []
            for _ in range(BATCH):
                clip = clips[rng.integers(len(clips))]
                start = rng.integers(0, len(clip) - CHUNK)
                rows.append(clip[start : start + CHUNK])
            yield torch.from_numpy(np.stack(rows))
        else:
            yield 0.1 * torch.from_numpy(rng.standard_normal((BATCH, CHUNK)).astype("float32"))


def measure_one(config: Path, threads: int, steps: int, warmup: int, wav_scp: Optional[Path], profile: int = 0) -> Dict:
    """Build, warm up and time ``steps`` training steps in this process; with ``profile``,
    print torch's profile of that many more steps (operators by their own CPU time)."""
    import torch

    from espnet2_p2p.utils.config import load_config

    torch.set_num_threads(threads)
    from espnet2.tasks.gan_codec import GANCodecTask

    import espnet2_p2p  # noqa: F401
    from benchmarks.codec_speed import _task_args

    torch.manual_seed(0)
    cfg = load_config(config)
    data = _batches(wav_scp)
    conf = cfg["codec_conf"]
    if conf.get("quantizer_mode") == "student":
        teacher_cfg = dict(
            cfg,
            codec_conf={
                k: v
                for k, v in conf.items()
                if k not in ("quantizer_mode", "predictor_conf", "pseudo_codeword", "finetune_decoder", "lambda_ce")
            },
        )
        teacher = GANCodecTask.build_model(_task_args(teacher_cfg))
        teacher.train()
        teacher(next(data), forward_generator=True)
        model = GANCodecTask.build_model(_task_args(cfg))
        model.load_state_dict(teacher.state_dict(), strict=False)
    else:
        model = GANCodecTask.build_model(_task_args(cfg))
    model.train()
    optimizers = GANCodecTask.build_optimizers(_task_args(cfg), model)
    parts = {"forward": [], "backward": [], "optimizer": [], "step": []}

    def step(record: bool):
        x = next(data)
        t0 = time.perf_counter()
        out = model(x, forward_generator=True)
        t1 = time.perf_counter()
        optimizers[0].zero_grad()
        out["loss"].backward()
        t2 = time.perf_counter()
        optimizers[0].step()
        t3 = time.perf_counter()
        out = model(x, forward_generator=False)
        if out["loss"].requires_grad and len(optimizers) > 1:
            optimizers[1].zero_grad()
            out["loss"].backward()
            optimizers[1].step()
        t4 = time.perf_counter()
        if record:
            for key, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t0)):
                parts[key].append(value)

    for _ in range(warmup):
        step(False)
    start = time.perf_counter()
    for _ in range(steps):
        step(True)
    wall = time.perf_counter() - start
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(profile):
                step(False)
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
    return {
        "steps_per_s": steps / wall,
        **{f"{k}_ms": 1000 * statistics.median(v) for k, v in parts.items()},
        "data": "speech" if wav_scp is not None and wav_scp.is_file() else "noise",
    }


def _spawn(package_dir: Path, config: Path, threads: int, args) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join([str(package_dir), str(ROOT)])
    # run by path: ``-m`` would put the working folder ahead of PYTHONPATH
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--one",
        str(config),
        "--threads",
        str(threads),
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
        "--wav_scp",
        str(args.wav_scp),
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT))


def _result(proc: subprocess.Popen) -> Dict:
    out, err = proc.communicate()
    if proc.returncode != 0:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        raise SystemExit(f"train_speed: a measurement failed (exit {proc.returncode}): {last[:300]}")
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="conf/teacher_small.yaml,conf/student_small.yaml")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--concurrent",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also two 1-thread trainings at once (summed steps/s)",
    )
    parser.add_argument("--compare", type=Path, help="an older checkout measured in the same run")
    parser.add_argument("--wav_scp", type=Path, default=DEFAULT_SCP)
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS_train_speed.md")
    parser.add_argument(
        "--profile", type=int, default=0, help="with --one: print torch's operator profile of this many more steps"
    )
    parser.add_argument("--one", dest="_one", type=Path, help="measure one config in this process (JSON)")
    args = parser.parse_args(argv)
    if args._one is not None:
        print(
            json.dumps(measure_one(args._one, int(args.threads), args.steps, args.warmup, args.wav_scp, args.profile))
        )
        return
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    threads = [int(t) for t in args.threads.split(",")]
    codes = [("this checkout", ROOT)] + ([("--compare", args.compare.resolve())] if args.compare else [])
    rows = [
        "| config | code | threads | processes | steps/s (sum) | forward ms | backward ms | optimizer ms | data |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    speed: Dict = {}
    for config in args.configs.split(","):
        for label, package in codes:
            # each checkout's own config (an older one may set other optimizer options)
            path = (package / config) if not Path(config).is_absolute() else Path(config)
            runs = [(t, 1) for t in threads] + ([(1, 2)] if args.concurrent else [])
            for t, procs in runs:
                children = [_spawn(package, path, t, args) for _ in range(procs)]
                try:
                    results = [_result(p) for p in children]
                finally:
                    for child in children:  # a failed measurement leaves no other one running
                        if child.poll() is None:
                            child.kill()
                total = sum(r["steps_per_s"] for r in results)
                speed[(config, label, t, procs)] = total
                r = results[0]
                rows.append(
                    f"| {config} | {label} | {t} | {procs} | {total:.2f} | {r['forward_ms']:.1f} |"
                    f" {r['backward_ms']:.1f} | {r['optimizer_ms']:.1f} | {r['data']} |"
                )
                print(rows[-1], flush=True)
    from benchmarks.provenance import RANDOM

    lines = [
        RANDOM,
        "",
        "# Training throughput on this CPU",
        "",
        f"`python -m benchmarks.train_speed {' '.join(argv if argv is not None else sys.argv[1:])}`".replace("  ", " "),
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs, {platform.processor() or 'cpu'};"
        f" batch {BATCH} x {CHUNK / 16000:g} s, {args.steps} timed steps after {args.warmup}; forward / backward /"
        " optimizer: medians of one process's generator turn.",
        "",
        *rows,
    ]
    if args.compare:
        lines += ["", "Speed-up of this checkout over `--compare` (steps/s ratio):", ""]
        for (config, label, t, procs), value in speed.items():
            if label == "this checkout" and (config, "--compare", t, procs) in speed:
                lines.append(
                    f"- {config}, {t} thread(s) x {procs}: {value / speed[(config, '--compare', t, procs)]:.2f}x"
                )
    args.output.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
