"""Streaming coding for the causal codecs (SecoustiCodec, causal P2PSynCodec).

A codec supplies one step each way; these classes do the buffering:

- :class:`StreamEncoder` takes audio in pieces of any length and returns the tokens
  (streams, B, k) of every code frame completed so far; ``flush()`` codes the last partial
  frame padded with zeros, as offline encoding of the whole input does.
- :class:`StreamDecoder` takes tokens in pieces and returns audio (B, 1, k * hop) lagging
  them by the MDCT hop H (the first call returns H samples fewer); ``flush(length)`` returns
  the rest, so that the pieces together equal offline decoding.
"""

from typing import Callable, Optional

import torch
import torch.nn.functional as F

#: (samples (B, k * hop), state) -> (tokens (streams, B, k), new state)
EncodeStep = Callable[[torch.Tensor, Optional[dict]], tuple]
#: (tokens (streams, B, k), state) -> (samples (B, k * hop), new state holding "overlap")
DecodeStep = Callable[[torch.Tensor, Optional[dict]], tuple]


class StreamEncoder:
    def __init__(self, step: EncodeStep, hop_length: int, num_streams: int):
        self.step, self.hop, self.num_streams = step, hop_length, num_streams
        self.state, self.pending = None, None

    @torch.no_grad()
    def __call__(self, samples: torch.Tensor) -> torch.Tensor:
        if samples.dim() == 3:
            samples = samples[:, 0]
        self.pending = samples if self.pending is None else torch.cat([self.pending, samples], dim=-1)
        k = self.pending.shape[-1] // self.hop
        if k == 0:
            return self.pending.new_zeros((self.num_streams, self.pending.shape[0], 0), dtype=torch.long)
        ready, self.pending = self.pending[:, : k * self.hop], self.pending[:, k * self.hop :]
        codes, self.state = self.step(ready, self.state)
        return codes

    @torch.no_grad()
    def flush(self) -> torch.Tensor:
        if self.pending is None or self.pending.shape[-1] == 0:
            batch = 1 if self.pending is None else self.pending.shape[0]
            return torch.zeros((self.num_streams, batch, 0), dtype=torch.long)
        rest = F.pad(self.pending, (0, self.hop - self.pending.shape[-1]))
        self.pending = rest[:, :0]
        return self(rest)


class StreamDecoder:
    def __init__(self, step: DecodeStep, mdct_hop: int, batch: int, device, overlap=lambda state: state["overlap"]):
        """``overlap(state)``: the pending H samples (B, H) that :meth:`flush` emits."""
        self.step, self.H, self.batch, self.device = step, mdct_hop, batch, device
        self.overlap = overlap
        self.state, self.emitted = None, 0

    @torch.no_grad()
    def __call__(self, codes: torch.Tensor) -> torch.Tensor:
        if codes.shape[-1] == 0:
            return torch.zeros(self.batch, 1, 0, device=self.device)
        samples, self.state = self.step(codes, self.state)
        if self.emitted == 0:
            samples = samples[:, self.H :]
        self.emitted += samples.shape[-1]
        return samples.unsqueeze(1)

    @torch.no_grad()
    def flush(self, length: Optional[int] = None) -> torch.Tensor:
        """The last H samples; with ``length`` (the input's samples) the output is cut so
        that the whole stream has exactly ``length`` samples."""
        tail = self.overlap(self.state) if self.state is not None else torch.zeros(self.batch, 0, device=self.device)
        if length is not None:
            tail = tail[:, : max(0, length - self.emitted)]
        self.emitted += tail.shape[-1]
        return tail.unsqueeze(1)
