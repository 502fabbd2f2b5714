"""BiRefNet's decoder side, under the official parameter names: the
deformable ASPP, the decoder and lateral blocks, the image-patch input
blocks and the gradient-attention heads, in the configuration the released
weights use (ASPPDeformable attention, BasicDecBlk, BasicLatBlk, patch
inputs split from the image, batch norm after each convolution).

Parameters that only training reads (conv_ms_spvn_*, gdt_convs_pred_*)
are kept, so a released state dict loads as it is; forward() does not use
them. As in the backbone, no forward writes state: one instance may serve
several threads, and wrong shapes raise RuntimeError.
"""

from typing import List

import torch
from torch import Tensor, nn

from .birefnet_deform import DeformableConv2d

ASPP_WIDTH = 256  # upstream's in_channelster
DECODER_WIDTH = 64  # BasicDecBlk's inter_channels ('fixed')
GRADIENT_WIDTH = 16  # the gradient-attention heads' _N


def resize(x: Tensor, size: List[int]) -> Tensor:
    """Bilinear with align_corners=True, as every resize in BiRefNet. A new
    tensor; pure, any thread; RuntimeError for a bad size. aten's op is
    called directly, as F.interpolate does: a scripted F.interpolate carries
    every mode of the torch that scripted it, which an older libtorch may
    not have."""
    return torch._C._nn.upsample_bilinear2d(x, size, True, None)


class AsppBranch(nn.Module):
    """_ASPPModuleDeformable: deformable conv, batch norm, ReLU."""

    def __init__(self, in_channels: int, kernel_size: int):
        super().__init__()
        self.atrous_conv = DeformableConv2d(in_channels, ASPP_WIDTH, kernel_size, kernel_size // 2)
        self.bn = nn.BatchNorm2d(ASPP_WIDTH)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.bn(self.atrous_conv(x)))


