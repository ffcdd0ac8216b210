"""P2PSVQ: plain-to-pseudo synergistic vector quantization.

One *plain* VQ, whose tokens are transmitted, and N *pseudo* VQs, whose tokens are
predicted at the receiver from what came before them and so cost zero bits.

- ``mode="teacher"``: an ordinary residual VQ over 1 + N codebooks (stage 1).
- ``mode="student"``: the plain VQ quantizes; pseudo VQ n (1..N) owns the teacher's
  residual codebook n and a predictor that maps the cascade input
  ``c_0 + c_1 + ... + c_{n-1}`` (plain codeword plus the codewords of the pseudo VQs
  before it) to logits over its codebook (stage 2). Training uses teacher forcing
  (the teacher's true residual codewords in the cascade) and cross-entropy against the
  teacher's residual tokens. All codebooks stay as the teacher left them.

A predicted codeword is either the ``argmax`` entry or the ``expected`` one (the
softmax-weighted sum of the codebook); tokens handed to language models are always the
argmax indices.

The module knows nothing about any codec: it maps latents (B, D, T) to tokens and back.
"""

from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from espnet2_p2p.quantizer.predictor import CausalPseudoVQPredictor, PseudoVQPredictor
from espnet2_p2p.quantizer.residual_vq import ResidualVQ

MODES = ("teacher", "student")
CODEWORD_MODES = ("expected", "argmax")


class P2PSVQOutput(NamedTuple):
    """What :meth:`P2PSVQ.forward` returns.

    Attributes:
        quantized (Tensor): Decoder input (B, D, T). Teacher: the RVQ sum (with a
            straight-through gradient). Student: plain codeword + predicted pseudo
            codewords (only when ``predict=True``; else the plain codeword alone).
        codes (Tensor): Plain and residual tokens (1 + N, B, T); in the student these
            are the teacher's tokens, the prediction targets.
        commit_loss (Tensor): Commitment loss (teacher; 0 in the student).
        ce_loss (Tensor): Mean cross-entropy of the pseudo VQs (student; 0 in the teacher).
        stats (Dict[str, float]): Per-level ce / top-1 accuracy / majority baseline.
    """

    quantized: torch.Tensor
    codes: torch.Tensor
    commit_loss: torch.Tensor
    ce_loss: torch.Tensor
    stats: Dict[str, torch.Tensor]


