"""zoo/manifest.json: read, update one part, write. The data stage writes `dataset`, the export
stage replaces the entries of the anchors it exported and keeps the others."""
import json
import os

from models import ANCHORS
from splits import dataset_description

BATCH = 'N'  # symbolic batch dimension, in the ONNX graphs and in the manifest's shapes


def update_manifest(zoo_dir, anchors=None):
    path = os.path.join(zoo_dir, 'manifest.json')
    entries = {}
    if os.path.exists(path):
        with open(path) as f:
            entries = {a['name']: a for a in json.load(f).get('anchors', [])}
    entries.update(anchors or {})
    manifest = {
        'format': 'restnet-zoo/1',
        'generatedBy': 'scripts/zoo/train.py',
        'batchDim': BATCH,
        'dataset': dataset_description(),
        'anchors': [entries[n] for n in ANCHORS if n in entries],
    }
    with open(path, 'w') as f:
        json.dump(manifest, f, indent=2)
        f.write('\n')
    return path
