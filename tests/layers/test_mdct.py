import math

import pytest
import torch

from espnet2_p2p.layers.mdct import MDCT

FS = 16000


@pytest.mark.parametrize("window", ["sine", "kbd"])
@pytest.mark.parametrize("length", [1, 39, 40, 41, 16000, 16001, 24001, 47999, 64003, 80000])
def test_perfect_reconstruction(window, length):
    mdct = MDCT(80, 40, window)
    x = torch.randn(2, length)
    coeffs = mdct.mdct(x)
    assert coeffs.shape == (2, 40, math.ceil(length / 40) + 1)
    y = mdct.imdct(coeffs, length)
    assert y.shape == x.shape
    assert (y - x).abs().max().item() < 1e-5


def test_batched_leading_axes_and_other_sizes():
    mdct = MDCT(256, 128)
    x = torch.randn(2, 3, 5000)
    y = mdct.imdct(mdct.mdct(x), 5000)
    assert y.shape == x.shape
    assert (y - x).abs().max().item() < 1e-5


def test_energy_preserved_and_gradient_flows():
    # The transform is a tight frame (IMDCT is its adjoint and inverse), so
    # ||mdct(x)||^2 == ||x||^2 and its gradient is exactly 2x.
    mdct = MDCT(80, 40)
    x = torch.randn(1, 3201, dtype=torch.float64, requires_grad=True)
    energy = mdct.mdct(x).pow(2).sum()
    energy.backward()
    assert torch.allclose(energy, x.pow(2).sum())
    assert torch.allclose(x.grad, 2 * x.detach())

    c = torch.randn(1, 40, 20, requires_grad=True)
    mdct.imdct(c).sum().backward()
    assert c.grad is not None and c.grad.abs().sum() > 0


@pytest.mark.parametrize("freq", [300.0, 1100.0, 2500.0, 6100.0])
def test_sine_lands_in_expected_bin(freq):
    hop = 40
    mdct = MDCT(2 * hop, hop)
    t = torch.arange(FS) / FS
    coeffs = mdct.mdct(torch.sin(2 * math.pi * freq * t))
    energy = coeffs[:, 5:-5].pow(2).sum(-1)  # interior frames
    # Bin k is centred on (k + 0.5) * fs / (2 * hop).
    expected = round(freq * 2 * hop / FS - 0.5)
    assert int(energy.argmax()) == expected


def test_chirp_bins_follow_instantaneous_frequency():
    hop = 64
    mdct = MDCT(2 * hop, hop)
    f0, f1, dur = 200.0, 7000.0, 2.0
    t = torch.arange(int(FS * dur), dtype=torch.float64) / FS
    x = torch.sin(2 * math.pi * (f0 * t + (f1 - f0) / (2 * dur) * t**2))
    coeffs = mdct.mdct(x)
    peak = coeffs.pow(2).argmax(dim=0)[2:-2]  # per-frame peak bin, interior frames
    centres = (torch.arange(2, coeffs.shape[-1] - 2) * hop - hop / 2) / FS  # frame centre
    inst_freq = f0 + (f1 - f0) * centres / dur
    expected = inst_freq * 2 * hop / FS - 0.5
    assert (peak.double() - expected).abs().max() <= 2.0
    # The peak moves monotonically upwards apart from neighbouring-bin jitter.
    assert (peak[1:] - peak[:-1]).min() >= -1
    assert peak[-1] - peak[0] > 0.9 * (expected[-1] - expected[0])


def test_invalid_arguments():
    with pytest.raises(ValueError, match="frame_length == 2 \\* hop_length"):
        MDCT(100, 40)
    with pytest.raises(ValueError, match="window"):
        MDCT(80, 40, "hann")
    mdct = MDCT(80, 40)
    with pytest.raises(ValueError, match="at most"):
        mdct.imdct(torch.zeros(1, 40, 3), 200)
    with pytest.raises(ValueError, match="coefficients"):
        mdct.imdct(torch.zeros(1, 39, 3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    mdct = MDCT(80, 40)
    x = torch.randn(2, 16001)
    c_cpu = mdct.mdct(x)
    mdct_gpu = mdct.cuda()
    c_gpu = mdct_gpu.mdct(x.cuda())
    assert torch.allclose(c_cpu, c_gpu.cpu(), atol=1e-5)
    assert (mdct_gpu.imdct(c_gpu, 16001).cpu() - x).abs().max() < 1e-5


@pytest.mark.parametrize("pieces", [[1], [3, 5], [1, 1, 2, 4]])
def test_streaming_steps_equal_the_offline_transform(pieces):
    """analysis_step over pieces of whole hops gives mdct()'s frames (all but its last,
    which needs the next hop); synthesis_step's outputs, then the last overlap, are imdct's
    output shifted by one hop."""
    torch.manual_seed(0)
    mdct = MDCT(48, 24).double()
    x = torch.randn(2, 24 * sum(pieces), dtype=torch.float64)
    frames, tail, start = [], None, 0
    for k in pieces:
        c, tail = mdct.analysis_step(x[:, start : start + 24 * k], tail)
        frames.append(c)
        start += 24 * k
    streamed = torch.cat(frames, dim=-1)
    offline = mdct.mdct(x)
    assert streamed.shape[-1] == offline.shape[-1] - 1
    assert torch.allclose(streamed, offline[..., :-1], atol=1e-12)
    out, overlap, start = [], None, 0
    for k in pieces:
        y, overlap = mdct.synthesis_step(offline[..., start : start + k], overlap)
        out.append(y)
        start += k
    y, overlap = mdct.synthesis_step(offline[..., start:], overlap)  # the last frame
    signal = torch.cat(out + [y, overlap], dim=-1)[:, 24:]
    assert torch.allclose(signal[:, : x.shape[-1]], x, atol=1e-10)
    with pytest.raises(ValueError, match="whole hops of 24 samples, got 25"):
        mdct.analysis_step(torch.zeros(1, 25, dtype=torch.float64))
