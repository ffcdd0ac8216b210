"""The generator-output cache both codecs use across ESPnet's two GAN turns."""

import copy

import pytest
import torch

from espnet2_p2p.codec.shared.gan_codec import TurnCache, as_audio_batch
from espnet2_p2p.codec.p2psyn import P2PSynCodec


def counting():
    calls = []

    def compute():
        calls.append(1)
        return {"n": len(calls)}

    return calls, compute


def test_other_turn_reuses_once_same_turn_recomputes():
    cache, x = TurnCache(), torch.randn(2, 1, 8)
    calls, compute = counting()
    assert cache.get(x, "generator", compute, store=True)["n"] == 1
    assert cache.get(x.clone(), "discriminator", compute, store=True)["n"] == 1  # reused
    assert cache.get(x, "discriminator", compute, store=True)["n"] == 2  # used up
    assert cache.get(x, "discriminator", compute, store=True)["n"] == 3  # same turn: afresh
    assert len(calls) == 3


def test_no_reuse_for_another_batch_when_disabled_or_not_storing():
    x = torch.randn(2, 1, 8)
    for cache, store in [(TurnCache(), True), (TurnCache(enabled=False), True), (TurnCache(), False)]:
        calls, compute = counting()
        cache.get(x, "generator", compute, store=store)
        other = x + 1 if store and cache.enabled else x
        cache.get(other, "discriminator", compute, store=store)
        assert len(calls) == 2
    with pytest.raises(ValueError, match="turn must be one of"):
        TurnCache().get(x, "critic", lambda: {}, store=True)


def test_as_audio_batch_shapes():
    assert as_audio_batch(torch.zeros(5)).shape == (1, 1, 5)
    assert as_audio_batch(torch.zeros(3, 5)).shape == (3, 1, 5)
    assert as_audio_batch(torch.zeros(3, 1, 5)).shape == (3, 1, 5)


def test_p2psyn_two_generator_turns_on_one_batch(tiny_config):
    # The older cache handed the second generator turn the first one's outputs, whose
    # graph the first backward had freed.
    torch.manual_seed(0)
    codec = P2PSynCodec(**copy.deepcopy(tiny_config["codec_conf"])).train()
    x = 0.3 * torch.randn(2, 1, 3200)
    codec(x, forward_generator=True)["loss"].backward()
    codec(x, forward_generator=True)["loss"].backward()
    disc = codec(x, forward_generator=False)
    assert disc["optim_idx"] == 1
    disc["loss"].backward()


def test_training_forward_refuses_unbatched_audio(tiny_config):
    # inference() takes (T,); the trainer's forward() wants a batch and says so
    from test_secousti import SMALL

    from espnet2_p2p.codec.secousti import SecoustiCodec

    for codec in (P2PSynCodec(**copy.deepcopy(tiny_config["codec_conf"])), SecoustiCodec(**SMALL)):
        with pytest.raises(ValueError, match="must be a mono batch"):
            codec(torch.zeros(3200), forward_generator=True)
