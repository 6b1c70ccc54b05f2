// How a stitch joins its two activations (grid shrinking, grid growing, CLS map, kernel, ReLU): the one place
// that says what an absent manifest field means, used by the runtime, the stitch files and load.
export interface StitchLayout {
  downsample: 'average' | 'space-to-depth';
  upsample: 'bilinear' | 'depth-to-space';
  clsMap: boolean;
  /** A CNN front's stitch as a k x k convolution (1: per pixel). */
  kernel: number;
  /** The stitch ends in a ReLU (AdapterOptions.rectify). */
  rectify: boolean;
}

/** What a record or stitch header without these fields means (families saved before they existed). */
export const LAYOUT_DEFAULTS: Readonly<StitchLayout> = Object.freeze({
  downsample: 'average',
  upsample: 'bilinear',
  clsMap: false,
  kernel: 1,
  rectify: false,
});

/** The layout of a record or stitch header, defaults filled in. */
export function layoutOf(r: Partial<StitchLayout>): StitchLayout {
  return {
    downsample: r.downsample ?? LAYOUT_DEFAULTS.downsample,
    upsample: r.upsample ?? LAYOUT_DEFAULTS.upsample,
    clsMap: r.clsMap ?? LAYOUT_DEFAULTS.clsMap,
    kernel: r.kernel ?? LAYOUT_DEFAULTS.kernel,
    rectify: r.rectify ?? LAYOUT_DEFAULTS.rectify,
  };
}
