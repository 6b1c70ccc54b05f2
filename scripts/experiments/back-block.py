"""Does a trainable copy of the back's first block close the mid-depth gap of cnn-l -> cnn-s?

A dev-time PyTorch experiment (issue 12; the library is not changed). On the zoo pair
cnn-l -> cnn-s every lever on the stitching layer alone left the mid-depth configurations
1.2-2.6 points below the line between the anchors (bench/results/pareto.md). Hypothesis: the
frozen cnn-s back never learned to read cnn-l's features. Here the stitch of each configuration
is trained as the library trains it, (a) alone and (b) together with a trainable copy of the
first cnn-s block after the cut (the anchors stay frozen; the copy would be stored in the stitch
file), (c) as (b) with the block at a tenth of the learning rate, and, as an upper bound, with a
copy of the whole back (every block after the cut and the head) at 3e-4 and at 3e-3.

What is reproduced from the library:
- The anchors: ResNetCNN of scripts/zoo/models.py with BatchNorm folded into the convolutions, as
  the exporter wrote them (conv weights + biases read from the ONNX initializers). Checked against
  the library's FrozenModel logits (onnxruntime) on 100 validation images.
- The data: holdOut(loadZooSplit('calibration'), 1000, 0): 4,000 training and 1,000 validation
  images, dumped from node by scripts/experiments/dump-splits.mjs. No Fashion-MNIST test image is
  used.
- The stitch: a 1x1 linear map (+bias) fitted by least squares on the training activations (rows
  are positions; ridge 1e-4 x rows on W), on the front's grid; where the back's grid is twice the
  front's, the map writes C*4 values per cell and DepthToSpace(2, DCR) lays them out; then a
  per-position offset on the back's grid (the mean least-squares residual per position), then a
  ReLU (the back's cut is a ReLU output).
- Refinement: Adam lr 3e-3, cosine to 0 over 6 epochs of batch 32, targets 0.5 one-hot label +
  0.5 softmax(cnn-l logits), soft-target cross-entropy; the kept parameters are those of the
  epoch (0 = least squares, or 3-6) with the best validation accuracy (the later of equals).

Run (from the repository root, after `npm run compile`; about 2 minutes per seed on one thread):
  node scripts/experiments/dump-splits.mjs build/experiments
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 scripts/experiments/back-block.py \
      build/experiments [seeds, default 0] [configurations 1,2,3] [variants, default all]
The seed sets the order of the training batches only (the start is least squares, no randomness).
Two more arguments, [extra images, default 0] [epochs, default 6], add the first EXTRA Fashion-MNIST
training images outside the zoo's calibration split (Debian's dataset-fashion-mnist) to the 4,000
and set the epochs: the data lever (bench/results/pareto.md, "More training images"; 20,000 images
x 6 epochs, stitch only, seeds 0-2: 92.60% / 92.67% on configurations 2 / 3).

Numbers it produced (seeds 0,1,2; validation accuracy %, 1,000 images; mean of the three seeds,
then its distance to the line in points):
  anchors: cnn-l 94.1 (94.4 on the 4,000 training images), cnn-s 92.5 (93.1); PyTorch logits vs
  the library's FrozenModel on 100 images: max |diff| 4.8e-6 (cnn-l), 3.8e-6 (cnn-s)
  configuration (MMACs, line)     stitch        + block 3e-3  + block 3e-4  whole back 3e-4  whole back 3e-3
  s1b0 -> s1b0 (14.2, 92.78)      90.03 -2.75   90.30 -2.48   90.43 -2.35   90.63 -2.15      89.90 -2.88
  s2b0 -> s1b0 (20.8, 93.16)      92.20 -0.96   92.20 -0.96   92.30 -0.86   92.30 -0.86      91.10 -2.06
  s2b1 -> s2b0 (25.9, 93.45)      91.83 -1.62   92.33 -1.12   91.90 -1.55   91.93 -1.52      92.43 -1.02
  seed 0, stitch only: 90.1 / 92.1 / 91.7 (the library's refinement: 90.2 / 92.0 / 91.8)
  parameters added by the block copy: 14,432 / 14,432 / 57,536 (the whole back: 72,618 / 72,618 /
  58,186; the stitch itself: 12,944 / 15,680 / 7,840); time per run 5-18 s.
Verdict: the copy moves the configurations by +0.27 / 0.00 / +0.50 points, within the seed
spread (0.2-0.7) at the first two; even retraining the whole back leaves them 0.9-2.2 points
below the line. The frozen back is not what holds them down.
"""
import copy
import math
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import nn

