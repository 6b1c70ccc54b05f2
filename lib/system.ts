// What the native core runs on, and how many threads it uses.
import { native, type NativeCapabilities, type SimdPath } from './native.js';

export type { SimdPath } from './native.js';
export type Capabilities = NativeCapabilities;

/**
 * The SIMD path in use ('avx512' | 'avx2' | 'neon' | 'scalar'), every path this CPU offers,
 * and the thread count. The environment variable RESTNET_SIMD forces a path at load time.
 */
export function capabilities(): Capabilities {
  return native.capabilities();
}

/** Threads for the native kernels; 0 restores the default (the hardware threads). */
export function setThreads(n: number): void {
  native.setThreads(n);
}

/** Switches the SIMD path at run time (a RangeError if this CPU lacks it). */
export function setSimd(path: SimdPath): void {
  native.setSimd(path);
}
