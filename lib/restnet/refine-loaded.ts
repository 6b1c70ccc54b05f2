// Refinement of one configuration of a family as loaded (on a device, with its own images): the
// glue between the runtime's records and refine.ts.
import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import type { StitchedModel } from '../stitch/stitched-model.js';
import type { Anchor } from './anchor.js';
import type { ImageInput, LongTaskOptions } from './inputs.js';
import type { ConfigRecord } from './manifest.js';
import { refineOnTask, refineSettingsFor, refineTargets, type RefineEpoch, type RefineOptions } from './refine.js';

/** The reason a configuration refined after the validation marks is not offered. */
const UNMARKED_SINCE_REFINED =
  'refined since the validation marks: not offered until markPareto(net, validation) marks it again';

/**
 * Trains the stitch of `entry` further on the task. Returns the new maps and a record marked
 * refined (with the epoch kept, and without a refineError from fitting) with every figure
 * measured on the old stitch cleared (evaluate() measures the accuracy again); the entry is not
 * changed. A record that had a validation verdict is not offered until markPareto() gives it a
 * new one: the old verdict, either way, was about a stitch that no longer exists.
 */
export async function refineLoaded(
  anchors: readonly Anchor[],
  entry: { record: ConfigRecord; maps: AdapterMaps; model: StitchedModel },
  data: ImageInput,
  options: RefineOptions & LongTaskOptions,
): Promise<{ record: ConfigRecord; maps: AdapterMaps; history: RefineEpoch[] }> {
  // refineSettings rejects unknown keys, so it gets the options without the long-task ones.
  const { onProgress: _progress, signal: _signal, ...rest } = options;
  const settings = refineSettingsFor(data, rest);
  const started = performance.now();
  const { record } = entry;
  const front = anchors.find((a) => a.name === record.front)!,
    back = anchors.find((a) => a.name === record.back)!;
  const targets = await refineTargets(settings.teacher === 'front' ? front : back, data, settings, options);
  const job = {
    front,
    frontCut: record.frontCut,
    back,
    backCut: record.backCut,
    adapter: entry.model.adapter,
    maps: entry.maps,
    id: record.id,
  };
  const { maps, history, epoch } = await refineOnTask(job, data, targets, settings, options);
  // A stitch whose refinement failed at fit time (refineError) is refined now: the error no
  // longer describes it, and a manifest allows it only with refined: false.
  const { refineError: _failedBefore, reason: _oldReason, pareto, ...kept } = record;
  return {
    record: {
      ...kept,
      refined: true,
      refineEpoch: epoch,
      accuracy: null,
      evalImages: null,
      accuracyInterval: null,
      validationAccuracy: null,
      validationImages: null,
      ...(pareto === undefined ? {} : { pareto: false, reason: UNMARKED_SINCE_REFINED }),
      fitSeconds: record.fitSeconds + (performance.now() - started) / 1000,
    },
    maps,
    history,
  };
}
