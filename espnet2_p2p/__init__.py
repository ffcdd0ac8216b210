"""espnet2_p2p: ultra-low-bitrate neural speech codecs as an ESPnet plugin.

Importing the package registers its codecs in ESPnet's GAN codec task
(``espnet2.tasks.gan_codec.codec_choices``), so ESPnet's trainer, its
``GANCodecTask.build_model_from_file`` and ``espnet2.bin.gan_codec_inference``
accept ``codec: p2psyn`` and ``codec: secousti``.
"""

__version__ = "0.1.0"

CODECS = {
    "p2psyn": "espnet2_p2p.codec.p2psyn.p2psyn:P2PSynCodec",
    "secousti": "espnet2_p2p.codec.secousti.secousti:SecoustiCodec",
}


def register() -> None:
    """Add this package's codecs to ESPnet's codec choices (idempotent)."""
    import importlib

    from espnet2.tasks.gan_codec import codec_choices

    for name, target in CODECS.items():
        module, cls = target.split(":")
        codec_class = getattr(importlib.import_module(module), cls)
        registered = codec_choices.classes.get(name)
        if registered is not None and registered is not codec_class:
            raise RuntimeError(
                f"codec name {name!r} is already taken in ESPnet by {registered!r}"
            )
        codec_choices.classes[name] = codec_class


register()
