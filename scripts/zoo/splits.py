"""Writes the shipped Fashion-MNIST subset to zoo/data/ and describes it for the manifest."""
import json
import os

import numpy as np

from idx_data import CLASSES, EVAL_RANGE, calibration_indices, write_idx

CALIBRATION_SEED = 20240501
FILES = {
    'calibration': ('calibration-images-idx3-ubyte.gz', 'calibration-labels-idx1-ubyte.gz'),
    'eval': ('eval-images-idx3-ubyte.gz', 'eval-labels-idx1-ubyte.gz'),
}
INDEX_FILE = 'calibration-indices.json'


def dataset_description():
    """The manifest's `dataset` entry (paths relative to zoo/)."""
    return {
        'name': 'Fashion-MNIST',
        'licence': 'MIT',
        'copyright': '2017 Zalando SE',
        'source': 'https://github.com/zalandoresearch/fashion-mnist, via Debian package dataset-fashion-mnist '
                  '(/usr/share/datasets/fashion-mnist/)',
        'classes': CLASSES,
        'imageShape': [28, 28],
        'splits': {
            'calibration': {
                'images': 'data/' + FILES['calibration'][0],
                'labels': 'data/' + FILES['calibration'][1],
                'size': 5000,
                'from': 'train-images-idx3-ubyte',
                'which': f'500 images per class drawn without replacement with numpy.random.default_rng('
                         f'{CALIBRATION_SEED}).choice, one class after another (0..9), stored in ascending '
                         f'training-set index order; the indices are listed in data/{INDEX_FILE}',
                'indices': 'data/' + INDEX_FILE,
            },
            'eval': {
                'images': 'data/' + FILES['eval'][0],
                'labels': 'data/' + FILES['eval'][1],
                'size': EVAL_RANGE[1] - EVAL_RANGE[0],
                'from': 't10k-images-idx3-ubyte',
                'which': f'test images {EVAL_RANGE[0]}-{EVAL_RANGE[1] - 1}, in file order',
            },
        },
    }


def write_splits(source, zoo_dir, log):
    train_images, train_labels, test_images, test_labels = source
    data_dir = os.path.join(zoo_dir, 'data')
    os.makedirs(data_dir, exist_ok=True)
    calib = calibration_indices(train_labels, per_class=500, seed=CALIBRATION_SEED)
    assert np.all(np.bincount(train_labels[calib], minlength=10) == 500)
    lo, hi = EVAL_RANGE
    parts = {'calibration': (train_images[calib], train_labels[calib]),
             'eval': (test_images[lo:hi], test_labels[lo:hi])}
    for split, (images, labels) in parts.items():
        write_idx(os.path.join(data_dir, FILES[split][0]), images)
        write_idx(os.path.join(data_dir, FILES[split][1]), labels)
        log(f'wrote {split}: {images.shape[0]} images, per class {np.bincount(labels, minlength=10).tolist()}')
    with open(os.path.join(data_dir, INDEX_FILE), 'w') as f:
        json.dump({'source': 'train-images-idx3-ubyte', 'seed': CALIBRATION_SEED,
                   'indices': calib.tolist()}, f, separators=(',', ':'))
        f.write('\n')
