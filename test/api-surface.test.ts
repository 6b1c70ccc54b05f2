// The public surface is what the README documents: lib/index.ts's exports (names, kinds, types)
// must equal the committed listing api/restnet.api.txt, and every exported value (function,
// class, constant) of that listing must appear as code in the README's API sections. A change of
// the surface fails here until the listing is regenerated (`npm run api`) and the README says it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { apiListing, listingPath } from '../scripts/api-listing.mjs';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

/** The README's library part: from "## API" up to the CLI's section, where the commands begin. */
function apiSections(markdown: string): string {
  const start = markdown.search(/^## API$/m);
  const end = markdown.slice(start).search(/^## The `restnet` command$/m);
  if (start < 0 || end < 0) throw new Error('README.md: expected "## API" followed by "## The `restnet` command"');
  return markdown.slice(start, start + end);
}

/**
 * The names the markdown documents: those an example imports from 'restnet' in a fenced block,
 * and those that begin an inline `span` (`gram(x, ...)`, `MinibatchCKA`, `net.select` does not
 * count for `select`). A name merely used inside code (a destructured `stitch`) does not count.
 */
function documentedNames(markdown: string): Set<string> {
  const fence = /^```[^\n]*\n([\s\S]*?)^```/gm;
  const imports = [...markdown.matchAll(fence)].flatMap((m) =>
    [...m[1]!.matchAll(/import\s*\{([^}]*)\}\s*from\s*'restnet'/g)].flatMap((i) =>
      i[1]!.split(',').map((name) => name.trim()),
    ),
  );
  // A span runs from one backtick to the next (it may wrap a line); its first identifier counts.
  const spans = [...markdown.replace(fence, '').matchAll(/`([A-Za-z_$][\w$]*)[^`]*`/g)].map((m) => m[1]!);
  return new Set([...imports, ...spans]);
}

/** Exported values of a listing: functions, classes, constants (types are documented with them). */
function undocumentedValues(listing: string[], markdown: string): string[] {
  const documented = documentedNames(apiSections(markdown));
  return listing
    .filter((line) => /^(function|class|const) /.test(line))
    .map((line) => line.split(' ')[1]!.replace(/:$/, ''))
    .filter((name) => !documented.has(name));
}

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

  it('documents every exported value in the README API sections', () => {
    expect(undocumentedValues((apiListing as () => string[])(), readme)).toEqual([]);
  }, 60_000);

  it('finds a value the README does not name', () => {
    const listing = ['function cka: () => number', 'class ReStNet { }', 'const MAC_OPS: readonly string[]'];
    const markdown = [
      '## API',
      '`cka(x, y)` and MAC_OPS in prose, `net.ReStNet`, `x`MAC_OPS',
      '```ts',
      "import { ReStNet } from 'restnet';",
      'const { MAC_OPS } = other;',
      '```',
      '## The `restnet` command',
      '`MAC_OPS`',
    ].join('\n');
    expect(undocumentedValues(listing, markdown)).toEqual(['MAC_OPS']);
    expect(undocumentedValues(listing, markdown.replace('import { ReStNet }', 'import { X }'))).toEqual([
      'ReStNet',
      'MAC_OPS',
    ]);
  });
});
