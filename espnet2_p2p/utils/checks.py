"""Input checks shared by every entry point (the coders of both backends, the tokenizer,
the codecs, the command line), so bad input fails early with one clear message.

- Audio: :func:`check_sample_type` (real floating-point samples only: int16 PCM, bool,
  complex or object arrays are refused), :func:`check_audio_array` (mono samples (T,) as
  numpy float32, finite, not empty), :func:`check_audio_batch` (a torch batch (B, 1, T)),
  :func:`checked_reader` (a ``read(start, end)`` of the coders' contract, each piece
  checked), :func:`check_counts` (per-item lengths). They raise
  :class:`~espnet2_p2p.errors.AudioInputError`.
- Tokens: :func:`integer_array` (integers only: float, bool, object and string arrays are
  refused, as are values that do not fit int64) and :func:`check_token_array` (tokens
  (streams, frames) within their codebooks, as int64). They raise
  :class:`~espnet2_p2p.errors.TokenError`.

numpy only; torch tensors are taken as they are (torch is imported for them alone), so
the ONNX Runtime backend checks its input without torch.
"""

from typing import Callable, Optional, Sequence

import numpy as np

from espnet2_p2p.errors import AudioInputError, TokenError
from espnet2_p2p.utils.tokens import first_bad_token


def _is_tensor(x) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "dtype") and hasattr(x, "detach")


def _dtype_name(x) -> str:
    return str(x.dtype).replace("torch.", "")


def _as_numpy(x, name: str, error) -> np.ndarray:
    """``x`` (an array, a tensor on any device, a list) as a numpy array, else ``error``."""
    if _is_tensor(x):
        x = x.detach().cpu()
        return x.float().numpy() if _dtype_name(x) == "bfloat16" else x.numpy()
    try:
        return np.asarray(x)
    except (ValueError, TypeError, OverflowError) as e:  # ragged lists, 2**70 ...
        raise error(f"{name} is not an array of numbers: {str(e).splitlines()[0][:200]}") from None


def check_sample_type(audio, name: str = "audio"):
    """``audio`` if its samples are real floating-point numbers (a tensor, an array or a
    list), else :class:`AudioInputError`: integer samples (int16 from a WAV file) would be
    coded as values up to 32767, and bool, complex or object samples mean nothing."""
    kind = _dtype_name(audio) if _is_tensor(audio) else str(_as_numpy(audio, name, AudioInputError).dtype)
    if not kind.startswith(("float", "bfloat")):
        hint = "; divide integer PCM by its full scale (32768 for int16)" if kind.startswith(("int", "uint")) else ""
        raise AudioInputError(f"{name} must hold floating-point samples in [-1, 1], got {kind}{hint}")
    return audio


def check_audio_array(audio, name: str = "audio", sample_rate: Optional[int] = None) -> np.ndarray:
    """Mono samples (T,) as a float32 numpy array, else :class:`AudioInputError`: samples
    that are not real floats (:func:`check_sample_type`), a shape other than (T,) (a single
    number, channels), no samples, or samples that are NaN, Inf or beyond float32 (the
    first is named, in seconds with ``sample_rate``)."""
    check_sample_type(audio, name)
    arr = _as_numpy(audio, name, AudioInputError)
    if arr.ndim != 1:
        what = "a single number" if arr.ndim == 0 else f"shape {arr.shape}"
        raise AudioInputError(f"{name} must be mono samples (T,), got {what}; downmix channels first")
    if arr.size == 0:
        raise AudioInputError(f"{name} is empty: 0 samples")
    with np.errstate(over="ignore"):  # float64 beyond float32's range becomes Inf: refused next
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(arr)
    if not finite.all():
        first = int(np.argmin(finite))
        where = f"{first / sample_rate:.3f} s (sample {first})" if sample_rate else f"sample {first}"
        raise AudioInputError(f"{name}: non-finite sample (NaN, Inf or beyond float32) at {where}")
    return arr