torch.set_num_threads(1)  # the machine's other core belongs to CI and the other jobs
MEAN, STD = 0.2860, 0.3530  # scripts/zoo/models.py


class Block(nn.Module):
    """BasicBlock of scripts/zoo/models.py with each BatchNorm folded into its convolution."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.conv2(F.relu(self.conv1(x)))
        return F.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


class FoldedCNN(nn.Module):
    """ResNetCNN (folded): `blocks` is the list of block boundaries in order, stem first."""

    def __init__(self, widths, depths):
        super().__init__()
        self.stem = nn.Conv2d(1, widths[0], 3, 1, 1)
        self.names, blocks, cin = [], [], widths[0]
        for s, (width, depth) in enumerate(zip(widths, depths)):
            for b in range(depth):
                blocks.append(Block(cin, width, 2 if (s > 0 and b == 0) else 1))
                self.names.append(f'stage{s + 1}.block{b}')
                cin = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(cin, 10)

    def front(self, pixels, cut):
        """The activation at block boundary `cut` ('stem' or 'stageS.blockB')."""
        x = F.relu(self.stem((pixels - MEAN) / STD))
        if cut == 'stem':
            return x
        for name, block in zip(self.names, self.blocks):
            x = block(x)
            if name == cut:
                return x
        raise ValueError(cut)

    def back_blocks(self, cut):
        """The blocks after boundary `cut`."""
        return list(self.blocks)[0 if cut == 'stem' else self.names.index(cut) + 1:]

    def classify(self, x):
        return self.head(x.mean(dim=(2, 3)))

    def forward(self, pixels):
        return self.classify(self.front(pixels, self.names[-1]))


def load_anchor(path, widths, depths):
    """Builds the folded model and copies the ONNX initializers into it by name (shapes checked)."""
    model = FoldedCNN(widths, depths)
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(path).graph.initializer}
    ours = {}
    for name, tensor in model.state_dict().items():
        # Ours: blocks.<k>.conv1.weight; ONNX: model.stages.<s>.<b>.conv1.weight.
        if name.startswith('blocks.'):
            k, rest = name.split('.', 2)[1:]
            s, b = model.names[int(k)][5:].split('.block')
            source = f'model.stages.{int(s) - 1}.{b}.{rest.replace("shortcut.", "shortcut.0.")}'
        else:
            source = 'model.' + name.replace('stem.', 'stem.0.')
        if weights[source].shape != tensor.shape:
            raise ValueError(f'{path}: {source} is {tuple(weights[source].shape)}, expected {tuple(tensor.shape)}')
        ours[name] = weights.pop(source)
    if weights:
        raise ValueError(f'{path}: initializers left unused: {sorted(weights)}')
    model.load_state_dict(ours)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@torch.no_grad()
def batched(fn, x, size=250):
    return torch.cat([fn(x[i:i + size]) for i in range(0, len(x), size)])


def least_squares_stitch(xf, yb, factor, ridge=1e-4):
    """W, b, offsets of the library's default stitch, fitted on front xf [N,Cf,h,w], back yb [N,Cb,H,W].

    factor 2: depth-to-space (DCR): the map's output column (i*2 + j)*Cb + c is back pixel
    (2h + i, 2w + j), channel c of front cell (h, w)."""
    n, cf, h, w = xf.shape
    cb = yb.shape[1]
    x = xf.permute(0, 2, 3, 1).reshape(-1, cf).double()
    # [N, Cb, h, f, w, f] -> [N, h, w, f_i, f_j, Cb]: the DCR order.
    y = yb.reshape(n, cb, h, factor, w, factor).permute(0, 2, 4, 3, 5, 1).reshape(-1, factor * factor * cb).double()
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    a = xc.T @ xc + ridge * len(x) * torch.eye(cf, dtype=torch.float64)
    weight = torch.linalg.solve(a, xc.T @ yc)
    bias = ym - xm @ weight
    stitch = Stitch(weight.float(), bias.float(), torch.zeros(cb, h * factor, w * factor), factor)
    with torch.no_grad():
        residual = batched(lambda z: stitch.linear(z), xf) - yb
        stitch.offset.copy_(-residual.mean(0))
    return stitch


class Stitch(nn.Module):
    """relu(depth_to_space(x W + b) + offset): the library's default cnn-cnn stitch."""

    def __init__(self, weight, bias, offset, factor):
        super().__init__()
        self.map = nn.Conv2d(weight.shape[0], weight.shape[1], 1)
        with torch.no_grad():
            self.map.weight.copy_(weight.T[:, :, None, None])
            self.map.bias.copy_(bias)
        self.offset = nn.Parameter(offset.clone())
        self.factor = factor

    def linear(self, x):
        y = self.map(x)
        if self.factor == 1:
            return y
        # ONNX DepthToSpace, DCR (torch's pixel_shuffle is CRD): channel (i*f + j)*C + c -> pixel (i, j), channel c.
        n, _, h, w = y.shape
        f = self.factor
        return y.reshape(n, f, f, -1, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, -1, h * f, w * f)

    def forward(self, x):
        return F.relu(self.linear(x) + self.offset)


