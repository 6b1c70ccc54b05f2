// Dev-time check of the gradient rules on exported models (scripts/models/torchvision_grad_check.py
// exports torchvision models and runs this): for each ONNX file, builds the gradient graph of
// every cut point and compares a few against central finite differences of the loss.
// Usage (after `npm run compile:ts`): node scripts/models/grad-check.mjs model.onnx ...
// Prints a markdown table: model, cuts, gradients built, max relative error at the checked cuts.
import { directionalError } from '../../dist/onnx/grad-check.js';
import { FrozenModel } from '../../dist/onnx/index.js';

const paths = process.argv.slice(2);
if (paths.length === 0) throw new Error('usage: node scripts/models/grad-check.mjs model.onnx ...');

/** Deterministic values in [-1, 1). */
function values(n, seed) {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

const rows = [];
let failed = false;
for (const path of paths) {
  const name = path.replace(/^.*\//, '').replace(/\.onnx$/, '');
  const model = await FrozenModel.load(path, { threads: 1 });
  try {
    // Every cut strictly between the input and the logits starts a back segment.
    const cuts = model
      .cutPoints()
      .slice(1, -1)
      .map((c) => c.name);
    const errors = new Map();
    const built = [];
    for (const cut of cuts) {
      try {
        model.gradient(cut);
        built.push(cut);
      } catch (e) {
        const reason = e.message
          .replace(/^gradient of '[^']*': /, '')
          .replace(/'[^']*'/g, "'…'")
          .slice(0, 160);
        errors.set(reason, (errors.get(reason) ?? 0) + 1);
      }
    }
    // Finite differences at the middle cut and at three quarters of the way to the logits.
    const checked = [
      ...new Set([built[Math.floor(built.length / 2)], built[Math.floor((3 * built.length) / 4)]]),
    ].filter(Boolean);
    const n = 2;
    const pixels = {
      data: values(n * model.sampleDims(model.input.name).reduce((a, b) => a * b, 1), 1),
      dims: [n, ...model.sampleDims(model.input.name)],
    };
    const acts = checked.length > 0 ? await model.capture(pixels, checked) : {};
    const k = model.sampleDims(model.output.name)[0];
    // One-hot targets: the logits' gradient is softmax - target, never zero.
    const target = { data: new Float32Array(n * k), dims: [n, k] };
    for (let i = 0; i < n; i++) target.data[i * k + (i % k)] = 1;
    let worst = 0;
    for (const [i, cut] of checked.entries()) {
      const x = acts[cut];
      const randoms = [1, 2].map((seed) => values(x.data.length, 100 * i + seed));
      // Small steps: ReLU-like kinks make larger ones inexact.
      const err = await directionalError(model.gradient(cut), x, target, 1e-3, randoms);
      worst = Math.max(worst, err);
      console.error(`${name}: '${cut}' relative error ${err.toExponential(2)}`);
    }
    if (errors.size > 0 || worst > 2e-2) failed = true;
    rows.push(
      `| ${name} | ${cuts.length} | ${built.length === cuts.length ? 'yes' : `${built.length} of ${cuts.length}`} | ${checked.length} | ${worst.toExponential(1)} |`,
    );
    for (const [reason, count] of errors) rows.push(`|  | ${count} failed: ${reason} | | | |`);
  } finally {
    await model.dispose();
  }
}
console.log('| model | cuts | all gradients built | cuts checked | max relative error |');
console.log('|---|---|---|---|---|');
for (const r of rows) console.log(r);
process.exit(failed ? 1 : 0);
