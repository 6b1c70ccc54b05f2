"""The two anchor families. Both read `pixels` [N, 1, 28, 28] in [0, 1] and normalise inside the
model, and both can return the tensors at their block boundaries (the natural stitching points)
next to the logits, which is how the exporter names those tensors in the ONNX graph.

Spatial alignment for heterogeneous stitching: CNN stage 3 is a 7x7 grid in which cell (i, j)
has stride 4, and the ViT's 4x4 patches form the same 7x7 grid (token 1 + 7*i + j covers pixels
[4i, 4i+4) x [4j, 4j+4)), so a stage-3 feature map and the ViT tokens line up cell by cell.
"""
import torch
from torch import nn

# Fashion-MNIST training-set statistics of pixel/255.
MEAN, STD = 0.2860, 0.3530


class Normalize(nn.Module):
    def forward(self, x):
        return (x - MEAN) / STD


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv+BN, identity shortcut or 1x1 conv+BN when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.shortcut(x))


class ResNetCNN(nn.Module):
    """Stem at 28x28, then three stages at 28x28, 14x14 and 7x7 (stride-2 first block in stages 2, 3)."""

    def __init__(self, widths, depths, classes=10):
        super().__init__()
        self.normalize = Normalize()
        self.stem = nn.Sequential(nn.Conv2d(1, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        self.block_names = ['stem']
        stages = []
        cin = widths[0]
        for s, (width, depth) in enumerate(zip(widths, depths)):
            blocks = []
            for b in range(depth):
                blocks.append(BasicBlock(cin, width, 2 if (s > 0 and b == 0) else 1))
                self.block_names.append(f'stage{s + 1}.block{b}')
                cin = width
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(cin, classes)

    def forward(self, pixels, return_blocks=False):
        x = self.stem(self.normalize(pixels))
        boundaries = [x]
        for stage in self.stages:
            for block in stage:
                x = block(x)
                boundaries.append(x)
        logits = self.head(torch.flatten(self.pool(x), 1))
        return (logits, *boundaries) if return_blocks else logits


class Attention(nn.Module):
    """Multi-head self-attention written out (no fused op) so the ONNX graph is plain MatMul/Softmax."""

    def __init__(self, dim, heads, tokens):
        super().__init__()
        # Static token count and width: read from x.shape they would trace to Shape/Gather ops.
        self.tokens, self.dim = tokens, dim
        self.heads, self.head_dim = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        tokens, dim = self.tokens, self.dim
        # -1 for the batch keeps the exported Reshape shapes constant while the batch stays dynamic.
        qkv = self.qkv(x).reshape(-1, tokens, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax((q @ k.transpose(-2, -1)) * self.head_dim ** -0.5, dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(-1, tokens, dim))


class TransformerBlock(nn.Module):
    """Pre-norm: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, dim, heads, mlp_ratio, tokens):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, tokens)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """4x4 patches -> 49 tokens + CLS (first) with learned positions; pre-norm blocks; head on CLS."""

    def __init__(self, dim, depth, heads, mlp_ratio, classes=10, patch=4):
        super().__init__()
        self.normalize = Normalize()
        self.patch_embed = nn.Conv2d(1, dim, patch, patch)
        grid = 28 // patch
        self.dim, self.grid = dim, grid
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, grid * grid + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([TransformerBlock(dim, heads, mlp_ratio, grid * grid + 1) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)
        self.block_names = ['embed'] + [f'blocks.{i}' for i in range(depth)]
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def forward(self, pixels, return_blocks=False):
        # [N, D, 7, 7] -> [N, 49, D], tokens in row-major grid order (reshape with -1, not flatten(2),
        # keeps the exported Reshape shape a constant).
        x = self.patch_embed(self.normalize(pixels)).reshape(-1, self.dim, self.grid * self.grid).transpose(1, 2)
        # CLS broadcast to the batch as x[:, :1] * 0 + cls rather than cls.expand(N, ...): same values
        # (inputs are finite), but exports as Slice/Mul/Add, whose shapes ONNX infers statically,
        # instead of a Shape/ConstantOfShape/Expand chain.
        cls = x[:, :1] * 0 + self.cls_token
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        boundaries = [x]
        for block in self.blocks:
            x = block(x)
            boundaries.append(x)
        logits = self.head(self.norm(x)[:, 0])
        return (logits, *boundaries) if return_blocks else logits


# The zoo. Small and large of each family; `train` holds the recipe used to produce the shipped files.
ANCHORS = {
    'cnn-s': dict(family='cnn', build=lambda: ResNetCNN(widths=(16, 32, 64), depths=(1, 1, 1)),
                  train=dict(epochs=5, lr=3e-3, weight_decay=5e-4, batch=128, flip=True)),
    'cnn-l': dict(family='cnn', build=lambda: ResNetCNN(widths=(24, 48, 96), depths=(1, 2, 2)),
                  train=dict(epochs=5, lr=3e-3, weight_decay=5e-4, batch=128, flip=True)),
    'vit-s': dict(family='vit', build=lambda: ViT(dim=64, depth=2, heads=4, mlp_ratio=2),
                  train=dict(epochs=8, lr=2e-3, weight_decay=0.05, batch=128, flip=True)),
    'vit-l': dict(family='vit', build=lambda: ViT(dim=96, depth=4, heads=4, mlp_ratio=2),
                  train=dict(epochs=10, lr=1.5e-3, weight_decay=0.05, batch=128, flip=True)),
}
