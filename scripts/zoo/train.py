#!/usr/bin/env python3
"""Trains the restnet zoo (cnn-s, cnn-l, vit-s, vit-l) on Fashion-MNIST and exports it to zoo/.

    npm run zoo:train                      # everything: data splits, training, export, manifest
    npm run zoo:train -- --only cnn-s      # one anchor (others keep their manifest entries)
    npm run zoo:train -- --stage train     # train only; checkpoints go to --work-dir
    npm run zoo:train -- --stage export    # export from the checkpoints of an earlier run

Needs Debian's python3-torch, python3-onnx and dataset-fashion-mnist, run with /usr/bin/python3,
and Node with onnxruntime-node (npm ci) to verify the exported files. Torch's default Debian BLAS
is the slow reference one; if libopenblas0-pthread is installed the script re-executes itself
with OpenBLAS on LD_LIBRARY_PATH (for this process only; ViT training is ~5x faster).
"""
import argparse
import json
import os
import sys
import time

OPENBLAS_DIR = '/usr/lib/x86_64-linux-gnu/openblas-pthread'
if os.path.isdir(OPENBLAS_DIR) and OPENBLAS_DIR not in os.environ.get('LD_LIBRARY_PATH', ''):
    os.environ['LD_LIBRARY_PATH'] = OPENBLAS_DIR + ':' + os.environ.get('LD_LIBRARY_PATH', '')
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402  (after the BLAS re-exec on purpose)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from idx_data import load_source  # noqa: E402
from models import ANCHORS  # noqa: E402
from training import to_tensor, train  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))


def log(msg):
    print(msg, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--only', action='append', choices=list(ANCHORS), help='anchor(s) to build (default: all)')
    p.add_argument('--stage', choices=['all', 'data', 'train', 'export'], default='all')
    p.add_argument('--epochs', type=int, help='override every recipe\'s epoch count (for quick trials; pair with --zoo-dir elsewhere so the shipped files stay)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--zoo-dir', default=os.path.join(ROOT, 'zoo'))
    p.add_argument('--work-dir', default=os.path.join(os.path.expanduser('~'), '.cache', 'restnet-zoo'),
                   help='checkpoints and scratch files (outside the repo)')
    return p.parse_args()


def train_stage(names, args, source):
    train_images, train_labels, test_images, test_labels = source
    train_x, train_y = to_tensor(train_images), torch.from_numpy(train_labels.astype('int64'))
    test_x, test_y = to_tensor(test_images), torch.from_numpy(test_labels.astype('int64'))
    os.makedirs(args.work_dir, exist_ok=True)
    for name in names:
        spec = ANCHORS[name]
        recipe = dict(spec['train'])
        if args.epochs:
            recipe['epochs'] = args.epochs
        log(f'== training {name} ({recipe["epochs"]} epochs, {args.threads} threads, seed {args.seed})')
        torch.manual_seed(args.seed)
        model = spec['build']()
        history, seconds = train(model, recipe, train_x, train_y, test_x, test_y, args.seed, log)
        log(f'== {name}: trained in {seconds:.0f} s')
        torch.save(dict(state=model.state_dict(), recipe=recipe, seed=args.seed, history=history,
                        train_seconds=seconds), os.path.join(args.work_dir, f'{name}.pt'))


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    names = args.only or list(ANCHORS)
    started = time.time()
    source = load_source()
    if args.stage in ('all', 'data'):
        from manifest import update_manifest
        from splits import write_splits
        write_splits(source, args.zoo_dir, log)
        update_manifest(args.zoo_dir)
    if args.stage in ('all', 'train'):
        train_stage(names, args, source)
    if args.stage in ('all', 'export'):
        from export import export_stage
        export_stage(names, args, source, log)
    log(f'done in {time.time() - started:.0f} s')


if __name__ == '__main__':
    main()
