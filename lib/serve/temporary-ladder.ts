// TEMPORARY (delete after rebasing onto the runtime split, which adds ReStNet.ladder()): the
// ladder derived from the public records, offered configurations and anchors ordered by MACs.
import type { Rung } from '../restnet/adapt.js';
import type { ReStNet } from '../restnet/runtime.js';

export function temporaryLadder(net: ReStNet): Rung[] {
  const rungs: Rung[] = [
    ...net.configs.filter((c) => c.pareto !== false).map((c) => ({ id: c.id, kind: 'stitched' as const, accuracy: c.accuracy, macs: c.macs, latencyMs: null, source: 'macs' as const })),
    ...net.anchorRecords.map((a) => ({ id: a.name, kind: 'anchor' as const, accuracy: a.accuracy, macs: a.macs, latencyMs: null, source: 'macs' as const })),
  ];
  return rungs.sort((a, b) => a.macs - b.macs);
}
