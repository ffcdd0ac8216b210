"""Input checks shared by the codecs, so bad input fails early with a clear message."""

import torch

from espnet2_p2p.errors import AudioInputError


def check_audio_batch(x: torch.Tensor, name: str = "audio") -> None:
    """Raise :class:`~espnet2_p2p.errors.AudioInputError` (a ``ValueError``) unless ``x``
    is a finite, non-empty, floating-point (B, 1, T) waveform batch."""
    if not isinstance(x, torch.Tensor):
        raise AudioInputError(f"{name} must be a torch.Tensor (B, 1, T), got {type(x).__name__}")
    if x.dim() != 3 or x.shape[1] != 1:
        raise AudioInputError(
            f"{name} must be a mono batch (B, 1, T), got shape {tuple(x.shape)};"
            " add the batch and channel axes with x.view(1, 1, -1)"
        )
    if not x.dtype.is_floating_point:
        raise AudioInputError(f"{name} must be floating point, got {x.dtype}")
    if x.shape[0] == 0:
        raise AudioInputError(f"{name} is an empty batch: shape {tuple(x.shape)}")
    if x.shape[-1] == 0:
        raise AudioInputError(f"{name} is empty: 0 samples (shape {tuple(x.shape)})")
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        n_nan = int(torch.isnan(x).sum())
        n_inf = int(bad.sum()) - n_nan
        raise AudioInputError(
            f"{name} contains non-finite samples: {n_nan} NaN and {n_inf} Inf"
            f" of {x.numel()}"
        )


def check_counts(values, batch: int, max_value: int, name: str):
    """Per-item counts (lengths, frames) as a LongTensor (B,), each in [1, max_value]; None
    stays None; else an AudioInputError (a ValueError) naming ``name``."""
    if values is None:
        return None
    values = torch.as_tensor(values, dtype=torch.long).view(-1)
    if values.numel() != batch or bool((values < 1).any()) or int(values.max()) > max_value:
        raise AudioInputError(f"{name} must hold {batch} values in [1, {max_value}], got {values.tolist()}")
    return values
