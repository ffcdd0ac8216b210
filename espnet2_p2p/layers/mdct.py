"""Modified discrete cosine transform (MDCT) with perfect reconstruction.

The transform is the modulated lapped transform (MLT): frames of ``2H`` samples,
hop ``H``, ``H`` coefficients per frame. With a window that satisfies the
Princen-Bradley condition (sine, KBD) and the orthonormal scaling used here, the
inverse is the transposed basis followed by overlap-add, and the time-domain
aliasing of neighbouring frames cancels exactly.

Both directions are a strided 1-D convolution with a fixed basis, so they are
differentiable, batched, device-agnostic and export to ONNX.

Framing: the signal is padded with ``H`` zeros on the left and up to a whole
number of hops plus ``H`` on the right, so a signal of ``T`` samples gives
``ceil(T / H) + 1`` frames and every input sample is covered by two frames.
"""

import math
from typing import Optional

import torch
import torch.nn.functional as F


def _sine_window(frame_length: int) -> torch.Tensor:
    n = torch.arange(frame_length, dtype=torch.float64)
    return torch.sin(math.pi * (n + 0.5) / frame_length)


def _kbd_window(frame_length: int, alpha: float = 4.0) -> torch.Tensor:
    half = frame_length // 2
    kaiser = torch.kaiser_window(half + 1, periodic=False, beta=math.pi * alpha, dtype=torch.float64)
    cumulative = torch.cumsum(kaiser, 0)
    rising = torch.sqrt(cumulative[:half] / cumulative[half])
    return torch.cat([rising, rising.flip(0)])


_WINDOWS = {"sine": _sine_window, "kbd": _kbd_window}


class MDCT(torch.nn.Module):
    """MDCT / IMDCT pair.

    Args:
        frame_length (int): Window length ``2H`` in samples.
        hop_length (int): Hop ``H`` in samples (also the number of coefficients).
        window (str): ``"sine"`` or ``"kbd"``.

    Example:
        >>> mdct = MDCT(80, 40)
        >>> x = torch.randn(2, 16000)
        >>> c = mdct.mdct(x)            # (2, 40, 401)
        >>> y = mdct.imdct(c, 16000)    # (2, 16000), equal to x up to float error
    """

    def __init__(self, frame_length: int, hop_length: int, window: str = "sine"):
        super().__init__()
        if frame_length != 2 * hop_length:
            raise ValueError(
                "MDCT needs frame_length == 2 * hop_length for perfect reconstruction,"
                f" got frame_length={frame_length}, hop_length={hop_length}"
            )
        if window not in _WINDOWS:
            raise ValueError(f"window must be one of {sorted(_WINDOWS)}, got {window!r}")
        self.frame_length = frame_length
        self.hop_length = hop_length
        self.window = window
        win = _WINDOWS[window](frame_length)
        n = torch.arange(frame_length, dtype=torch.float64)
        k = torch.arange(hop_length, dtype=torch.float64)
        phase = math.pi / hop_length * torch.outer(k + 0.5, n + 0.5 + hop_length / 2)
        basis = math.sqrt(2.0 / hop_length) * win * torch.cos(phase)  # (H, 2H)
        # Not persistent: the basis is a pure function of the arguments, and keeping
        # it out of state dicts keeps checkpoints independent of it. Kept in float64 and
        # cast per call, so float64 inputs get a float64-exact transform.
        self.register_buffer("basis", basis.unsqueeze(1), persistent=False)

    def num_frames(self, length: int) -> int:
        """Number of MDCT frames for a signal of ``length`` samples."""
        return -(-length // self.hop_length) + 1

    def mdct(self, wav: torch.Tensor) -> torch.Tensor:
        """Forward transform.

        Args:
            wav (Tensor): Signal (..., T).

        Returns:
            Tensor: Coefficients (..., H, ceil(T / H) + 1).
        """
        if wav.dim() == 0:
            raise ValueError("MDCT input must have a time axis, got a scalar")
        hop = self.hop_length
        lead, length = wav.shape[:-1], wav.shape[-1]
        frames = self.num_frames(length)
        x = wav.reshape(-1, 1, length)
        right = (frames + 1) * hop - hop - length
        x = F.pad(x, (hop, right))
        basis = self.basis.to(dtype=x.dtype, device=x.device)
        coeffs = F.conv1d(x, basis, stride=hop)  # (B', H, frames)
        return coeffs.reshape(*lead, hop, frames)

    def imdct(self, coeffs: torch.Tensor, length: Optional[int] = None) -> torch.Tensor:
        """Inverse transform with overlap-add.

        Args:
            coeffs (Tensor): Coefficients (..., H, frames).
            length (Optional[int]): Output length T; the largest length the frames
                cover, ``(frames - 1) * H``, when omitted.

        Returns:
            Tensor: Signal (..., T).
        """
        hop = self.hop_length
        if coeffs.dim() < 2 or coeffs.shape[-2] != hop:
            raise ValueError(f"IMDCT expects coefficients (..., {hop}, frames), got {tuple(coeffs.shape)}")
        lead, frames = coeffs.shape[:-2], coeffs.shape[-1]
        max_length = (frames - 1) * hop
        if length is None:
            length = max_length
        if length > max_length:
            raise ValueError(f"{frames} MDCT frames reconstruct at most {max_length} samples, {length} were asked for")
        c = coeffs.reshape(-1, hop, frames)
        basis = self.basis.to(dtype=c.dtype, device=c.device)
        wav = F.conv_transpose1d(c, basis, stride=hop)  # (B', 1, (frames + 1) * H)
        wav = wav[:, 0, hop : hop + length]
        return wav.reshape(*lead, length)

    # ------------------------------------------------------------- streaming
    def analysis_step(self, samples: torch.Tensor, tail: Optional[torch.Tensor] = None):
        """Streaming analysis: the MDCT frames that end within new samples (B, k * H).

        ``tail`` holds the previous H samples (None at the start of a stream: zeros, as
        :meth:`mdct` pads). Returns (coefficients (B, H, k), the new tail (B, H)); the
        frames of all steps together are :meth:`mdct`'s first frames.
        """
        hop = self.hop_length
        if samples.shape[-1] % hop:
            raise ValueError(f"a streaming step takes whole hops of {hop} samples, got {samples.shape[-1]}")
        if tail is None:
            tail = samples.new_zeros(samples.shape[0], hop)
        x = torch.cat([tail, samples], dim=-1).unsqueeze(1)
        basis = self.basis.to(dtype=x.dtype, device=x.device)
        return F.conv1d(x, basis, stride=hop), samples[:, -hop:]

    def synthesis_step(self, coeffs: torch.Tensor, overlap: Optional[torch.Tensor] = None):
        """Streaming overlap-add: new frames (B, H, k) -> (samples (B, k * H), the new
        overlap (B, H)). The samples end H before the last frame's end; the first call's
        first H samples lie before time 0 (a caller drops them). The samples of all steps,
        then the last overlap, are :meth:`imdct`'s output shifted by H."""
        hop = self.hop_length
        basis = self.basis.to(dtype=coeffs.dtype, device=coeffs.device)
        y = F.conv_transpose1d(coeffs, basis, stride=hop)[:, 0]  # (B, (k + 1) H)
        if overlap is not None:
            y = torch.cat([y[:, :hop] + overlap, y[:, hop:]], dim=-1)
        n = coeffs.shape[-1] * hop
        return y[:, :n], y[:, n:]

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`mdct`."""
        return self.mdct(wav)

    def extra_repr(self) -> str:
        return f"frame_length={self.frame_length}, hop_length={self.hop_length}, window={self.window!r}"
