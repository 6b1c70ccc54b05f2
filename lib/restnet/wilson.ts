// How sure an accuracy is: the 95% Wilson score interval of an accuracy measured on n images,
// which every accuracy record carries as `accuracyInterval` (evaluate.ts).
import { integerArg, numberArg, POSITIVE } from '../validate.js';

/** z for a two-sided 95% interval: the 0.975 quantile of the standard normal. */
const Z95 = 1.959963984540054;

/**
 * The Wilson score interval (Wilson 1927; Newcombe 1998, method 3) of a proportion of `correct`
 * out of `n`: [lo, hi], inside [0, 1] even at 0 or n correct, unlike the normal approximation.
 */
export function wilsonInterval(correct: number, n: number, z = Z95): [number, number] {
  integerArg(n, 'n', 1);
  integerArg(correct, 'correct', 0, n);
  numberArg(z, 'z', POSITIVE);
  const p = correct / n;
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}
