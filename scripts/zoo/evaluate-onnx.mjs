// Runs one exported anchor in onnxruntime-node for scripts/zoo/export.py: correct counts on
// t10k 0-4999 and 5000-9999, and the logits of the first images so that python can compare
// them with torch. Usage: node evaluate-onnx.mjs model.onnx images.f32 labels.u8
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const [modelPath, imagesPath, labelsPath] = process.argv.slice(2);
if (!modelPath || !imagesPath || !labelsPath) {
  throw new Error('usage: node evaluate-onnx.mjs model.onnx images.f32 labels.u8');
}
const pixels = 28 * 28;
const imageBytes = readFileSync(imagesPath);
const images = new Float32Array(imageBytes.buffer, imageBytes.byteOffset, imageBytes.byteLength / 4);
const labels = readFileSync(labelsPath);
if (images.length !== labels.length * pixels) {
  throw new Error(`${imagesPath}: ${images.length} floats for ${labels.length} labels`);
}

const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 2, interOpNumThreads: 1 });

async function logitsOf(start, count) {
  const input = new ort.Tensor('float32', images.slice(start * pixels, (start + count) * pixels), [count, 1, 28, 28]);
  const out = await session.run({ pixels: input });
  return out.logits.data;
}

const ranges = [
  [0, 5000],
  [5000, 10000],
];
const correct = [];
const batchSizes = new Set();
for (const [lo, hi] of ranges) {
  let right = 0;
  // 997 does not divide 5000, so the last batch of each range has another size: checks the dynamic axis.
  for (let start = lo; start < hi; start += 997) {
    const count = Math.min(997, hi - start);
    batchSizes.add(count);
    const logits = await logitsOf(start, count);
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let c = 1; c < 10; c++) if (logits[i * 10 + c] > logits[i * 10 + best]) best = c;
      if (best === labels[start + i]) right++;
    }
  }
  correct.push(right);
}
const probeCount = 8;
const probeLogits = Array.from(await logitsOf(0, probeCount));
process.stdout.write(
  JSON.stringify({
    count: ranges.map(([lo, hi]) => hi - lo),
    correct,
    batchSizes: [...batchSizes],
    probeCount,
    probeLogits,
  }),
);
