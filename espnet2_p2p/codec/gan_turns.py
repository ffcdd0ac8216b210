"""What this package's GAN codecs share: loss modules, the two turns, input shapes.

ESPnet's GAN trainer calls a codec twice per batch: a generator turn (``optim_idx`` 0)
and a discriminator turn (``optim_idx`` 1). A codec using these helpers has
``discriminator``, ``generator_adv_loss``, ``discriminator_adv_loss``,
``feat_match_loss`` (see :func:`attach_gan_losses`), ``lambda_adv``,
``lambda_feat_match`` and a ``uses_discriminator`` property.
"""

from typing import Any, Callable, Dict, Optional, Tuple

import torch
from espnet2.gan_tts.hifigan.loss import (
    DiscriminatorAdversarialLoss,
    FeatureMatchLoss,
    GeneratorAdversarialLoss,
)
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet2_p2p.codec.p2psyn.discriminator import P2PSynDiscriminator
from espnet2_p2p.codec.p2psyn.loss import MultiResolutionLogMelLoss

TURNS = ("generator", "discriminator")


def attach_gan_losses(
    codec: torch.nn.Module,
    sampling_rate: int,
    discriminator_params: Optional[Dict[str, Any]],
    mel_loss_params: Optional[Dict[str, Any]],
    adv_loss_type: str,
) -> None:
    """Give ``codec`` its discriminator, multi-resolution mel loss and ESPnet's
    adversarial / feature-matching losses (the same parts in both codecs)."""
    codec.discriminator = P2PSynDiscriminator(**(discriminator_params or {}))
    codec.mel_loss = MultiResolutionLogMelLoss(fs=sampling_rate, **(mel_loss_params or {}))
    codec.generator_adv_loss = GeneratorAdversarialLoss(loss_type=adv_loss_type)
    codec.discriminator_adv_loss = DiscriminatorAdversarialLoss(loss_type=adv_loss_type)
    codec.feat_match_loss = FeatureMatchLoss()


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

    def get(self, audio: torch.Tensor, turn: str, compute: Callable[[], Dict[str, Any]], store: bool) -> Dict[str, Any]:
        """``compute()``'s outputs for ``audio``, or the other turn's cached ones;
        the result is kept for the other turn when ``store`` (training) is set."""
        if turn not in TURNS:
            raise ValueError(f"turn must be one of {TURNS}, got {turn!r}")
        entry, self._entry = self._entry, None
        if (
            entry is not None
            and entry[2] != turn
            and entry[0].shape == audio.shape
            and torch.equal(entry[0], audio)
        ):
            return entry[1]
        out = compute()
        if store and self.enabled:
            self._entry = (audio, out, turn)
        return out


def adversarial_terms(codec, audio_hat: torch.Tensor, audio: torch.Tensor) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Generator turn: weighted adversarial + feature-matching loss, and their stats."""
    p_hat = codec.discriminator(audio_hat)
    with torch.no_grad():
        p = codec.discriminator(audio)
    adv_loss = codec.generator_adv_loss(p_hat)
    fm_loss = codec.feat_match_loss(p_hat, p)
    loss = codec.lambda_adv * adv_loss + codec.lambda_feat_match * fm_loss
    return loss, dict(adv_loss=adv_loss.item(), feat_match_loss=fm_loss.item())


def discriminator_turn(codec, audio: torch.Tensor, audio_hat: Callable[[], torch.Tensor]) -> Dict[str, Any]:
    """The discriminator turn for ESPnet's trainer; ``audio_hat()`` gives the generator's
    output for ``audio`` (only called when the discriminator trains this stage)."""
    if not codec.uses_discriminator:
        # ESPnet's GAN trainer always runs this turn; a stage that trains no
        # discriminator answers with a zero loss that touches no parameter.
        loss = torch.zeros((), device=audio.device, requires_grad=codec.training)
        stats = dict(discriminator_loss=0.0)
    else:
        real_loss, fake_loss = codec.discriminator_adv_loss(
            codec.discriminator(audio_hat().detach()), codec.discriminator(audio)
        )
        loss = real_loss + fake_loss
        stats = dict(discriminator_loss=loss.item(), real_loss=real_loss.item(), fake_loss=fake_loss.item())
    loss, stats, weight = force_gatherable((loss, stats, audio.shape[0]), loss.device)
    return dict(loss=loss, stats=stats, weight=weight, optim_idx=1)