class AsppDeformable(nn.Module):
    """ASPPDeformable: a 1 x 1 branch, deformable 1/3/7 branches, the
    global average, fused by a 1 x 1 convolution (dropout is off in eval)."""

    def __init__(self, channels: int):
        super().__init__()
        self.aspp1 = AsppBranch(channels, 1)
        self.aspp_deforms = nn.ModuleList([AsppBranch(channels, k) for k in (1, 3, 7)])
        self.global_avg_pool = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)),
                                             nn.Conv2d(channels, ASPP_WIDTH, 1, bias=False),
                                             nn.BatchNorm2d(ASPP_WIDTH), nn.ReLU())
        self.conv1 = nn.Conv2d(ASPP_WIDTH * 5, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        parts = [self.aspp1(x)]
        for branch in self.aspp_deforms:
            parts.append(branch(x))
        # Upstream resizes the 1 x 1 average with align_corners=True: a broadcast.
        parts.append(self.global_avg_pool(x).expand(-1, -1, x.shape[2], x.shape[3]))
        return torch.relu(self.bn1(self.conv1(torch.cat(parts, 1))))


class DecoderBlock(nn.Module):
    """BasicDecBlk: conv 3 x 3 to 64, BN, ReLU, deformable ASPP, conv 3 x 3, BN."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, DECODER_WIDTH, 3, 1, 1)
        self.bn_in = nn.BatchNorm2d(DECODER_WIDTH)
        self.dec_att = AsppDeformable(DECODER_WIDTH)
        self.conv_out = nn.Conv2d(DECODER_WIDTH, out_channels, 3, 1, 1)
        self.bn_out = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.relu(self.bn_in(self.conv_in(x)))
        return self.bn_out(self.conv_out(self.dec_att(x)))


class LateralBlock(nn.Module):
    """BasicLatBlk: one 1 x 1 convolution."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class SimpleConvs(nn.Module):
    """Two 3 x 3 convolutions without activation (the image-patch inputs)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1)
        self.conv_out = nn.Conv2d(64, out_channels, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(self.conv1(x))


def gradient_convs(in_channels: int) -> nn.Sequential:
    """gdt_convs_K: conv 3 x 3 to 16, batch norm, ReLU (a Sequential
    upstream, hence .0 / .1 names). A new module; raises nothing."""
    return nn.Sequential(nn.Conv2d(in_channels, GRADIENT_WIDTH, 3, 1, 1), nn.BatchNorm2d(GRADIENT_WIDTH), nn.ReLU())


def one_by_one(in_channels: int) -> nn.Sequential:
    """A 1 x 1 convolution to one channel inside a Sequential (upstream's .0 names)."""
    return nn.Sequential(nn.Conv2d(in_channels, 1, 1))


def image_patches(x: Tensor, height: int, width: int) -> Tensor:
    """The image cut into a grid of height x width tiles stacked on the
    channels, channel-major then grid row then grid column (upstream's
    'b c (hg h) (wg w) -> b (c hg wg) h w'). A new tensor; pure, any
    thread; RuntimeError when the sides are not multiples of the tile."""
    b, c, full_h, full_w = x.shape
    rows, cols = full_h // height, full_w // width
    x = x.view(b, c, rows, height, cols, width).permute(0, 1, 2, 4, 3, 5)
    return x.reshape(b, c * rows * cols, height, width)


class Decoder(nn.Module):
    """Decoder(channels): channels are the four encoder widths, deepest
    first, after the multi-scale concatenation (twice the Swin widths)."""

    def __init__(self, channels: List[int]):
        super().__init__()
        c0, c1, c2, c3 = channels
        patch_out = [c // 8 for c in channels]
        self.ipt_blk5 = SimpleConvs(3 * 2 ** 10, patch_out[0])
        self.ipt_blk4 = SimpleConvs(3 * 2 ** 8, patch_out[0])
        self.ipt_blk3 = SimpleConvs(3 * 2 ** 6, patch_out[1])
        self.ipt_blk2 = SimpleConvs(3 * 2 ** 4, patch_out[2])
        self.ipt_blk1 = SimpleConvs(3, patch_out[3])
        self.decoder_block4 = DecoderBlock(c0 + patch_out[0], c1)
        self.decoder_block3 = DecoderBlock(c1 + patch_out[0], c2)
        self.decoder_block2 = DecoderBlock(c2 + patch_out[1], c3)
        self.decoder_block1 = DecoderBlock(c3 + patch_out[2], c3 // 2)
        self.conv_out1 = one_by_one(c3 // 2 + patch_out[3])
        self.lateral_block4 = LateralBlock(c1, c1)
        self.lateral_block3 = LateralBlock(c2, c2)
        self.lateral_block2 = LateralBlock(c3, c3)
        self.conv_ms_spvn_4 = nn.Conv2d(c1, 1, 1)
        self.conv_ms_spvn_3 = nn.Conv2d(c2, 1, 1)
        self.conv_ms_spvn_2 = nn.Conv2d(c3, 1, 1)
        self.gdt_convs_4 = gradient_convs(c1)
        self.gdt_convs_3 = gradient_convs(c2)
        self.gdt_convs_2 = gradient_convs(c3)
        self.gdt_convs_pred_4 = one_by_one(GRADIENT_WIDTH)
        self.gdt_convs_pred_3 = one_by_one(GRADIENT_WIDTH)
        self.gdt_convs_pred_2 = one_by_one(GRADIENT_WIDTH)
        self.gdt_convs_attn_4 = one_by_one(GRADIENT_WIDTH)
        self.gdt_convs_attn_3 = one_by_one(GRADIENT_WIDTH)
        self.gdt_convs_attn_2 = one_by_one(GRADIENT_WIDTH)

    def forward(self, x: Tensor, x1: Tensor, x2: Tensor, x3: Tensor, x4: Tensor) -> Tensor:
        """Logits N x 1 x H x W of the image x (H, W multiples of 32)."""
        p = torch.cat((x4, self.ipt_blk5(image_patches(x, x4.shape[2], x4.shape[3]))), 1)
        p = self.decoder_block4(p)
        p = p * torch.sigmoid(self.gdt_convs_attn_4(self.gdt_convs_4(p)))
        p = resize(p, [x3.shape[2], x3.shape[3]]) + self.lateral_block4(x3)
        p = torch.cat((p, self.ipt_blk4(image_patches(x, x3.shape[2], x3.shape[3]))), 1)
        p = self.decoder_block3(p)
        p = p * torch.sigmoid(self.gdt_convs_attn_3(self.gdt_convs_3(p)))
        p = resize(p, [x2.shape[2], x2.shape[3]]) + self.lateral_block3(x2)
        p = torch.cat((p, self.ipt_blk3(image_patches(x, x2.shape[2], x2.shape[3]))), 1)
        p = self.decoder_block2(p)
        p = p * torch.sigmoid(self.gdt_convs_attn_2(self.gdt_convs_2(p)))
        p = resize(p, [x1.shape[2], x1.shape[3]]) + self.lateral_block2(x1)
        p = torch.cat((p, self.ipt_blk2(image_patches(x, x1.shape[2], x1.shape[3]))), 1)
        p = resize(self.decoder_block1(p), [x.shape[2], x.shape[3]])
        p = torch.cat((p, self.ipt_blk1(x)), 1)
        return self.conv_out1(p)
