// Runs a suite once per SIMD path this CPU offers, so every kernel meets the references.
import { afterAll, beforeAll, describe } from 'vitest';

import { capabilities, setSimd, type SimdPath } from '../lib/index.js';

export function describeEachSimd(name: string, body: (path: SimdPath) => void): void {
  const initial = capabilities().simd;
  describe.each(capabilities().available)(`${name} [%s]`, (path) => {
    beforeAll(() => setSimd(path));
    afterAll(() => setSimd(initial));
    body(path);
  });
}
