"""Lazy re-exports for the sub-packages' ``__init__``: a public name is imported from its
module when first asked, so importing a sub-package loads neither torch nor ESPnet."""

import importlib
from typing import Callable, Dict


def lazy_exports(package: str, names: Dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` giving ``names[attr]`` (a module below ``package``) ``.attr``."""

    def __getattr__(attr: str):
        if attr not in names:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        return getattr(importlib.import_module(f"{package}.{names[attr]}"), attr)

    return __getattr__
