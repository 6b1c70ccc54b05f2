"""Fashion-MNIST IDX files: reading the Debian copies, choosing and writing the shipped splits.

The IDX format (LeCun et al.): a 4-byte magic 0x00 0x00 <dtype> <ndim>, then ndim big-endian
uint32 dimensions, then the data in row-major order. Only unsigned bytes (dtype 0x08) occur in
Fashion-MNIST, so only that type is read and written here.
"""
import gzip
import os
import struct

import numpy as np

SOURCE_DIR = '/usr/share/datasets/fashion-mnist'
UBYTE = 0x08
CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
           'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']


def read_idx(path):
    """Returns the array stored in a (gzip-compressed) IDX ubyte file."""
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != UBYTE:
        raise ValueError(f'{path}: not an IDX ubyte file (magic {raw[:4].hex()})')
    ndim = raw[3]
    dims = struct.unpack(f'>{ndim}I', raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f'{path}: header says {dims} ({np.prod(dims)} bytes), found {data.size}')
    return data.reshape(dims).copy()  # frombuffer is read-only; torch wants writable memory


def write_idx(path, array):
    """Writes a uint8 array as gzip IDX. mtime=0 and no file name in the gzip header keep the
    bytes identical from run to run."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, UBYTE, array.ndim]) + struct.pack(f'>{array.ndim}I', *array.shape)
    with open(path, 'wb') as raw:
        with gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(header)
            f.write(array.tobytes())


def load_source():
    """The full Debian copy: (train_images, train_labels, test_images, test_labels)."""
    def part(name):
        return read_idx(os.path.join(SOURCE_DIR, name))
    return (part('train-images-idx3-ubyte.gz'), part('train-labels-idx1-ubyte.gz'),
            part('t10k-images-idx3-ubyte.gz'), part('t10k-labels-idx1-ubyte.gz'))


def calibration_indices(train_labels, per_class=500, seed=20240501):
    """Training-set indices of the calibration split: `per_class` images of each class drawn
    without replacement by numpy's PCG64 generator with a fixed seed, returned in ascending
    index order (so classes are interleaved as in the original file)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(10):
        members = np.flatnonzero(train_labels == c)
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


EVAL_RANGE = (0, 5000)  # t10k images 0..4999, in file order
REST_RANGE = (5000, 10000)  # the unshipped half of t10k: reported by the script, never shipped
