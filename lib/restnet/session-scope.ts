// Measuring every configuration of a family one after another (accuracy, latency, the Pareto
// filter's validation) builds one fused session each, with arenas sized for the measuring
// batches; kept, they would make memory grow with the number of configurations. A scope builds
// the session the work needs and releases it afterwards unless the caller already had it.
import type { ReStNet } from './runtime.js';

/** Runs `work` on `id`'s session (built first), then releases it if it was not there before. */
export async function withSession<T>(net: ReStNet, id: string, work: () => Promise<T>): Promise<T> {
  const held = net.memory().fused.ids.includes(id);
  await net.warmup([id]);
  try {
    return await work();
  } finally {
    if (!held) net.release(id);
  }
}
