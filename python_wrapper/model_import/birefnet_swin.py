"""The Swin Transformer (v1) backbone of BiRefNet, under the official
parameter names (patch_embed, layers.S.blocks.B.attn ..., normS).

It is the detection-style Swin that BiRefNet uses: any input size works,
each stage pads its map to a multiple of the window, shifted windows mask
attention across the wrapped border, and the four stages' outputs are
layer-normalised and returned as N x C x H x W maps at 1/4 .. 1/32 scale.
"""

from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# embed width -> (name, blocks per stage, heads per stage, window); the
# width alone tells Swin-T/S apart only with the block count of stage 3.
SWIN_SIZES = {
    "swin_v1_t": (96, [2, 2, 6, 2], [3, 6, 12, 24], 7),
    "swin_v1_s": (96, [2, 2, 18, 2], [3, 6, 12, 24], 7),
    "swin_v1_b": (128, [2, 2, 18, 2], [4, 8, 16, 32], 12),
    "swin_v1_l": (192, [2, 2, 18, 2], [6, 12, 24, 48], 12),
}


def relative_position_index(window: int) -> Tensor:
    """Window^2 x window^2 index into the (2w-1)^2 bias table, as Swin
    defines it: (dy + w - 1) * (2w - 1) + (dx + w - 1). A new int64
    tensor the caller owns; pure, any thread; raises nothing for window >= 1."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    delta = coords[:, :, None] - coords[:, None, :] + (window - 1)
    return delta[0] * (2 * window - 1) + delta[1]


def windows_of(x: Tensor, window: int) -> Tensor:
    """B x H x W x C (H, W multiples of window) -> B*nW x window^2 x C,
    windows in row-major order per image. A new tensor (x is not changed);
    pure, any thread; RuntimeError when H or W is not a multiple."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c)


def shift_regions(size: int, window: int, shift: int, device: torch.device) -> Tensor:
    """0, 1, 2 along a padded side: the parts a cyclic shift brings
    together. A new int64 tensor; pure, any thread; raises nothing."""
    index = torch.arange(size, device=device)
    return (index >= size - window).to(torch.int64) + (index >= size - shift).to(torch.int64)


def shift_mask(height: int, width: int, window: int, shift: int, device: torch.device) -> Tensor:
    """nW x N x N additive mask (0 or -inf) keeping shifted-window
    attention within the regions that were neighbours before the roll.
    A new float32 tensor; pure, any thread; RuntimeError when the sides
    are not multiples of window."""
    rows = shift_regions(height, window, shift, device)
    cols = shift_regions(width, window, shift, device)
    label = (rows[:, None] * 3 + cols[None, :]).to(torch.float32)
    label = windows_of(label.view(1, height, width, 1), window).squeeze(-1)
    differs = label[:, None, :] != label[:, :, None]
    return torch.zeros(differs.shape, device=device).masked_fill(differs, float("-inf"))


class Dense(nn.Linear):
    """nn.Linear (same parameters and names) computed as a 1 x 1
    convolution over the tokens: libtorch runs convolutions through oneDNN
    (and the shim lowers them to bf16), while a linear layer goes to
    whatever BLAS libtorch was built with, much slower on Debian's reference
    BLAS (benchmarks/RESULTS.md, BiRefNet imported from weights)."""

    def forward(self, x: Tensor) -> Tensor:
        channels = x.shape[-1]
        rows = x.numel() // channels
        # A channels-last view of the token rows: no copy in or out.
        tokens = x.reshape(1, rows, 1, channels).permute(0, 3, 1, 2)
        y = F.conv2d(tokens, self.weight[:, :, None, None], self.bias)
        out_shape = list(x.shape[:-1])
        out_shape.append(self.weight.shape[0])
        return y.permute(0, 2, 3, 1).reshape(out_shape)


