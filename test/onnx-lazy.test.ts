// onnxruntime-node is loaded on first use of a FrozenModel only, so the CKA and solver parts of
// restnet work without it. (No import of onnx-helpers here: it loads onnxruntime itself.) This file runs in its own forked process (vitest pool 'forks').
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const ortLoaded = (): boolean => Object.keys(require.cache).some((k) => k.includes('onnxruntime-node'));

it('importing restnet does not load onnxruntime-node; loading a model does', async () => {
  const restnet = await import('../lib/index.js');
  const onnx = await import('../lib/onnx/index.js');
  expect(typeof restnet.cka).toBe('function');
  expect(ortLoaded()).toBe(false);
  const m = await onnx.FrozenModel.load(join(import.meta.dirname, 'fixtures', 'onnx', 'cnn-b.onnx'));
  expect(ortLoaded()).toBe(true);
  await m.dispose();
});
