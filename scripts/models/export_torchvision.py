"""Exports torchvision classifiers with random weights to ONNX for real-size runs (dev time only:
the files go to a scratch folder, never into the repository), plus random images and labels.

    /usr/bin/python3 scripts/models/export_torchvision.py OUTDIR [--models resnet34,resnet18]
        [--size 112] [--images 512] [--classes 1000]

Each model: opset 17, one dynamic batch axis named N, input [N, 3, size, size], weights inside
the file (the restnet loaders read no external data). Data: OUTDIR/images.npy float32
[images, 3, size, size] (uniform in [0, 1]) and OUTDIR/labels.npy int64 [images], seeded.
Requires Debian's python3-torchvision and python3-onnx.
"""
import argparse
import os

import numpy as np
import onnx
import torch
import torchvision

OPSET = 17


def export(name, out, size, classes):
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, num_classes=classes).eval()
    path = os.path.join(out, f'{name}.onnx')
    x = torch.rand(2, 3, size, size)
    torch.onnx.export(model, x, path, opset_version=OPSET, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}}, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    print(f'{path}: {os.path.getsize(path) / 1e6:.1f} MB')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('out')
    parser.add_argument('--models', default='resnet34,resnet18')
    parser.add_argument('--size', type=int, default=112)
    parser.add_argument('--images', type=int, default=512)
    parser.add_argument('--classes', type=int, default=1000)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with torch.no_grad():
        for name in args.models.split(','):
            export(name, args.out, args.size, args.classes)
    rng = np.random.default_rng(0)
    np.save(os.path.join(args.out, 'images.npy'), rng.random((args.images, 3, args.size, args.size), dtype=np.float32))
    np.save(os.path.join(args.out, 'labels.npy'), rng.integers(0, min(args.classes, 256), args.images, dtype=np.int64))


if __name__ == '__main__':
    main()
