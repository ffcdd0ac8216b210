"""One validation of audio and of tokens for every entry point (issue 42, item 6): the
coders of both backends, the tokenizer and the codecs refuse what is not real mono float
audio or integer tokens with the documented AudioInputError / TokenError, one line each,
instead of coding int16 as loud noise, truncating 3.7 to 3 or raising IndexError."""

import numpy as np
import pytest
import torch

from conftest import BAD_AUDIO, BAD_TOKENS
from espnet2_p2p.errors import AudioInputError, TokenError
from espnet2_p2p.utils.checks import check_audio_array, check_token_array, integer_array, whole_number

SIZES = [1024, 256, 256, 256]


@pytest.mark.parametrize("audio, message", BAD_AUDIO)
def test_audio_that_is_not_real_mono_float_samples_is_refused(audio, message):
    with pytest.raises(AudioInputError) as err:
        check_audio_array(audio, "x.wav")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_good_audio_comes_back_as_float32():
    for audio in (np.zeros(5), [0.0, 0.5], torch.zeros(3, dtype=torch.bfloat16), np.zeros(4, np.float16)):
        out = check_audio_array(audio)
        assert out.dtype == np.float32 and out.ndim == 1


@pytest.mark.parametrize("codes, message", BAD_TOKENS)
def test_tokens_that_are_not_integers_in_their_codebooks_are_refused(codes, message):
    with pytest.raises(TokenError) as err:
        check_token_array(codes, SIZES, "a.p2p", streams=(1, 4))
    assert message in str(err.value) and str(err.value).startswith("a.p2p") and "\n" not in str(err.value)


def test_whole_numbers_and_integer_arrays():
    assert whole_number(np.int32(7), "n") == 7 and whole_number(torch.tensor(3), "n") == 3
    for bad in (3.7, True, 0, "4", None, torch.tensor(2.0)):
        with pytest.raises(AudioInputError, match="must be a whole number >= 1"):
            whole_number(bad, "n")
    assert integer_array(torch.tensor([[1, 2]])).dtype == np.int64
    with pytest.raises(TokenError, match="ids must be integers, got <U1"):
        integer_array(["a"], "ids")


# --------------------------------------------------------- through the entry points
@pytest.fixture(scope="module")
def coder(packed_models):
    from espnet2_p2p.coding.coder import open_coder

    return open_coder(packed_models, "torch", "student")


@pytest.mark.parametrize("audio, message", BAD_AUDIO)
def test_the_torch_coder_refuses_bad_audio(coder, audio, message):
    with pytest.raises(AudioInputError) as err:
        coder.encode_file(lambda s, e: audio, 800)
    assert message in str(err.value) and str(err.value).startswith("audio")


@pytest.mark.parametrize("codes, message", BAD_TOKENS[:-1])
def test_the_torch_coder_refuses_bad_tokens(coder, codes, message):
    with pytest.raises(TokenError) as err:
        coder.decode_file(codes, 5 * 320, lambda samples: None)
    assert message.split(",")[0] in str(err.value)


def test_the_torch_coder_refuses_a_length_that_is_not_a_whole_number(coder):
    codes = np.zeros((1, 5), np.int64)
    for n in (5 * 320 - 0.5, 0, -3, True):
        with pytest.raises(TokenError, match="num_samples must be a whole number"):
            coder.decode_file(codes, n, lambda samples: None)
    with pytest.raises(TokenError, match="5 frames do not fit 99 samples"):
        coder.decode_file(codes, 99, lambda samples: None)
    with pytest.raises(AudioInputError, match="reading samples 0 to 1600 gave 1000"):
        coder.encode_file(lambda s, e: np.zeros(1000, np.float32), 1600)
    with pytest.raises(AudioInputError, match="the number of samples must be a whole number"):
        coder.encode_file(lambda s, e: np.zeros(1000, np.float32), 1000.0)


def test_the_tokenizer_refuses_fractional_lengths_and_ids(packed_models):
    from espnet2_p2p.speechlm.tokenizer import P2PTokenizer

    tok = P2PTokenizer.from_pretrained(packed_models)
    batch = 0.1 * torch.randn(2, 640)
    with pytest.raises(AudioInputError, match=r"lengths must hold 2 whole numbers"):
        tok.encode(batch, [1.5, 1])  # a TypeError before
    ids = tok.flatten(tok.encode(0.1 * torch.randn(640)))
    for bad, message in [
        (ids.float() + 0.5, "must be integers, got float32"),
        ([2**70] * 8, "must be integers"),
        (["a"] * 8, "must be integers"),
        (ids.bool(), "must be integers, got bool"),
    ]:
        with pytest.raises(TokenError, match=message):
            tok.unflatten(bad, name="utt1")
    with pytest.raises(TokenError, match="the length must be a whole number"):
        tok.decode(tok.encode(0.1 * torch.randn(640)), length=639.5)


@pytest.mark.slow
def test_fuzzed_api_inputs_are_coded_or_refused_with_the_documented_errors(coder, packed_models):
    """Random dtypes, shapes and values through the coder, the tokenizer and the checks:
    a result, or an AudioInputError / TokenError of one line, never another exception."""
    import random

    from espnet2_p2p.speechlm.tokenizer import P2PTokenizer

    tok = P2PTokenizer.from_pretrained(packed_models)
    rng = random.Random(3)
    dtypes = [np.float32, np.float64, np.float16, np.int16, np.int64, np.uint8, bool, np.complex64, object, "U3"]
    values = [0.0, 0.3, -1.0, 1e30, np.nan, np.inf, 5, 1024, -1, 2**40, 3.7]

    def array(max_rank: int):
        shape = tuple(rng.choice([0, 1, 2, 5, 640]) for _ in range(rng.randrange(0, max_rank + 1)))
        dtype = rng.choice(dtypes)
        try:
            with np.errstate(all="ignore"):
                return np.full(shape, rng.choice(values)).astype(dtype)
        except (ValueError, OverflowError, TypeError):
            return np.zeros(shape, dtype=dtype)

    for _ in range(150):
        audio, codes, ids = array(2), array(3), array(2)
        for call, errors in [
            (lambda: coder.encode_file(lambda s, e: audio, 640), AudioInputError),
            (lambda: tok.encode(torch.from_numpy(audio) if audio.dtype.kind in "fiub" else audio), AudioInputError),
            (
                lambda: coder.decode_file(codes, max(1, codes.shape[-1] if codes.ndim else 1) * 320, lambda x: None),
                TokenError,
            ),
            (lambda: tok.decode(codes), TokenError),
            (lambda: tok.unflatten(ids), TokenError),
        ]:
            try:
                call()
            except errors as e:
                assert "\n" not in str(e)