class P2PSVQ(torch.nn.Module):
    """Plain VQ + N pseudo VQs.

    Args:
        dim (int): Latent dimension D.
        codebook_size (int): Entries of the plain codebook (it alone sets the bitrate).
        num_pseudo (int): N, the number of pseudo VQs (residual codebooks of the teacher).
        pseudo_codebook_size (Optional[int]): Entries of each pseudo codebook
            (default: codebook_size). They cost no bits, so their size is free.
        codebook_dim (Optional[int]): Codebook dimension if it differs from D.
        mode (str): "teacher" or "student".
        pseudo_codeword (str): "expected" or "argmax": how a predictor's logits become
            the codeword added to the latent.
        predictor (Optional[Dict]): Arguments of :class:`PseudoVQPredictor`
            (channels, conformer_blocks, attention_heads, linear_units,
            cnn_module_kernel, lstm_layers, dropout).
        rvq_conf (Optional[Dict]): Arguments of :class:`ResidualVQ` (decay,
            kmeans_init, kmeans_iters, threshold_ema_dead_code, quantizer_dropout).
        causal (bool): Causal predictors (:class:`CausalPseudoVQPredictor`; ``predictor``
            may then give ``context``), so that :meth:`predict_step` streams.
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int = 1024,
        num_pseudo: int = 3,
        pseudo_codebook_size: Optional[int] = None,
        codebook_dim: Optional[int] = None,
        mode: str = "teacher",
        pseudo_codeword: str = "expected",
        predictor: Optional[Dict] = None,
        rvq_conf: Optional[Dict] = None,
        causal: bool = False,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if pseudo_codeword not in CODEWORD_MODES:
            raise ValueError(f"pseudo_codeword must be one of {CODEWORD_MODES}, got {pseudo_codeword!r}")
        if num_pseudo < 0:
            raise ValueError(f"num_pseudo must be >= 0, got {num_pseudo}")
        if mode == "student" and num_pseudo == 0:
            raise ValueError("a student needs at least one pseudo VQ (num_pseudo >= 1)")
        self.dim = dim
        self.mode = mode
        self.num_pseudo = num_pseudo
        self.pseudo_codeword = pseudo_codeword
        self.causal = causal
        sizes = [codebook_size] + [pseudo_codebook_size or codebook_size] * num_pseudo
        self.rvq = ResidualVQ(
            dim=dim,
            num_quantizers=1 + num_pseudo,
            codebook_size=sizes,
            codebook_dim=codebook_dim,
            **(rvq_conf or {}),
        )
        # The layout travels with every checkpoint, so loading one of another layout
        # fails with a message that names the difference.
        self.register_buffer("layout", torch.tensor(sizes, dtype=torch.long))
        if mode == "student":
            predictor_class = CausalPseudoVQPredictor if causal else PseudoVQPredictor
            self.predictors = torch.nn.ModuleList(
                [predictor_class(dim, size, **(predictor or {})) for size in sizes[1:]]
            )
        else:
            self.predictors = None

    # ------------------------------------------------------------- layout
    @property
    def codebook_sizes(self) -> List[int]:
        """Entries per codebook: plain first, then the pseudo ones."""
        return list(self.rvq.codebook_sizes)

    @property
    def codebooks_ready(self) -> bool:
        """False until the codebooks were initialised (k-means) or loaded."""
        return all(bool(layer._codebook.inited) for layer in self.rvq.layers)

    def describe_layout(self, sizes: Sequence[int]) -> str:
        return f"N={len(sizes) - 1} pseudo VQs, codebook sizes {list(sizes)} (plain first)"

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "layout"
        if key in state_dict:
            theirs = [int(v) for v in state_dict[key].tolist()]
            ours = self.codebook_sizes
            if theirs != ours:
                raise ValueError(
                    f"checkpoint mismatch in {prefix.rstrip('.') or 'quantizer'}: the checkpoint"
                    f" has {self.describe_layout(theirs)}; this model has"
                    f" {self.describe_layout(ours)}"
                )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ----------------------------------------------------------- training
    def forward(self, z: torch.Tensor, predict: bool = False) -> P2PSVQOutput:
        """Quantize a latent for training.

        Args:
            z (Tensor): Latent (B, D, T).
            predict (bool): Student only: also run the predicted cascade (no teacher
                forcing) and return its quantized latent, detached from the predictors.

        Returns:
            P2PSVQOutput
        """
        if self.mode == "teacher":
            out = self.rvq(z)
            zero = out.commit_loss.new_zeros(())
            stats = {
                f"perplexity_level{i}": _perplexity(codes, size)
                for i, (codes, size) in enumerate(zip(out.codes, self.codebook_sizes))
            }
            return P2PSVQOutput(out.quantized, out.codes, out.commit_loss, zero, stats)
        return self._forward_student(z, predict)

    def _forward_student(self, z: torch.Tensor, predict: bool) -> P2PSVQOutput:
        if not self.codebooks_ready:
            raise RuntimeError(
                "P2PSVQ in student mode needs the teacher's codebooks; start stage 2 from"
                " a teacher checkpoint (ESPnet: --init_param exp/teacher/<model>.pth)"
            )
        with torch.no_grad():
            codes = self.rvq.encode(z)
            codewords = [self.rvq.codeword(i, c) for i, c in enumerate(codes)]
        cascade = codewords[0]
        losses, stats = [], {}
        for n, predictor in enumerate(self.predictors, start=1):
            logits = predictor(cascade)
            target = codes[n]
            losses.append(F.cross_entropy(logits, target))
            with torch.no_grad():
                stats[f"ce_level{n}"] = losses[-1].detach()
                stats[f"acc_level{n}"] = (logits.argmax(1) == target).float().mean()
                counts = torch.bincount(target.flatten(), minlength=logits.shape[1])
                stats[f"majority_level{n}"] = counts.max().float() / target.numel()
            cascade = cascade + codewords[n]  # teacher forcing
        ce_loss = torch.stack(losses).mean()
        if predict:
            with torch.no_grad():
                quantized, _, _ = self.predict(codes[0])
        else:
            quantized = codewords[0]
        zero = ce_loss.new_zeros(())
        return P2PSVQOutput(quantized, codes, zero, ce_loss, stats)

    # ---------------------------------------------------------- inference
    def _codeword_from_logits(self, level: int, logits: torch.Tensor) -> torch.Tensor:
        layer = self.rvq.layers[level]
        if self.pseudo_codeword == "argmax":
            return layer.decode(logits.argmax(1))
        probs = logits.softmax(1).transpose(1, 2)  # (B, T, K)
        codeword = layer.project_out(probs @ layer._codebook.embed)  # (B, T, D)
        return codeword.transpose(1, 2)

    @torch.no_grad()
    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (B, D, T) -> plain tokens (B, T): the only transmitted stream."""
        return self.rvq.encode(z, n_q=1)[0]

    @torch.no_grad()
    def encode_residual(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (B, D, T) -> the teacher's plain and residual tokens (1 + N, B, T)."""
        return self.rvq.encode(z)

    def predict(self, plain_tokens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, List[torch.Tensor]]:
        """Predict the pseudo VQs in cascade from the plain tokens.

        Args:
            plain_tokens (Tensor): (B, T).

        Returns:
            quantized (B, D, T), pseudo tokens (N, B, T) (argmax), logits per level.
        """
        if self.mode != "student":
            raise RuntimeError("only a student has pseudo-VQ predictors (mode='student')")
        self.check_plain_tokens(plain_tokens)
        cascade = self.rvq.codeword(0, plain_tokens)
        tokens, all_logits = [], []
        for n, predictor in enumerate(self.predictors, start=1):
            logits = predictor(cascade)
            tokens.append(logits.argmax(1))
            all_logits.append(logits)
            cascade = cascade + self._codeword_from_logits(n, logits)
        return cascade, torch.stack(tokens), all_logits

    @torch.no_grad()
    def predict_step(
        self, plain_tokens: torch.Tensor, state: Optional[list] = None
    ) -> Tuple[torch.Tensor, torch.Tensor, list]:
        """Causal predictors: the quantized latent (B, D, k) and the pseudo tokens (N, B, k)
        (argmax) of the next k plain tokens (B, k), and the state for the frames after them
        (None starts a stream). The pieces of a stream together equal :meth:`decode`'s."""
        if self.mode != "student" or not self.causal:
            raise RuntimeError("predict_step needs a student with causal predictors (causal: true)")
        self.check_plain_tokens(plain_tokens)
        state = state or [None] * self.num_pseudo
        cascade = self.rvq.codeword(0, plain_tokens)
        new, tokens = [], []
        for n, (predictor, s) in enumerate(zip(self.predictors, state), start=1):
            logits, s = predictor.step(cascade, s)
            new.append(s)
            tokens.append(logits.argmax(1))
            cascade = cascade + self._codeword_from_logits(n, logits)
        return cascade, torch.stack(tokens), new

    @torch.no_grad()
    def decode(self, plain_tokens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Plain tokens (B, T) -> (quantized latent (B, D, T), pseudo tokens (N, B, T)).

        Needs nothing but the plain tokens (student mode).
        """
        quantized, pseudo_tokens, _ = self.predict(plain_tokens)
        return quantized, pseudo_tokens

    @torch.no_grad()
    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Given tokens of the first k levels (k, B, T) -> sum of their codewords.

        Teacher decoding, plain-only decoding (k = 1), or decoding a full set of 1 + N
        streams that a language model generated (no prediction).
        """
        return self.rvq.decode(codes)

    def check_plain_tokens(self, tokens: torch.Tensor) -> None:
        if tokens.dim() != 2:
            raise ValueError(f"plain tokens must be (B, T), got shape {tuple(tokens.shape)}")
        self.rvq.check_codes(tokens.unsqueeze(0))


def _perplexity(codes: torch.Tensor, size: int) -> torch.Tensor:
    counts = torch.bincount(codes.flatten(), minlength=size).float()
    probs = counts / counts.sum()
    return torch.exp(-(probs * torch.log(probs + 1e-10)).sum())
