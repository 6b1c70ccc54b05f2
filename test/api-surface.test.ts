// The public surface is what the README documents: lib/index.ts's exports (names, kinds, types)
// must equal the committed listing api/restnet.api.txt. A change of the surface fails here until
// the listing is regenerated (`npm run api`) and the diff reviewed with the README.
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

// @ts-expect-error: a plain .mjs script without type declarations
import { apiListing, listingPath } from '../scripts/api-listing.mjs';

describe('public API', () => {
  it('matches the committed listing', () => {
    const committed = readFileSync(listingPath as string, 'utf8')
      .trimEnd()
      .split('\n');
    expect((apiListing as () => string[])()).toEqual(committed);
  }, 60_000);

  it('keeps internals out of the public index', () => {
    const names = new Set((apiListing as () => string[])().map((line) => line.split(' ')[1]!.replace(/:$/, '')));
    for (const internal of [
      'bySize',
      'monotoneAssignment',
      'refineSettings',
      'refineSettingsFor',
      'refineTargets',
      'refineOnTask',
      'RefineJob',
      'DEFAULT_LINE_MARGIN',
    ]) {
      expect(names.has(internal), internal).toBe(false);
    }
    for (const documented of [
      'cka',
      'ckaMatrix',
      'fitStitch',
      'trainStitch',
      'analyze',
      'plan',
      'fit',
      'evaluate',
      'predictions',
      'markPareto',
      'paretoVerdicts',
      'lineAt',
      'wilsonInterval',
      'ReStNet',
    ]) {
      expect(names.has(documented), documented).toBe(true);
    }
  }, 60_000);
});
