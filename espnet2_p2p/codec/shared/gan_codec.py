"""The GAN codec base of this package: ESPnet's two training turns, written once.

ESPnet's GAN trainer calls a codec twice per batch: a generator turn (``optim_idx`` 0)
and a discriminator turn (``optim_idx`` 1). :class:`GANCodecBase` (a subclass of ESPnet's
``AbsGANCodec`` and of :class:`~espnet2_p2p.codec.base.CodecInterface`) holds what both
codecs of this package do the same way: the shape check of ``forward``, the dispatch to
the turns, one generator run shared by the two turns of a batch (:class:`TurnCache`),
the adversarial and feature-matching terms, the discriminator turn, and the stats tail
ESPnet's trainer reads. A codec implements :meth:`GANCodecBase.generator_pass` (one run
of its generator) and :meth:`GANCodecBase.generator_loss` (its own loss terms).
"""

from abc import abstractmethod
from contextlib import contextmanager
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from espnet2.gan_codec.abs_gan_codec import AbsGANCodec
from espnet2.gan_tts.hifigan.loss import (
    DiscriminatorAdversarialLoss,
    FeatureMatchLoss,
    GeneratorAdversarialLoss,
)
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet2_p2p.codec.base import CodecInterface
from espnet2_p2p.codec.shared.discriminator import P2PSynDiscriminator
from espnet2_p2p.codec.shared.loss import MultiResolutionLogMelLoss
from espnet2_p2p.utils.checks import check_audio_batch

TURNS = ("generator", "discriminator")


def as_audio_batch(x: torch.Tensor) -> torch.Tensor:
    """(T,), (B, T) or (B, 1, T) -> (B, 1, T) (a view; the caller keeps ``x.shape``)."""
    if x.dim() == 1:
        return x.view(1, 1, -1)
    return x.unsqueeze(1) if x.dim() == 2 else x


class TurnCache:
    """The generator's outputs of one turn, for the *other* turn on the same batch.

    ESPnet's trainer runs a generator and a discriminator turn on every batch, in
    either order; running the generator once keeps one quantizer update per batch.
    An entry is used at most once, only by the turn that did not fill it and only for
    an equal batch, so a second call of the same turn recomputes (its graph may have
    been freed by the first turn's backward).
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._entry = None

    def clear(self) -> None:
        self._entry = None

    def holds(self, audio: torch.Tensor, turn: str) -> bool:
        """Whether :meth:`get` of ``turn`` on ``audio`` would take the other turn's entry."""
        entry = self._entry
        return entry is not None and entry[2] != turn and entry[0].shape == audio.shape and torch.equal(entry[0], audio)

    def get(self, audio: torch.Tensor, turn: str, compute: Callable[[], Dict[str, Any]], store: bool) -> Dict[str, Any]:
        """``compute()``'s outputs for ``audio``, or the other turn's cached ones;
        the result is kept for the other turn when ``store`` (training) is set."""
        if turn not in TURNS:
            raise ValueError(f"turn must be one of {TURNS}, got {turn!r}")
        hit = self.holds(audio, turn)
        entry, self._entry = self._entry, None
        if hit:
            return entry[1]
        out = compute()
        if store and self.enabled:
            self._entry = (audio, out, turn)
        return out


