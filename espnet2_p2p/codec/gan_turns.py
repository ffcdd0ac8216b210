"""The adversarial parts of a GAN codec's two turns, shared by this package's codecs.

ESPnet's GAN trainer calls a codec twice per batch: a generator turn (``optim_idx`` 0)
and a discriminator turn (``optim_idx`` 1). A codec using these helpers has
``discriminator``, ``generator_adv_loss``, ``discriminator_adv_loss``,
``feat_match_loss``, ``lambda_adv``, ``lambda_feat_match`` and a ``uses_discriminator``
property.
"""

from typing import Any, Callable, Dict, Tuple

import torch
from espnet2.torch_utils.device_funcs import force_gatherable


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
