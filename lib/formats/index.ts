// Data formats of the CLI: IDX, .npy, PNG folders, and conversion to a model's input.
export { conformTo, type ModelRows, type SampleLayout, type SampleSet } from './images.js';
export { DataFormatError, loadData, loadLabels, loadPngFolder, pngSample } from './load.js';
export { encodeNpy, loadNpy, NpyFormatError, parseNpy, type NpyArray, type NpyDtype } from './npy.js';
