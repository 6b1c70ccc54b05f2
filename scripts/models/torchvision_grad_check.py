"""Exports torchvision models with random weights to ONNX, then checks their gradient graphs.

Dev-time check of restnet's gradient rules on the graphs real exporters write (issue 17): every
model is exported at a small resolution, opset 17, dynamic batch, into a temporary folder (or
--out), then scripts/models/grad-check.mjs (run on the compiled dist/) builds every cut's
gradient graph and compares a few against central finite differences.

Needs Debian's python3-torchvision and python3-onnx; run with /usr/bin/python3 from the
repository root after `npm run compile`:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/models/torchvision_grad_check.py
"""
import argparse
import os
import subprocess
import sys
import tempfile

import torch
import torchvision.models as tvm
from torchvision.models.vision_transformer import VisionTransformer

OPSET = 17


def models():
    """(name, module, input resolution): random weights, 10 classes, small inputs."""
    torch.manual_seed(0)
    return [
        ('resnet18', tvm.resnet18(num_classes=10), 64),
        ('mobilenet_v2', tvm.mobilenet_v2(num_classes=10), 64),
        ('mobilenet_v3_small', tvm.mobilenet_v3_small(num_classes=10), 64),
        ('efficientnet_b0', tvm.efficientnet_b0(num_classes=10), 64),
        ('regnet_y_400mf', tvm.regnet_y_400mf(num_classes=10), 64),
        ('vit_tiny', VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64, num_classes=10), 32),
    ]


def export(name, model, size, folder):
    # Batch-norm statistics measured on random inputs, as training would set them: with the
    # initial ones (mean 0, variance 1) activations shrink or grow through depth until the
    # loss no longer moves measurably in float32 at the early cuts.
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None  # a plain average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model(torch.randn(16, 3, size, size))
    model.eval()
    # torchvision starts linear layers at zero (VisionTransformer's head) or at std 0.01
    # (MobileNet's classifier): the logits would hardly depend on the input, and a loss that
    # does not move in float32 checks nothing. Unit-variance layers instead.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                torch.nn.init.normal_(m.weight, std=m.in_features ** -0.5)
    path = os.path.join(folder, f'{name}.onnx')
    sample = torch.randn(2, 3, size, size)
    torch.onnx.export(model, (sample,), path, opset_version=OPSET, input_names=['pixels'], output_names=['logits'],
                      dynamic_axes={'pixels': {0: 'N'}, 'logits': {0: 'N'}})
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', help='folder for the exported models (default: a temporary folder, removed after)')
    parser.add_argument('--only', nargs='*', help='model names to check (default: all)')
    args = parser.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or tmp
        os.makedirs(folder, exist_ok=True)
        paths = []
        for name, model, size in models():
            if args.only and name not in args.only:
                continue
            paths.append(export(name, model, size, folder))
            print(f'exported {name} ({size}x{size}) -> {paths[-1]}', file=sys.stderr)
        result = subprocess.run(['node', os.path.join(here, 'grad-check.mjs'), *paths])
    sys.exit(result.returncode)


if __name__ == '__main__':
    main()