def accuracy(logits, labels):
    return (logits.argmax(1) == labels).float().mean().item()


def train(stitch, back, head, copies, feats, targets, val_feats, val_labels, lr=3e-3, copy_lr=None, epochs=6, batch=32, seed=0, labels=None):
    """The library's refinement: Adam, cosine to 0 per step, best-validation epoch of 0, 3..6 kept.

    back: the back's blocks in order, head: its classifier; copies: those of them that are
    trainable copies (trained at copy_lr with the stitch), the others are the frozen anchor's."""
    modules = [stitch] + copies

    def net(x):
        y = stitch(x)
        for b in back:
            y = b(y)
        return head(y.mean(dim=(2, 3)))

    groups = [{'params': stitch.parameters(), 'lr': lr}]
    if copies:
        groups.append({'params': [p for m in copies for p in m.parameters()], 'lr': copy_lr or lr})
    optimizer = torch.optim.Adam(groups)
    base = [g['lr'] for g in optimizer.param_groups]
    steps_per_epoch = math.ceil(len(feats) / batch)
    total = epochs * steps_per_epoch
    generator = torch.Generator().manual_seed(seed)

    def validate():
        for m in modules:
            m.eval()
        return accuracy(batched(net, val_feats), val_labels)

    best = (validate(), 0, [copy.deepcopy(m.state_dict()) for m in modules])
    history = [best[0]]
    step = 0
    for epoch in range(1, epochs + 1):
        for m in modules:
            m.train()
        order = torch.randperm(len(feats), generator=generator)
        for start in range(0, len(feats), batch):
            idx = order[start:start + batch]
            scale = 0.5 * (1 + math.cos(math.pi * step / total))
            for g, b0 in zip(optimizer.param_groups, base):
                g['lr'] = b0 * scale
            loss = -(targets[idx] * F.log_softmax(net(feats[idx]), 1)).sum(1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
        if epoch >= epochs // 2:
            acc = validate()
            history.append(acc)
            if acc >= best[0]:
                best = (acc, epoch, [copy.deepcopy(m.state_dict()) for m in modules])
    for m, state in zip(modules, best[2]):
        m.load_state_dict(state)
    for m in modules:
        m.eval()
    return best[0], best[1], history, accuracy(batched(net, feats), targets.argmax(1) if labels is None else labels)


def debian_training_images(count, root='/usr/share/datasets/fashion-mnist'):
    """The first `count` training images (in index order) that are not in the zoo's calibration split."""
    import gzip
    import json
    calibration = set(json.load(open('zoo/data/calibration-indices.json'))['indices'])
    with gzip.open(f'{root}/train-images-idx3-ubyte.gz') as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f'{root}/train-labels-idx1-ubyte.gz') as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    keep = [i for i in range(len(labels)) if i not in calibration][:count]
    if len(keep) < count:
        raise ValueError(f'only {len(keep)} training images outside the calibration split, asked for {count}')
    return torch.from_numpy(images[keep].astype(np.float32) / 255), torch.from_numpy(labels[keep].astype(np.int64))


def params(module):
    return sum(p.numel() for p in module.parameters())


