"""Exports trained anchors to ONNX (opset 17, BatchNorm folded, block boundaries named), verifies
the files, and writes zoo/manifest.json.

Naming: the model's forward can return its block-boundary tensors next to the logits, so the
exporter is asked for outputs ['logits', 'stem', 'stage1.block0', ...]; torch names those graph
values exactly so, and every consumer already refers to them by that name. The extra graph
outputs are then dropped again (their shapes stay as value_info), leaving `logits` as the only
output and the boundary tensors as named intermediate values.
"""
import copy
import hashlib
import json
import os
import subprocess

import numpy as np
import onnx
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from cost import count_macs, count_params
from models import ANCHORS, BasicBlock
from manifest import BATCH, update_manifest
from training import to_tensor

OPSET = 17
MAX_ANCHOR_BYTES = 4 * 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))


def fold_batchnorm(model):
    """Returns an eval-mode copy with every Conv2d+BatchNorm2d pair fused into one Conv2d."""
    model = copy.deepcopy(model).eval()
    for m in list(model.modules()):
        if isinstance(m, BasicBlock):
            m.conv1, m.bn1 = fuse_conv_bn_eval(m.conv1, m.bn1), nn.Identity()
            m.conv2, m.bn2 = fuse_conv_bn_eval(m.conv2, m.bn2), nn.Identity()
        if isinstance(m, nn.Sequential):
            layers = list(m)
            for i in range(len(layers) - 1):
                if isinstance(layers[i], nn.Conv2d) and isinstance(layers[i + 1], nn.BatchNorm2d):
                    m[i], m[i + 1] = fuse_conv_bn_eval(layers[i], layers[i + 1]), nn.Identity()
    leftover = [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if leftover:
        raise RuntimeError(f'BatchNorm left after folding: {leftover}')
    return model


class WithBlocks(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixels):
        return self.model(pixels, return_blocks=True)


def dims_of(value_info):
    return [d.dim_param if d.HasField('dim_param') else d.dim_value
            for d in value_info.type.tensor_type.shape.dim]


def export_onnx(name, model, path, log):
    block_names = model.block_names
    sample = torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        torch_blocks = model(sample, return_blocks=True)[1:]
    names = ['logits'] + block_names
    torch.onnx.export(WithBlocks(model), (sample,), path, opset_version=OPSET, input_names=['pixels'],
                      output_names=names, dynamic_axes={n: {0: BATCH} for n in ['pixels'] + names},
                      do_constant_folding=True, training=torch.onnx.TrainingMode.EVAL)
    proto = onnx.load(path)
    graph = proto.graph
    outputs = {o.name: o for o in graph.output}
    missing = [n for n in names if n not in outputs]
    if missing:
        raise RuntimeError(f'{name}: exporter did not keep output names {missing}')
    # The exporter's own shape inference gives up on some dims after Expand/Reshape(-1, ...) and
    # invents names such as 'Addembed_dim_1'; the boundary shapes are known from torch instead
    # ([N, ...] with static feature dims), so state those and let ONNX infer the rest.
    block_infos = [onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, [BATCH, *t.shape[1:]])
                   for n, t in zip(block_names, torch_blocks)]
    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info('logits', onnx.TensorProto.FLOAT, [BATCH, 10]))
    del graph.value_info[:]
    graph.value_info.extend(block_infos)
    proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True, data_prop=True)
    graph = proto.graph
    proto.doc_string = f'restnet zoo anchor {name}: Fashion-MNIST classifier, pixels [N,1,28,28] in [0,1] -> logits [N,10]'
    onnx.helper.set_model_props(proto, {'restnet.anchor': name, 'restnet.blocks': ','.join(block_names)})
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, path)

    # Checks on what was written: the I/O contract, no BatchNorm, every boundary produced by a node
    # and still consumed, with the shape torch gives it.
    io = {v.name: dims_of(v) for v in [*graph.input, *graph.output]}
    if io != {'pixels': [BATCH, 1, 28, 28], 'logits': [BATCH, 10]}:
        raise RuntimeError(f'{name}: graph inputs/outputs are {io}')
    ops = {n.op_type for n in graph.node}
    if 'BatchNormalization' in ops:
        raise RuntimeError(f'{name}: BatchNormalization nodes remain')
    produced = {o for n in graph.node for o in n.output}
    consumed = {i for n in graph.node for i in n.input}
    blocks = []
    for block_name, tensor in zip(block_names, torch_blocks):
        if block_name not in produced or block_name not in consumed:
            raise RuntimeError(f'{name}: boundary {block_name} is not an intermediate value of the graph')
        inferred = [v for v in graph.value_info if v.name == block_name]
        shape = dims_of(inferred[0]) if len(inferred) == 1 else None
        expected = [BATCH] + list(tensor.shape[1:])
        if shape != expected:
            raise RuntimeError(f'{name}: boundary {block_name} has shape {shape}, torch says {expected}')
        blocks.append({'name': block_name, 'tensor': block_name, 'shape': shape})
    log(f'  exported {os.path.basename(path)}: {os.path.getsize(path)} bytes, ops {sorted(ops)}')
    return blocks


