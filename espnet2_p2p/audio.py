"""Reading input audio for coding: any sample rate and channel count, in bounded memory.

:class:`AudioSource` reads a sound file (anything libsndfile reads: wav, flac, ogg ...)
or an in-memory array as mono float32 at the codec's rate, one sample range at a time.
Resampling streams through soxr (libsoxr, high quality) from the start of the input, in
blocks of bounded size whatever the rate ratio, and keeps only what later reads can still
ask for, so an hour of audio, or a rate sharing no factor with the codec's, never has to
be in memory; soxr's stream gives the same samples however its input is cut, so a range
equals the same range of the whole file resampled at once. What was converted is reported as notices (resampled,
downmixed; silence and clipping are noticed while reading); input that cannot be coded
raises :class:`~espnet2_p2p.errors.AudioInputError` naming the file.
"""

import math
from pathlib import Path
from typing import List, Optional, Union

import numpy as np
import soundfile as sf

from espnet2_p2p.errors import AudioInputError

CLIP_LEVEL = 0.999
# Output samples a resampling step aims at (the input block is sized from it).
_RESAMPLE_BLOCK = 1 << 16


class _StreamResampler:
    """Samples [start, end) of the whole input resampled, read forwards with soxr's
    stream. Holds the output from the last read's start on; a read that starts before
    it restarts the stream (the chunker's reads only move forwards)."""

    def __init__(self, read_input, input_frames: int, input_rate: int, sample_rate: int, num_samples: int):
        self._read_input, self._frames = read_input, input_frames
        self._rates, self._num_samples = (input_rate, sample_rate), num_samples
        self._block = max(1, min(_RESAMPLE_BLOCK, _RESAMPLE_BLOCK * input_rate // sample_rate))
        self._restart()

    def _restart(self) -> None:
        import soxr

        self._stream = soxr.ResampleStream(*self._rates, 1, dtype="float32", quality="HQ")
        # output samples [pos - len(buf), pos) are held; input samples [0, in_pos) were fed
        self._in_pos, self._pos, self._buf = 0, 0, np.zeros(0, dtype=np.float32)

    def read(self, start: int, end: int) -> np.ndarray:
        if start < self._pos - len(self._buf):
            self._restart()
        held = min(len(self._buf), max(0, self._pos - start))
        pieces, pos = [self._buf[len(self._buf) - held :]], self._pos
        while pos < end and self._in_pos < self._frames:
            stop = min(self._frames, self._in_pos + self._block)
            out = self._stream.resample_chunk(self._read_input(self._in_pos, stop), last=stop == self._frames)
            self._in_pos = stop
            if pos + len(out) > start:  # keep what this read or a later one needs
                pieces.append(out[max(0, start - pos) :])
            pos += len(out)
        if self._in_pos == self._frames and pos < self._num_samples:  # soxr rounds the length, we ceil
            pieces.append(np.zeros(self._num_samples - max(pos, start), dtype=np.float32))
            pos = self._num_samples
        self._buf, self._pos = np.concatenate(pieces).astype(np.float32, copy=False), pos
        first = pos - len(self._buf)
        return self._buf[start - first : end - first]


class AudioSource:
    """Mono float32 audio at ``sample_rate``, read by sample ranges.

    Args:
        audio: A path to a sound file, or an array (T,) or (T, channels) at ``input_rate``.
        sample_rate (int): The rate the codec wants.
        input_rate (Optional[int]): Rate of an array input.
        name (Optional[str]): What errors and notices call the input.
    """

    def __init__(
        self,
        audio: Union[str, Path, np.ndarray],
        sample_rate: int,
        input_rate: Optional[int] = None,
        name: Optional[str] = None,
    ):
        self.sample_rate = sample_rate
        self.notices: List[str] = []
        self._file = None
        if isinstance(audio, np.ndarray):
            if input_rate is None:
                raise ValueError("input_rate is needed for an array input")
            self.name = name or "audio"
            data = audio if audio.ndim == 2 else audio.reshape(-1, 1)
            if data.ndim != 2:
                raise AudioInputError(f"{self.name}: audio must be (T,) or (T, channels), got {audio.shape}")
            self._array = data
            self.input_rate, self.channels, self.input_frames = input_rate, data.shape[1], data.shape[0]
        else:
            self.name = name or str(audio)
            try:
                self._file = sf.SoundFile(str(audio))
            except Exception as e:
                raise AudioInputError(f"cannot read {self.name}: {e}") from None
            if not self._file.seekable():
                raise AudioInputError(f"{self.name}: not a seekable sound file")
            self.input_rate = self._file.samplerate
            self.channels, self.input_frames = self._file.channels, self._file.frames
        if self.input_frames == 0:
            raise AudioInputError(f"{self.name} holds no samples: nothing to code")
        if self.input_rate != sample_rate:
            self.notices.append(f"resampled from {self.input_rate} Hz to {sample_rate} Hz")
        if self.channels > 1:
            self.notices.append(f"downmixed {self.channels} channels to mono")
        g = math.gcd(self.input_rate, sample_rate)
        self._orig, self._new = self.input_rate // g, sample_rate // g
        # the resampled length: ceil(T * new / orig) (soxr rounds; the last sample is padded)
        self.num_samples = -(-self.input_frames * self._new // self._orig)
        self._resampler = None
        if self._orig != self._new:
            self._resampler = _StreamResampler(
                self._read_input, self.input_frames, self.input_rate, sample_rate, self.num_samples
            )
        self._peak = 0.0
        self._clipped = 0
        self._seen = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read_input(self, start: int, end: int) -> np.ndarray:
        if self._file is None:
            data = self._array[start:end]
        else:
            self._file.seek(start)
            data = self._file.read(end - start, dtype="float32", always_2d=True)
        data = np.asarray(data, dtype=np.float32)
        return data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]

    def read(self, start: int, end: int) -> np.ndarray:
        """Samples [start, end) at ``sample_rate``, mono float32."""
        start, end = max(0, start), min(end, self.num_samples)
        if start >= end:
            return np.zeros(0, dtype=np.float32)
        if self._resampler is None:
            out = self._read_input(start, end)
        else:
            out = self._resampler.read(start, end)
        self._check(out, start)
        return out

    def _check(self, out: np.ndarray, start: int) -> None:
        finite = np.isfinite(out)
        if not finite.all():
            first = start + int(np.argmin(finite))
            raise AudioInputError(
                f"{self.name}: non-finite sample (NaN or Inf) at {first / self.sample_rate:.3f} s"
                f" (sample {first}); the audio is damaged"
            )
        if out.size:
            self._peak = max(self._peak, float(np.abs(out).max()))
            self._clipped += int((np.abs(out) >= CLIP_LEVEL).sum())
            self._seen += out.size

    def final_notices(self) -> List[str]:
        """Notices after reading: conversions, silence, clipping."""
        notices = list(self.notices)
        if self._seen and self._peak == 0.0:
            notices.append("the input is silent (all zeros)")
        elif self._clipped > max(2, self._seen // 10000):
            notices.append(
                f"{self._clipped} samples ({100 * self._clipped / self._seen:.2f}%) are at full"
                " scale: the input looks clipped"
            )
        if self._peak > 1.0:
            notices.append(f"peak level {self._peak:.2f} exceeds full scale")
        return notices


def read_all(audio, sample_rate: int, input_rate: Optional[int] = None):
    """Whole input as one array at ``sample_rate`` (for short inputs), plus notices."""
    with AudioSource(audio, sample_rate, input_rate) as src:
        return src.read(0, src.num_samples), src.final_notices()
