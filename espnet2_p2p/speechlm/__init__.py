"""Tools for speech language models: :class:`P2PTokenizer` (tokens of in-memory batches,
flat ids; :mod:`~espnet2_p2p.speechlm.tokenizer`), token dumps for LM training
(:mod:`~espnet2_p2p.speechlm.token_dump`) and the reading of LM experiments
(:mod:`~espnet2_p2p.speechlm.lm_tools`).

    from espnet2_p2p.speechlm import P2PTokenizer
"""

from espnet2_p2p.utils.lazy import lazy_exports

__all__ = ["P2PTokenizer"]
__getattr__ = lazy_exports(__name__, {"P2PTokenizer": "tokenizer"})
