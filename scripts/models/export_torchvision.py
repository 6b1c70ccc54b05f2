"""Exports torchvision classifiers with random weights to ONNX for real-size runs (dev time only:
the files go to a scratch folder, never into the repository), plus random images and labels.

    /usr/bin/python3 scripts/models/export_torchvision.py OUTDIR [--models resnet34,resnet18]
        [--vit 6x384,4x192] [--patch 16] [--size 112] [--images 512] [--classes 1000]

--models names torchvision builders; NAME@W passes width_mult=W (mobilenet_v2@0.5 writes
mobilenet_v2_w0.5.onnx). --vit LxH builds torchvision's VisionTransformer with L layers and hidden
size H (H / 64 heads, MLP 4 H, as ViT-S/Ti) at patch --patch (16: 7 x 7 tokens at 112), its
head drawn as nn.Linear's default (torchvision's is zero), written as vit_LxH.onnx. Each model:
opset 17, one dynamic batch axis named N, input [N, 3, size, size], weights inside the file.
Data: OUTDIR/images.npy float32 [images, 3, size, size] (uniform in [0, 1]) and OUTDIR/labels.npy
int64 [images], seeded. Requires Debian's python3-torchvision and python3-onnx.
"""
import argparse
import os

import numpy as np
import onnx
import torch
import torchvision
from torchvision.models.vision_transformer import VisionTransformer

OPSET = 17


def torchvision_model(spec, classes):
    """(file stem, module) for a --models entry: NAME or NAME@WIDTH_MULT."""
    name, _, width = spec.partition('@')
    extra = {'width_mult': float(width)} if width else {}
    stem = f'{name}_w{width}' if width else name
    return stem, getattr(torchvision.models, name)(weights=None, num_classes=classes, **extra)


def vit_model(spec, size, patch, classes):
    """(file stem, module) for a --vit entry: LAYERSxHIDDEN."""
    layers, hidden = (int(v) for v in spec.split('x'))
    model = VisionTransformer(image_size=size, patch_size=patch, num_layers=layers, num_heads=hidden // 64,
                              hidden_dim=hidden, mlp_dim=4 * hidden, num_classes=classes)
    # torchvision starts the head at zero (weights and bias): every image's logits would be 0, so
    # the loss would not depend on the input and refinement's gradients through it would be 0.
    model.heads.head.reset_parameters()
    return f'vit_{spec}', model


def export(stem, model, out, size):
    model.eval()
    path = os.path.join(out, f'{stem}.onnx')
    x = torch.rand(2, 3, size, size)
    torch.onnx.export(model, x, path, opset_version=OPSET, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}}, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    print(f'{path}: {os.path.getsize(path) / 1e6:.1f} MB')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('out')
    parser.add_argument('--models', default='resnet34,resnet18')
    parser.add_argument('--vit', default='', help='comma-separated LAYERSxHIDDEN, e.g. 6x384,4x192')
    parser.add_argument('--patch', type=int, default=16)
    parser.add_argument('--size', type=int, default=112)
    parser.add_argument('--images', type=int, default=512)
    parser.add_argument('--classes', type=int, default=1000)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    # Not under torch.no_grad(): there nn.MultiheadAttention takes its fused fast path
    # (aten::_native_multi_head_attention), which has no ONNX export.
    for spec in filter(None, args.models.split(',')):
        torch.manual_seed(0)
        export(*torchvision_model(spec, args.classes), args.out, args.size)
    for spec in filter(None, args.vit.split(',')):
        torch.manual_seed(0)
        export(*vit_model(spec, args.size, args.patch, args.classes), args.out, args.size)
    rng = np.random.default_rng(0)
    np.save(os.path.join(args.out, 'images.npy'), rng.random((args.images, 3, args.size, args.size), dtype=np.float32))
    np.save(os.path.join(args.out, 'labels.npy'), rng.integers(0, min(args.classes, 256), args.images, dtype=np.int64))


if __name__ == '__main__':
    main()
