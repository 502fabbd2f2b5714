"""BiRefNet as a whole: the Swin backbone run on the image and on its half
size, concatenated ("cat" multi-scale input), the three shallower maps
added to the deepest as context, one squeeze block, and the decoder. The
state dict has the official names (bb., squeeze_module., decoder.).

CutoutBiRefNet wraps it as cutout loads models: a float32 N x 3 x H x W
normalised image in, an N x 1 x H x W alpha in 0..1 out.
"""

from typing import List

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .birefnet_decoder import Decoder, DecoderBlock, resize
from .birefnet_swin import SWIN_SIZES, SwinTransformer

# How the logits become an alpha, as for converted ONNX models
# (onnx_convert.OUTPUT_KINDS): BiRefNet's own inference takes the sigmoid.
OUTPUT_KINDS = ("logits", "probability", "minmax")


def encoder_channels(embed_dim: int) -> List[int]:
    """The decoder's four input widths, deepest first: Swin's stage widths,
    doubled by the concatenation of the half-size pass. Pure; raises nothing."""
    return [2 * embed_dim * 2 ** i for i in (3, 2, 1, 0)]


class BiRefNet(nn.Module):
    """BiRefNet(backbone), backbone one of SWIN_SIZES (KeyError otherwise);
    forward gives logits, writes no state (several threads may share an
    instance) and raises RuntimeError for a wrong input shape."""

    def __init__(self, backbone: str):
        super().__init__()
        embed_dim, depths, heads, window = SWIN_SIZES[backbone]
        channels = encoder_channels(embed_dim)
        self.bb = SwinTransformer(embed_dim, depths, heads, window)
        self.squeeze_module = nn.Sequential(DecoderBlock(sum(channels), channels[0]))
        self.decoder = Decoder(channels)

    def forward(self, x: Tensor) -> Tensor:
        """N x 1 x H x W logits; H and W must be multiples of 32."""
        full = self.bb(x)
        half = self.bb(resize(x, [x.shape[2] // 2, x.shape[3] // 2]))
        x1, x2, x3, x4 = [torch.cat((f, resize(h, [f.shape[2], f.shape[3]])), 1) for f, h in zip(full, half)]
        size4 = [x4.shape[2], x4.shape[3]]
        x4 = torch.cat((resize(x1, size4), resize(x2, size4), resize(x3, size4), x4), 1)
        return self.decoder(x, x1, x2, x3, self.squeeze_module(x4))


class CutoutBiRefNet(nn.Module):
    """The module import-model saves. Takes any H x W: a side that is not a
    multiple of 32 is padded with zeros (the normalised mean colour) up to
    one, and the alpha is cropped back, as BiRefNet's patch inputs need
    whole 32-pixel cells. forward returns a new tensor, writes no state,
    and raises RuntimeError for an input that is not float32 B x 3 x H x W;
    the constructor raises ValueError for an unknown output kind."""

    def __init__(self, net: BiRefNet, output_kind: str):
        super().__init__()
        if output_kind not in OUTPUT_KINDS:
            raise ValueError(f"output kind: expected one of {', '.join(OUTPUT_KINDS)}, got {output_kind!r}")
        self.net = net
        self.output_kind = output_kind

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.size(1) != 3 or x.dtype != torch.float32:
            raise RuntimeError("input: expected a float32 tensor B x 3 x H x W")
        height, width = x.shape[2], x.shape[3]
        pad_h, pad_w = (32 - height % 32) % 32, (32 - width % 32) % 32
        if pad_h > 0 or pad_w > 0:
            x = F.pad(x, [0, pad_w, 0, pad_h])
        y = self.net(x)[:, :, :height, :width]
        if self.output_kind == "logits":
            return torch.sigmoid(y)
        if self.output_kind == "minmax":
            low = torch.amin(y, [1, 2, 3], keepdim=True)
            return (y - low) / torch.clamp(torch.amax(y, [1, 2, 3], keepdim=True) - low, min=1e-12)
        return y
