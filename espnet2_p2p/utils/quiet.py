"""Two messages that other libraries give on every run, about nothing in the run, silenced
where this package triggers them: only those, so that anything else they say still shows.

- ESPnet's attention module prints ``Failed to import Flash Attention, using ESPnet
  default: ...`` on import wherever the optional ``flash_attn`` is absent; ESPnet's own
  attention is what this package uses (:func:`no_flash_attention_notice`).
- ESPnet's HiFi-GAN discriminators apply ``torch.nn.utils.weight_norm``, which torch
  deprecates with a FutureWarning; the checkpoints' parameter names (``weight_g``,
  ``weight_v``) are that function's, so the models keep it (:func:`old_weight_norm`).
"""

import contextlib
import io
import sys
import warnings

FLASH_ATTENTION_NOTICE = "Failed to import Flash Attention"
WEIGHT_NORM_WARNING = r"`torch\.nn\.utils\.weight_norm` is deprecated"


@contextlib.contextmanager
def no_flash_attention_notice():
    """Around an import of ESPnet's attention: its Flash Attention line is dropped, any
    other line printed meanwhile is passed on to stdout."""
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines(keepends=True):
            if not line.startswith(FLASH_ATTENTION_NOTICE):
                sys.stdout.write(line)


@contextlib.contextmanager
def old_weight_norm():
    """Around building a module with ``torch.nn.utils.weight_norm``: its FutureWarning off."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=WEIGHT_NORM_WARNING, category=FutureWarning)
        yield
