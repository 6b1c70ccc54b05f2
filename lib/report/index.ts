// SVG reports: the CKA heat map and the Pareto plot.
export { heatmapSvg, type HeatmapOptions } from './heatmap.js';
export { paretoFront, paretoSvg, type ParetoOptions, type ParetoPoint } from './pareto.js';
