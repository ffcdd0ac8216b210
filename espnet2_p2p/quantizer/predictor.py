"""The predictor of a pseudo VQ: Conformer blocks + BiLSTM -> logits over its codebook."""

import torch
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder


class PseudoVQPredictor(torch.nn.Module):
    """Maps a cascade input (B, D, T) to logits over a pseudo codebook (B, K, T).

    The paper's predictor has 3 Conformer blocks and 2 BiLSTM layers with 256 channels
    and 8 heads. The Conformer blocks are ESPnet's (relative positional self-attention,
    convolution module); the BiLSTM has ``channels`` units per direction.

    Args:
        dim (int): Dimension D of the cascade input (the quantized latent).
        codebook_size (int): K, the entries of the pseudo codebook.
        channels (int): Model width.
        conformer_blocks (int): Conformer blocks (0 to skip).
        attention_heads (int): Attention heads.
        linear_units (int): Hidden units of the Conformer feed-forward layers.
        cnn_module_kernel (int): Depthwise kernel of the Conformer conv module.
        lstm_layers (int): BiLSTM layers (0 to skip).
        dropout (float): Dropout in the Conformer and between LSTM layers.
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        channels: int = 256,
        conformer_blocks: int = 3,
        attention_heads: int = 8,
        linear_units: int = 1024,
        cnn_module_kernel: int = 15,
        lstm_layers: int = 2,
        dropout: float = 0.1,
    ):
        super().__init__()
        if conformer_blocks > 0:
            self.conformer = ConformerEncoder(
                input_size=dim,
                output_size=channels,
                attention_heads=attention_heads,
                linear_units=linear_units,
                num_blocks=conformer_blocks,
                dropout_rate=dropout,
                positional_dropout_rate=dropout,
                input_layer="linear",
                rel_pos_type="latest",
                cnn_module_kernel=cnn_module_kernel,
                use_flash_attn=False,
            )
        else:
            self.conformer = None
            self.input_proj = torch.nn.Linear(dim, channels)
        if lstm_layers > 0:
            self.lstm = torch.nn.LSTM(
                channels,
                channels,
                num_layers=lstm_layers,
                batch_first=True,
                bidirectional=True,
                dropout=dropout if lstm_layers > 1 else 0.0,
            )
            out_in = 2 * channels
        else:
            self.lstm = None
            out_in = channels
        self.output = torch.nn.Linear(out_in, codebook_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): Cascade input (B, D, T). Returns: logits (B, K, T)."""
        h = x.transpose(1, 2)
        if self.conformer is not None:
            lengths = torch.full((h.shape[0],), h.shape[1], dtype=torch.long, device=h.device)
            h, _, _ = self.conformer(h, lengths)
        else:
            h = self.input_proj(h)
        if self.lstm is not None:
            h, _ = self.lstm(h)
        return self.output(h).transpose(1, 2)