def whole_number(value, name: str, error=AudioInputError, low: int = 1) -> int:
    """``value`` as an int if it is a whole number >= ``low`` (an int, a numpy or 0-d torch
    integer; not a bool, not a float: 3.7 samples are refused, not truncated), else ``error``."""
    if _is_tensor(value) and value.dim() == 0 and not value.dtype.is_floating_point:
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        raise error(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def checked_reader(
    read: Callable[[int, int], np.ndarray], num_samples, name: str = "audio", sample_rate: Optional[int] = None
) -> Callable[[int, int], np.ndarray]:
    """``read`` of the coders' contract (samples [start, end) of an input of ``num_samples``)
    with every piece checked by :func:`check_audio_array` and its length by the range asked
    for; ``num_samples`` must be a whole number >= 1."""
    num_samples = whole_number(num_samples, f"{name}: the number of samples")

    def checked(start: int, end: int) -> np.ndarray:
        piece = check_audio_array(read(start, end), name, sample_rate)
        want = min(end, int(num_samples)) - start
        if piece.shape[0] != want:
            raise AudioInputError(f"{name}: reading samples {start} to {start + want} gave {piece.shape[0]}")
        return piece

    return checked


def check_audio_batch(x, name: str = "audio") -> None:
    """Raise :class:`~espnet2_p2p.errors.AudioInputError` (a ``ValueError``) unless ``x``
    is a finite, non-empty, floating-point (B, 1, T) waveform batch (a torch tensor)."""
    import torch

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
        raise AudioInputError(f"{name} contains non-finite samples: {n_nan} NaN and {n_inf} Inf of {x.numel()}")


def check_counts(values, batch: int, max_value: int, name: str):
    """Per-item counts (lengths, frames) as a LongTensor (B,), each a whole number in
    [1, max_value]; None stays None; else an AudioInputError (a ValueError) naming ``name``."""
    import torch

    if values is None:
        return None
    arr = _as_numpy(values, name, AudioInputError).reshape(-1)
    if arr.dtype.kind not in "iu":
        raise AudioInputError(
            f"{name} must hold {batch} whole numbers in [1, {max_value}], got {arr.dtype} {arr.tolist()[:8]}"
        )
    if arr.size != batch or arr.min(initial=1) < 1 or arr.max(initial=1) > max_value:
        raise AudioInputError(f"{name} must hold {batch} values in [1, {max_value}], got {arr.tolist()[:8]}")
    counts = torch.as_tensor(arr.astype(np.int64))
    return counts.to(values.device) if _is_tensor(values) else counts


# ------------------------------------------------------------------- tokens
def integer_array(values, name: str = "tokens", error=TokenError) -> np.ndarray:
    """``values`` (an array, a tensor, a list) as an int64 numpy array of any shape, else
    ``error``: floats (3.7 would become 3), bools, strings, objects, and integers beyond
    int64 (2**70) are refused, not converted."""
    arr = _as_numpy(values, name, error)
    if arr.dtype.kind not in "iu":
        what = "numbers beyond int64" if arr.dtype.kind == "O" else str(arr.dtype)
        raise error(f"{name} must be integers, got {what}")
    if arr.dtype == np.uint64 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
        raise error(f"{name}: {int(arr.max())} is beyond int64")
    return arr.astype(np.int64, copy=False)


def check_token_array(
    codes, sizes: Sequence[int], name: str = "tokens", streams: Optional[Sequence[int]] = None
) -> np.ndarray:
    """Tokens (streams, frames) as int64, else :class:`TokenError` naming ``name``: not
    integers (:func:`integer_array`), not two axes, no frames, a number of streams not in
    ``streams`` (default: one per size), or a token of stream s outside ``[0, sizes[s])``."""
    arr = integer_array(codes, name)
    if arr.ndim != 2 or arr.shape[-1] == 0:
        raise TokenError(f"{name}: tokens must be (streams, frames) with frames > 0, got shape {arr.shape}")
    valid = sorted(set(streams if streams is not None else [len(sizes)]))
    if arr.shape[0] not in valid:
        raise TokenError(f"{name}: {arr.shape[0]} token streams; this model decodes {' or '.join(map(str, valid))}")
    bad = first_bad_token(arr, list(sizes)[: arr.shape[0]])
    if bad is not None:
        raise TokenError(
            f"{name}: stream {bad.stream} has token {bad.value} at frame {bad.index}, outside [0, {sizes[bad.stream]})"
        )
    return arr
