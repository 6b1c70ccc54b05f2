"""Parameter and multiply-add counts per image.

MACs count the multiply-adds of convolutions, linear layers and the two attention matmuls
(Q.K^T and attn.V); normalisation, activations, softmax and residual adds are not counted.
Counted on the exported (BatchNorm-folded) model, so the numbers describe the shipped file.
"""
import torch
from torch import nn

from models import Attention


def count_params(model):
    return sum(p.numel() for p in model.parameters())


def count_macs(model):
    total = 0
    hooks = []

    def conv_hook(m, inputs, output):
        nonlocal total
        total += output[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m, inputs, output):
        nonlocal total
        total += output[0].numel() * m.in_features

    def attention_hook(m, inputs, output):
        nonlocal total
        tokens, dim = inputs[0].shape[1], inputs[0].shape[2]
        total += 2 * tokens * tokens * dim  # Q.K^T and attn.V over all heads

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, Attention):
            hooks.append(m.register_forward_hook(attention_hook))
    with torch.no_grad():
        model.eval()
        model(torch.zeros(1, 1, 28, 28))  # batch of one: output[0] is one image's output
    for h in hooks:
        h.remove()
    return int(total)