if __name__ == '__main__':
    data = sys.argv[1] if len(sys.argv) > 1 else 'build/experiments'
    load = lambda name: torch.from_numpy(np.load(f'{data}/{name}.npy'))
    x_train, y_train = load('train-images'), load('train-labels').long()
    # More training images (the data lever): Fashion-MNIST training images outside the zoo's
    # calibration split (so none of the 1,000 validation images), from Debian's dataset-fashion-mnist.
    extra = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    epochs = int(sys.argv[6]) if len(sys.argv) > 6 else 6
    if extra:
        x_more, y_more = debian_training_images(extra)
        x_train, y_train = torch.cat([x_train, x_more]), torch.cat([y_train, y_more])
        print(f'training on {len(x_train)} images ({extra} beyond the calibration split), {epochs} epochs')
    x_val, y_val = load('validation-images'), load('validation-labels').long()
    cnn_l = load_anchor('zoo/cnn-l.onnx', (24, 48, 96), (1, 2, 2))
    cnn_s = load_anchor('zoo/cnn-s.onnx', (16, 32, 64), (1, 1, 1))
    for name, model in [('cnn-l', cnn_l), ('cnn-s', cnn_s)]:
        diff = (batched(model, x_val[:100]) - load(f'{name}-logits100')).abs().max().item()
        print(f'{name}: validation {100 * accuracy(batched(model, x_val), y_val):.1f}%, train {100 * accuracy(batched(model, x_train), y_train):.1f}%,'
              f' max |logit - FrozenModel| {diff:.2g}')

    # MACs of each configuration and the anchors (restnet-out/manifest.json) and their validation accuracies.
    small, large = (9.35, 100 * accuracy(batched(cnn_s, x_val), y_val)), (37.2, 100 * accuracy(batched(cnn_l, x_val), y_val))
    line = lambda macs: small[1] + (macs - small[0]) / (large[0] - small[0]) * (large[1] - small[1])
    teacher = batched(cnn_l, x_train)
    targets = 0.5 * F.one_hot(y_train, 10).float() + 0.5 * F.softmax(teacher, 1)
    # stitch: (a); block: (b), a trainable copy of the back's first block; block-lr/10: (c), the copy at
    # lr 3e-4; whole-back-lr/10: every back block and the head copied and trained at 3e-4 (an upper
    # bound: a stitch file that stores the whole back); whole-back: the same at 3e-3.
    variants = ['stitch', 'block', 'block-lr/10', 'whole-back-lr/10', 'whole-back']
    seeds = [int(s) for s in sys.argv[2].split(',')] if len(sys.argv) > 2 else [0]
    # Which configurations (1-based, default all).
    chosen = [int(c) for c in sys.argv[3].split(',')] if len(sys.argv) > 3 else [1, 2, 3]
    if len(sys.argv) > 4:
        variants = sys.argv[4].split(',')
    configurations = [('stage1.block0', 'stage1.block0', 14.2),
                      ('stage2.block0', 'stage1.block0', 20.8),
                      ('stage2.block1', 'stage2.block0', 25.9)]
    for front_cut, back_cut, macs in [configurations[c - 1] for c in chosen]:
        feats, val_feats = batched(lambda x: cnn_l.front(x, front_cut), x_train), batched(lambda x: cnn_l.front(x, front_cut), x_val)
        back_in = batched(lambda x: cnn_s.front(x, back_cut), x_train)
        factor = back_in.shape[2] // feats.shape[2]
        back = cnn_s.back_blocks(back_cut)
        print(f'{front_cut} {tuple(feats.shape[1:])} -> {back_cut} {tuple(back_in.shape[1:])} ({macs} MMACs, line {line(macs):.2f}%)')
        for variant in variants:
            copied = {'stitch': 0, 'block': 1, 'block-lr/10': 1, 'whole-back-lr/10': len(back), 'whole-back': len(back)}[variant]
            copies = [copy.deepcopy(m).requires_grad_(True) for m in back[:copied]]
            head = copy.deepcopy(cnn_s.head).requires_grad_(True) if variant.startswith('whole-back') else cnn_s.head
            trainable = copies + ([head] if head is not cnn_s.head else [])
            accs = []
            for seed in seeds:
                stitch = least_squares_stitch(feats, back_in, factor)
                for m, original in zip(trainable, back[:copied] + [cnn_s.head]):
                    m.load_state_dict(original.state_dict())
                start = time.time()
                acc, epoch, history, train_acc = train(stitch, copies + back[copied:], head, trainable, feats, targets, val_feats,
                                                       y_val, copy_lr=3e-4 if variant.endswith('lr/10') else None, seed=seed,
                                                       labels=y_train, epochs=epochs)
                accs.append(100 * acc)
                print(f'  {variant:16s} seed {seed}: validation {100 * acc:.1f}% ({100 * acc - line(macs):+.2f} vs line),'
                      f' train {100 * train_acc:.1f}%, epoch {epoch} kept, epochs 0,3-6: {" ".join(f"{100 * a:.1f}" for a in history)};'
                      f' {time.time() - start:.0f} s; stitch {params(stitch)} params, copies {sum(map(params, trainable))}', flush=True)
            mean = sum(accs) / len(accs)
            print(f'  {variant:16s} mean of {len(seeds)}: {mean:.2f}% ({mean - line(macs):+.2f} vs line)', flush=True)
