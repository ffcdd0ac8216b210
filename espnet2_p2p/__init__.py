"""espnet2_p2p: ultra-low-bitrate neural speech codecs as an ESPnet plugin.

Importing the package registers its codecs in ESPnet's GAN codec task
(``espnet2.tasks.gan_codec.codec_choices``), so ESPnet's trainer, its
``GANCodecTask.build_model_from_file`` and ``espnet2.bin.gan_codec_inference``
accept ``codec: p2psyn`` and ``codec: secousti``.

The registration happens when ``espnet2.tasks.gan_codec`` is imported (at once if it
already is): importing this package alone loads neither torch nor ESPnet, so
``p2p-codec --help`` and ``p2p-codec info`` answer at once.
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
            raise RuntimeError(f"codec name {name!r} is already taken in ESPnet by {registered!r}")
        codec_choices.classes[name] = codec_class


_TASK = "espnet2.tasks.gan_codec"


class _RegisterWhenESPnetLoads:
    """A meta-path finder that registers the codecs right after ESPnet's codec task module
    has executed, whoever imports it."""

    def find_spec(self, name, path=None, target=None):
        if name != _TASK:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            sys.modules[name] = module  # register() imports it again
            register()

        spec.loader.exec_module = exec_module
        return spec


import sys  # noqa: E402

if _TASK in sys.modules:
    register()
elif not any(isinstance(f, _RegisterWhenESPnetLoads) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWhenESPnetLoads())
