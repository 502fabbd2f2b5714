"""Modulated deformable convolution (DCNv2) from plain tensor ops.

BiRefNet's decoder uses a deformable convolution whose offsets and
modulation come from two ordinary convolutions of the same input. The
sampling is written here with grid_sample, so a scripted model needs no
torchvision operator and runs wherever libtorch does.

For each kernel tap (i, j) and output pixel (y, x) the input is read,
bilinearly, at (y - pad + i + dy, x - pad + j + dx), where (dy, dx) is the
tap's pair of offset channels; a point outside the map reads zero, corners
outside it count as zero. The reads are scaled by the tap's modulation and
summed through the tap's weights.
"""

from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def deform_conv(x: Tensor, offset: Tensor, modulation: Tensor, weight: Tensor, bias: Optional[Tensor],
                padding: int) -> Tensor:
    """Stride-1, dilation-1 modulated deformable convolution.

    x: N x C x H x W; offset: N x 2K x H x W, (dy, dx) per tap in row-major
    tap order; modulation: N x K x H x W; weight: O x C x k x k (K = k*k).
    Returns a new N x O x H x W tensor; the inputs are not modified. Pure
    function, safe from any thread. Raises RuntimeError when the shapes
    disagree.
    """
    _, _, height, width = x.shape
    out_channels, in_channels, kernel, _ = weight.shape
    # Sampling points and reads in float32 whatever the model's precision:
    # bf16 would put a point on a 256-wide map up to a pixel off, and
    # libtorch's CPU grid_sample has no bf16 kernel.
    source = x.to(torch.float32)
    offset = offset.to(torch.float32)
    modulation = modulation.to(torch.float32)
    rows = torch.arange(height, dtype=torch.float32, device=x.device).view(1, height, 1)
    cols = torch.arange(width, dtype=torch.float32, device=x.device).view(1, 1, width)
    out = torch.zeros(0)
    # One kernel row at a time: its k reads stacked on the channels go
    # through one convolution; all k*k reads at once would take k*k times
    # the feature map's memory (49 times for a 7 x 7 kernel).
    for i in range(kernel):
        reads: List[Tensor] = []
        for j in range(kernel):
            tap = i * kernel + j
            ys = rows + float(i - padding) + offset[:, 2 * tap]
            xs = cols + float(j - padding) + offset[:, 2 * tap + 1]
            # grid_sample's align_corners=False coordinates map pixel p to
            # (2p + 1) / size - 1 exactly, also for a side of one pixel.
            grid = torch.stack(((2.0 * xs + 1.0) / width - 1.0, (2.0 * ys + 1.0) / height - 1.0), dim=-1)
            read = F.grid_sample(source, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
            reads.append((read * modulation[:, tap:tap + 1]).to(x.dtype))
        # Channel j * C + c of the stack is input channel c read at tap (i, j).
        row_weight = weight[:, :, i, :].permute(0, 2, 1).reshape(out_channels, kernel * in_channels, 1, 1)
        term = F.conv2d(torch.cat(reads, 1), row_weight.contiguous())
        out = term if i == 0 else out + term
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


class DeformableConv2d(nn.Module):
    """BiRefNet's DeformableConv2d: offset_conv (2K channels),
    modulator_conv (K channels, through 2 * sigmoid) and regular_conv (the
    weights), all k x k with padding k // 2."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int):
        super().__init__()
        taps = kernel_size * kernel_size
        self.padding = padding
        self.offset_conv = nn.Conv2d(in_channels, 2 * taps, kernel_size, 1, padding, bias=True)
        self.modulator_conv = nn.Conv2d(in_channels, taps, kernel_size, 1, padding, bias=True)
        self.regular_conv = nn.Conv2d(in_channels, out_channels, kernel_size, 1, padding, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        offset = self.offset_conv(x)
        modulation = 2.0 * torch.sigmoid(self.modulator_conv(x))
        return deform_conv(x, offset, modulation, self.regular_conv.weight, self.regular_conv.bias, self.padding)
