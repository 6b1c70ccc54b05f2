// Data for restnet: the IDX reader, datasets, and the embedded zoo.
export { IdxFormatError, loadIdx, parseIdx, type IdxArray, type IdxData, type IdxDtype } from './idx.js';
export { loadDataset, toDataset, type Dataset } from './dataset.js';
export {
  loadZooManifest,
  loadZooSplit,
  zooAnchor,
  zooPath,
  type ZooAnchor,
  type ZooBlock,
  type ZooManifest,
  type ZooShape,
  type ZooSplit,
  type ZooSplitName,
  type ZooTensor,
} from './zoo.js';