class Mlp(nn.Module):
    """fc1, GELU, fc2. Like every module here: forward writes no state, so
    one instance may serve several threads; it raises RuntimeError for
    inputs of the wrong shape."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = Dense(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = Dense(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class WindowAttention(nn.Module):
    """Multi-head attention within each window, with Swin's learned
    relative-position bias and, for shifted windows, the region mask."""

    def __init__(self, dim: int, window: int, heads: int):
        super().__init__()
        self.heads = heads
        self.scale = float((dim // heads) ** -0.5)
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        # A persistent buffer: the official state dicts carry it.
        self.register_buffer("relative_position_index", relative_position_index(window))
        self.qkv = Dense(dim, 3 * dim)
        self.proj = Dense(dim, dim)

    def forward(self, x: Tensor, mask: Tensor, masked: bool) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = (q * self.scale) @ k.transpose(-2, -1) + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if masked:
            windows = mask.shape[0]
            attn = attn.view(b // windows, windows, self.heads, n, n) + mask[None, :, None]
            attn = attn.view(b, self.heads, n, n)
        out = (torch.softmax(attn, dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(out)


class SwinBlock(nn.Module):
    """One Swin block on B x H*W x C tokens: (shifted) window attention and
    the MLP, each after a layer norm and added back."""

    def __init__(self, dim: int, heads: int, window: int, shift: int):
        super().__init__()
        self.window = window
        self.shift = shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, 4 * dim)

    def forward(self, x: Tensor, height: int, width: int, mask: Tensor) -> Tensor:
        b, _, c = x.shape
        y = self.norm1(x).view(b, height, width, c)
        pad_w = (self.window - width % self.window) % self.window
        pad_h = (self.window - height % self.window) % self.window
        y = F.pad(y, [0, 0, 0, pad_w, 0, pad_h])  # padded tokens take part as zeros, as upstream
        hp, wp = height + pad_h, width + pad_w
        if self.shift > 0:
            y = torch.roll(y, shifts=[-self.shift, -self.shift], dims=[1, 2])
        y = self.attn(windows_of(y, self.window), mask, self.shift > 0)
        w = self.window
        y = y.view(b, hp // w, wp // w, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, c)
        if self.shift > 0:
            y = torch.roll(y, shifts=[self.shift, self.shift], dims=[1, 2])
        y = y[:, :height, :width, :].reshape(b, height * width, c)
        x = x + y
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2 x 2 neighbours concatenated (padded when a side is odd), layer
    norm, linear to twice the width."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = Dense(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        b, _, c = x.shape
        x = F.pad(x.view(b, height, width, c), [0, 0, 0, width % 2, 0, height % 2])
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.reshape(b, -1, 4 * c)))


class NoMerging(nn.Module):
    """The last stage's stand-in for PatchMerging: no parameters, as upstream."""

    def forward(self, x: Tensor, height: int, width: int) -> Tensor:
        return x


class SwinStage(nn.Module):
    """A stage: alternating plain and shifted blocks, then the merging."""

    def __init__(self, dim: int, depth: int, heads: int, window: int, downsample: bool):
        super().__init__()
        self.window = window
        self.shift = window // 2
        self.blocks = nn.ModuleList([SwinBlock(dim, heads, window, 0 if i % 2 == 0 else window // 2)
                                     for i in range(depth)])
        self.downsample = PatchMerging(dim) if downsample else NoMerging()

    def forward(self, x: Tensor, height: int, width: int) -> Tuple[Tensor, Tensor]:
        """(this stage's output, the next stage's input)."""
        hp = (height + self.window - 1) // self.window * self.window
        wp = (width + self.window - 1) // self.window * self.window
        mask = shift_mask(hp, wp, self.window, self.shift, x.device).to(x.dtype)
        for block in self.blocks:
            x = block(x, height, width, mask)
        return x, self.downsample(x, height, width)


class PatchEmbed(nn.Module):
    """4 x 4 patches (the image padded to a multiple of 4) to tokens, layer-normalised."""

    def __init__(self, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, 4, 4)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor) -> Tuple[Tensor, int, int]:
        """(N x L x C tokens, height, width of the token map)."""
        x = self.proj(F.pad(x, [0, (4 - x.shape[3] % 4) % 4, 0, (4 - x.shape[2] % 4) % 4]))
        return self.norm(x.flatten(2).transpose(1, 2)), x.shape[2], x.shape[3]


class SwinTransformer(nn.Module):
    """Swin v1 backbone; forward(x) gives the four normalised stage maps."""

    def __init__(self, embed_dim: int, depths: List[int], heads: List[int], window: int):
        super().__init__()
        self.widths = [embed_dim * 2 ** i for i in range(4)]
        self.patch_embed = PatchEmbed(embed_dim)
        self.layers = nn.ModuleList([SwinStage(self.widths[i], depths[i], heads[i], window, i < 3)
                                     for i in range(4)])
        self.norm0 = nn.LayerNorm(self.widths[0])
        self.norm1 = nn.LayerNorm(self.widths[1])
        self.norm2 = nn.LayerNorm(self.widths[2])
        self.norm3 = nn.LayerNorm(self.widths[3])

    def forward(self, x: Tensor) -> List[Tensor]:
        x, height, width = self.patch_embed(x)
        outs: List[Tensor] = []
        sizes: List[List[int]] = []
        for stage in self.layers:
            out, x = stage(x, height, width)
            outs.append(out)
            sizes.append([height, width])
            height, width = (height + 1) // 2, (width + 1) // 2
        outs = [self.norm0(outs[0]), self.norm1(outs[1]), self.norm2(outs[2]), self.norm3(outs[3])]
        return [o.view(-1, s[0], s[1], o.shape[2]).permute(0, 3, 1, 2).contiguous() for o, s in zip(outs, sizes)]
