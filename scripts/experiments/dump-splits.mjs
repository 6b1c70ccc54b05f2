// Dumps the library's own train/validation split of the zoo calibration data to .npy files, so a
// PyTorch experiment (scripts/experiments/back-block.py) trains and selects on exactly the images
// the library uses: holdOut(loadZooSplit('calibration'), 1000, 0). Also dumps both anchors' logits
// on the first 100 validation images from the library's FrozenModel (onnxruntime), the reference
// the PyTorch rebuild of the anchors is checked against.
//
// Run (after `npm run compile`): node scripts/experiments/dump-splits.mjs [outDir]
// Writes train-images.npy float32 [4000,1,28,28] in [0,1], train-labels.npy uint8 [4000],
// validation-images.npy, validation-labels.npy, cnn-l-logits100.npy, cnn-s-logits100.npy.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeNpy, FrozenModel, holdOut, loadZooSplit } from '../../dist/index.js';
import { zooAnchor } from '../../dist/data/zoo.js';

const out = process.argv[2] ?? 'build/experiments';
mkdirSync(out, { recursive: true });

const writeNpy = (path, array, shape) => writeFileSync(path, encodeNpy(array, shape));

const { train, validation } = holdOut(loadZooSplit('calibration'), 1000, 0);
for (const [name, part] of [
  ['train', train],
  ['validation', validation],
]) {
  writeNpy(join(out, `${name}-images.npy`), part.images, [part.rows, 1, 28, 28]);
  writeNpy(join(out, `${name}-labels.npy`), part.labels, [part.rows]);
}
const first = { data: validation.images.slice(0, 100 * 784), dims: [100, 1, 28, 28] };
for (const name of ['cnn-l', 'cnn-s']) {
  const model = await FrozenModel.load(zooAnchor(name).path);
  const logits = await model.run(first);
  writeNpy(join(out, `${name}-logits100.npy`), logits.data, logits.dims);
}
console.log(`wrote ${train.rows} train and ${validation.rows} validation images to ${out}`);