def write_test_arrays(source, work_dir):
    """Raw float32 test images and uint8 labels for the Node/onnxruntime check."""
    _, _, test_images, test_labels = source
    images_path = os.path.join(work_dir, 'test-images.f32')
    labels_path = os.path.join(work_dir, 'test-labels.u8')
    to_tensor(test_images).numpy().astype('<f4').tofile(images_path)
    test_labels.astype(np.uint8).tofile(labels_path)
    return images_path, labels_path


def run_onnxruntime(path, images_path, labels_path):
    """Runs the exported file in onnxruntime-node (python onnxruntime is not packaged in Debian)."""
    out = subprocess.run(['node', os.path.join(HERE, 'evaluate-onnx.mjs'), path, images_path, labels_path],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def sha256_of(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def export_stage(names, args, source, log):
    zoo_dir, work_dir = args.zoo_dir, args.work_dir
    os.makedirs(work_dir, exist_ok=True)
    images_path, labels_path = write_test_arrays(source, work_dir)
    test_x = to_tensor(source[2])
    exported = {}
    for name in names:
        spec = ANCHORS[name]
        checkpoint = torch.load(os.path.join(work_dir, f'{name}.pt'))
        model = spec['build']()
        model.load_state_dict(checkpoint['state'])
        model.eval()
        folded = fold_batchnorm(model)
        with torch.no_grad():
            diff = float((folded(test_x[:256]) - model(test_x[:256])).abs().max())
        if diff > 1e-3:
            raise RuntimeError(f'{name}: BatchNorm folding changed the logits by {diff}')
        log(f'== exporting {name} (folding changed logits by at most {diff:.2e})')
        path = os.path.join(zoo_dir, f'{name}.onnx')
        blocks = export_onnx(name, folded, path, log)
        size = os.path.getsize(path)
        if size > MAX_ANCHOR_BYTES:
            raise RuntimeError(f'{name}: {size} bytes is over the 4 MB budget')

        ort = run_onnxruntime(path, images_path, labels_path)
        with torch.no_grad():
            reference = folded(test_x[:ort['probeCount']]).numpy()
        probe_diff = float(np.abs(np.array(ort['probeLogits'], dtype=np.float32).reshape(reference.shape) - reference).max())
        if probe_diff > 1e-3:
            raise RuntimeError(f'{name}: onnxruntime and torch logits differ by {probe_diff}')
        accuracy = ort['correct'][0] / ort['count'][0]
        held_out = ort['correct'][1] / ort['count'][1]
        log(f'  onnxruntime: test[0:5000] {accuracy * 100:.2f}%  test[5000:10000] {held_out * 100:.2f}%  '
            f'(max |logit diff| vs torch {probe_diff:.1e}, batch sizes {ort["batchSizes"]})')
        exported[name] = {
            'name': name,
            'family': spec['family'],
            'file': f'{name}.onnx',
            'bytes': size,
            'sha256': sha256_of(path),
            'opset': OPSET,
            'input': {'name': 'pixels', 'dtype': 'float32', 'shape': [BATCH, 1, 28, 28], 'range': [0, 1]},
            'output': {'name': 'logits', 'dtype': 'float32', 'shape': [BATCH, 10]},
            'params': count_params(folded),
            'macs': count_macs(folded),
            'accuracy': accuracy,
            'correct': ort['correct'][0],
            'accuracyHeldOut': held_out,
            'trainSeconds': round(checkpoint['train_seconds'], 1),
            'epochs': checkpoint['recipe']['epochs'],
            'seed': checkpoint['seed'],
            'recipe': checkpoint['recipe'],
            'blocks': blocks,
        }
    log(f'wrote {update_manifest(zoo_dir, exported)}')