@contextmanager
def frozen(module: torch.nn.Module):
    """Within the block, ``module``'s parameters need no gradient (inputs still get one);
    each parameter's own setting comes back after it."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for p in params:
            p.requires_grad_(True)


class GANCodecBase(CodecInterface, AbsGANCodec):
    """A codec trained by ESPnet's GAN trainer with this package's discriminator and losses.

    A subclass calls :meth:`setup_gan` in its ``__init__`` and implements
    :meth:`generator_pass` and :meth:`generator_loss`; it may override
    :attr:`uses_discriminator` (a stage that trains no discriminator).
    """

    def setup_gan(
        self,
        sampling_rate: int,
        discriminator_params: Optional[Dict[str, Any]],
        mel_loss_params: Optional[Dict[str, Any]],
        adv_loss_type: str,
        lambda_adv: float,
        lambda_feat_match: float,
        cache_generator_outputs: bool = True,
    ) -> None:
        """The discriminator, the multi-resolution mel loss, ESPnet's adversarial and
        feature-matching losses with their weights, and the turn cache."""
        self.discriminator = P2PSynDiscriminator(**(discriminator_params or {}))
        self.mel_loss = MultiResolutionLogMelLoss(fs=sampling_rate, **(mel_loss_params or {}))
        self.generator_adv_loss = GeneratorAdversarialLoss(loss_type=adv_loss_type)
        self.discriminator_adv_loss = DiscriminatorAdversarialLoss(loss_type=adv_loss_type)
        self.feat_match_loss = FeatureMatchLoss()
        self.lambda_adv = lambda_adv
        self.lambda_feat_match = lambda_feat_match
        self._turns = TurnCache(enabled=cache_generator_outputs)
        self._real_outputs = TurnCache(enabled=cache_generator_outputs)
        self._fake_outputs = TurnCache(enabled=cache_generator_outputs)

    @property
    def uses_discriminator(self) -> bool:
        """Whether the discriminator takes part in training (an adversarial weight > 0)."""
        return self.lambda_adv > 0 or self.lambda_feat_match > 0

    # ------------------------------------------------------- for subclasses
    @abstractmethod
    def generator_pass(self, audio: torch.Tensor) -> Dict[str, Any]:
        """One run of the generator on a batch (B, 1, T): a dict its :meth:`generator_loss`
        reads, with ``audio_hat`` (B, 1, T) when it synthesised audio."""

    @abstractmethod
    def generator_loss(
        self, audio: torch.Tensor, out: Dict[str, Any], **inputs
    ) -> Tuple[torch.Tensor, Dict[str, float]]:
        """The codec's own loss terms of a generator turn and their stats; ``inputs`` are
        the batch's further inputs (SecoustiCodec: ``frame_labels``)."""

    # ------------------------------------------------------------ the turns
    def forward(self, audio: torch.Tensor, forward_generator: bool = True, **inputs) -> Dict[str, Any]:
        """Generator or discriminator loss for ESPnet's GAN trainer.

        Args:
            audio (Tensor): Audio batch (B, T) or (B, 1, T); a single (T,) is refused.
            forward_generator (bool): Generator turn (True) or discriminator turn.
            **inputs: The batch's further inputs, passed to :meth:`generator_loss`.

        Returns:
            Dict[str, Any]: loss, stats, weight, optim_idx (0 generator, 1 discriminator).
        """
        audio = audio.unsqueeze(1) if audio.dim() == 2 else audio
        check_audio_batch(audio)
        if forward_generator:
            return self._forward_generator(audio, inputs)
        return self._forward_discriminator(audio)

    def generator_outputs(self, audio: torch.Tensor, turn: str) -> Dict[str, Any]:
        """:meth:`generator_pass` of ``audio``, shared by the two turns of a batch."""
        return self._turns.get(audio, turn, lambda: self.generator_pass(audio), self.training)

    def adversarial_terms(
        self, audio_hat: torch.Tensor, audio: torch.Tensor, keep: bool = False
    ) -> Tuple[torch.Tensor, Dict[str, float]]:
        """Generator turn: weighted adversarial + feature-matching loss, and their stats.

        Savings that leave every update as it was (issue 40: the adversarial step cost
        2.8-5.4 times a mel-only one on a CPU; ``benchmarks/adversarial_step.py``):

        - the discriminator's weights get no gradient here (ESPnet's trainer clears them
          after this turn unused): the loss's gradient reaches the generator through one
          backward to the discriminator's input (``torch.autograd.grad``);
        - with ``keep`` (the discriminator turn of this batch is still to come, so its
          weights will be the same), the discriminator's passes on the decoded audio
          (detached, as that turn's is) and on the real audio are kept, with their graphs,
          for that turn, which then runs no pass of its own.

        Under autocast (AMP) the generator's gradient is left to the trainer's scaled
        backward, the discriminator's weights frozen meanwhile, and nothing is kept for
        the decoded audio: an unscaled backward in half precision could underflow.
        """
        plain = not torch.is_grad_enabled() or torch.is_autocast_enabled(audio_hat.device.type)
        if plain:  # validation, or AMP: the trainer's backward takes the gradient
            with frozen(self.discriminator):
                p_hat = self.discriminator(audio_hat)
        else:
            fake = audio_hat.detach().requires_grad_(True)
            p_hat = self.discriminator(fake)
        p = self._real_outputs.get(audio, "generator", lambda: self.discriminator(audio), keep)
        adv_loss = self.generator_adv_loss(p_hat)
        fm_loss = self.feat_match_loss(p_hat, p)  # ESPnet's loss detaches the real features
        loss = self.lambda_adv * adv_loss + self.lambda_feat_match * fm_loss
        stats = dict(adv_loss=adv_loss.item(), feat_match_loss=fm_loss.item())
        if plain:
            return loss, stats
        keep = keep and self._fake_outputs.enabled
        if keep:  # keyed by the decoded audio: only that turn's own audio_hat takes it
            self._fake_outputs.get(audio_hat.detach(), "generator", lambda: {"p_hat": p_hat}, True)
        (grad,) = torch.autograd.grad(loss, fake, retain_graph=keep)
        # the loss's value, and its gradient with respect to the decoded audio
        through = (audio_hat * grad).sum()
        return through + (loss - through).detach(), stats

    def _forward_generator(self, audio: torch.Tensor, inputs: Dict[str, Any]) -> Dict[str, Any]:
        # the discriminator turn of this batch came first when it left its outputs here
        discriminator_done = self._turns.holds(audio, "generator")
        out = self.generator_outputs(audio, "generator")
        loss, stats = self.generator_loss(audio, out, **inputs)
        if self.uses_discriminator and "audio_hat" in out:
            keep = self.training and not discriminator_done
            adv, adv_stats = self.adversarial_terms(out["audio_hat"], audio, keep=keep)
            loss = loss + adv
            stats.update(adv_stats)
        stats.update(loss=loss.item())
        loss, stats, weight = force_gatherable((loss, stats, audio.shape[0]), loss.device)
        return dict(loss=loss, stats=stats, weight=weight, optim_idx=0)

    def _forward_discriminator(self, audio: torch.Tensor) -> Dict[str, Any]:
        if not self.uses_discriminator:
            # ESPnet's GAN trainer always runs this turn; a stage that trains no
            # discriminator answers with a zero loss that touches no parameter.
            self._turns.clear()
            self._real_outputs.clear()
            self._fake_outputs.clear()
            loss = torch.zeros((), device=audio.device, requires_grad=self.training)
            stats = dict(discriminator_loss=0.0)
        else:
            audio_hat = self.generator_outputs(audio, "discriminator")["audio_hat"]
            # the real pass of the generator turn, if it came first on this batch (then
            # the weights are unchanged); its features there were used detached
            real = self._real_outputs.get(audio, "discriminator", lambda: self.discriminator(audio), False)
            fake = self._fake_outputs.get(
                audio_hat.detach(), "discriminator", lambda: {"p_hat": self.discriminator(audio_hat.detach())}, False
            )["p_hat"]
            real_loss, fake_loss = self.discriminator_adv_loss(fake, real)
            loss = real_loss + fake_loss
            stats = dict(discriminator_loss=loss.item(), real_loss=real_loss.item(), fake_loss=fake_loss.item())
        loss, stats, weight = force_gatherable((loss, stats, audio.shape[0]), loss.device)
        return dict(loss=loss, stats=stats, weight=weight, optim_idx=1)
