"""What an adversarial training step costs against a mel-only one, on one CPU thread.

    python -m benchmarks.adversarial_step [--config conf/student_long_gan.yaml] [--rounds 5]
        [--output benchmarks/RESULTS_adversarial_step.md]

One step is what ESPnet's GAN trainer does with a batch of 8 x 0.5 s: the generator turn
(forward, backward, optimizer step) and the discriminator turn. Three variants of the same
model (the config's, built by ESPnet's GAN codec task from the shipped student's weights
when the config is a student's) are timed in turns, ``--rounds`` times each, medians:

- mel-only: ``lambda_adv`` and ``lambda_feat_match`` 0 (no discriminator);
- adversarial as computed before issue 40: every discriminator pass afresh, the
  discriminator's weights differentiated in the generator turn too, ESPnet's 2-D period
  discriminators;
- adversarial, passes shared: no weight-gradients of the discriminator in the generator
  turn, its passes on the real and the decoded audio kept for the discriminator turn
  (the same updates: tests/codec/test_gan_turns.py), still ESPnet's 2-D convolutions;
- adversarial as now: the same, with the period discriminators computed as 1-D
  convolutions (``PeriodDiscriminator1d``; the same maps and gradients, tested there too)
  and the MDCT discriminators' maps channels-last.

The machine's load average is printed with the table: the ratios are the figures to read.
"""

import argparse
import os
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "conf" / "student_long_gan.yaml")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps timed per round and variant")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "RESULTS_adversarial_step.md")
    args = parser.parse_args(argv)
    import argparse as ap

    import torch
    from espnet2.tasks.gan_codec import GANCodecTask

    from espnet2_p2p.codec.shared import gan_codec
    from espnet2_p2p.model_io import _read_state_dict, resolve
    from espnet2_p2p.pretrained import default_model
    from espnet2_p2p.utils.config import load_config

    torch.set_num_threads(1)
    _, _, weights = resolve(default_model(), "student")
    shipped = _read_state_dict(weights, "the shipped student")

    def model_of(adversarial: bool):
        config = load_config(args.config)
        if not adversarial:
            config["codec_conf"].update(lambda_adv=0.0, lambda_feat_match=0.0)
        task = ap.Namespace(
            codec=config["codec"],
            codec_conf=config["codec_conf"],
            model_conf={},
            optim=config["optim"],
            optim_conf=config["optim_conf"],
            optim2=config["optim2"],
            optim2_conf=config["optim2_conf"],
            sharded_ddp=False,
        )
        torch.manual_seed(0)
        model = GANCodecTask.build_model(task)
        own = model.state_dict()
        model.load_state_dict({k: v for k, v in shipped.items() if k in own and own[k].shape == v.shape}, strict=False)
        return model.train(), GANCodecTask.build_optimizers(task, model)

    def step(model, optimizers, batch):
        for turn, optimizer in ((True, optimizers[0]), (False, optimizers[1])):
            out = model(batch, forward_generator=turn)
            if out["loss"].requires_grad:
                out["loss"].backward()
                optimizer.step()
            for o in optimizers:
                o.zero_grad()

    class Plain:
        """The computation before issue 40, patched in for the 'before' variant."""

        def adversarial_terms(self, audio_hat, audio, keep=False):
            p_hat = self.discriminator(audio_hat)
            with torch.no_grad():
                p = self.discriminator(audio)
            adv, fm = self.generator_adv_loss(p_hat), self.feat_match_loss(p_hat, p)
            return self.lambda_adv * adv + self.lambda_feat_match * fm, dict(
                adv_loss=adv.item(), feat_match_loss=fm.item()
            )

    from espnet2.gan_tts.hifigan.hifigan import HiFiGANPeriodDiscriminator

    variants = {
        "mel-only": model_of(False),
        "adversarial, before": model_of(True),
        "adversarial, passes shared": model_of(True),
        "adversarial, now": model_of(True),
    }
    for name in ("adversarial, before", "adversarial, passes shared"):
        disc = variants[name][0].codec.discriminator
        for d in disc.mpd.discriminators:
            d.__class__ = HiFiGANPeriodDiscriminator  # ESPnet's forward: 2-D convolutions
        for d in disc.mrd.discriminators:
            d.channels_last = False
    now_terms = gan_codec.GANCodecBase.adversarial_terms
    batch = 0.1 * torch.randn(8, 8000, generator=torch.Generator().manual_seed(1))
    times = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, (model, optimizers) in variants.items():
            before = name.endswith("before")
            gan_codec.GANCodecBase.adversarial_terms = Plain.adversarial_terms if before else now_terms
            model.codec._real_outputs.enabled = model.codec._fake_outputs.enabled = not before
            step(model, optimizers, batch)  # warm
            start = time.perf_counter()
            for _ in range(args.steps):
                step(model, optimizers, batch)
            times[name].append((time.perf_counter() - start) / args.steps)
    gan_codec.GANCodecBase.adversarial_terms = now_terms
    base = statistics.median(times["mel-only"])

    # where a discriminator pass goes: each sub-discriminator's forward, and its backward
    # (to its weights and its input), on the batch, in the "now" model
    disc = variants["adversarial, now"][0].codec.discriminator
    parts = [(f"period {d.period}", d) for d in disc.mpd.discriminators]
    parts += [(f"MDCT {d.mdct.frame_length}", d) for d in disc.mrd.discriminators]
    audio = batch.unsqueeze(1).requires_grad_(True)
    split = {name: ([], []) for name, _ in parts}
    for _ in range(args.rounds):
        for name, d in parts:
            start = time.perf_counter()
            maps = d(audio)
            middle = time.perf_counter()
            sum(m.square().mean() for m in maps).backward()
            split[name][0].append(middle - start)
            split[name][1].append(time.perf_counter() - middle)
    disc.zero_grad(set_to_none=True)
    from benchmarks.provenance import RANDOM
    from benchmarks.tables import publish

    lines = [
        RANDOM,
        "",
        "# An adversarial step against a mel-only one (one CPU thread)",
        "",
        f"`python -m benchmarks.adversarial_step --config {args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config}"
        f" --rounds {args.rounds} --steps {args.steps}`: a step = generator turn + discriminator turn on"
        f" 8 x 0.5 s, medians of {args.rounds} rounds of {args.steps} steps each, variants in turns; load"
        f" average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs when it ended.",
        "",
        "| variant | s per step | x mel-only |",
        "|---|---|---|",
    ]
    for name in variants:
        t = statistics.median(times[name])
        lines.append(f"| {name} | {t:.3f} | {t / base:.2f} |")
    lines += [
        "",
        "One pass of each discriminator (as now) over the batch, medians in ms; the backward",
        "reaches the weights and the input. A step runs each forward twice (decoded and real",
        "audio), one backward to the input (the generator turn) and two to the weights (the",
        "discriminator turn, decoded and real).",
        "",
        "| discriminator | forward | backward |",
        "|---|---|---|",
    ]
    total = [0.0, 0.0]
    for name, (fwd, bwd) in split.items():
        f, b = statistics.median(fwd), statistics.median(bwd)
        total[0] += f
        total[1] += b
        lines.append(f"| {name} | {1000 * f:.1f} | {1000 * b:.1f} |")
    lines.append(f"| all | {1000 * total[0]:.1f} | {1000 * total[1]:.1f} |")
    text = "\n".join(lines) + "\n"
    return publish(args.output, text)


if __name__ == "__main__":
    raise SystemExit(main())
