// A deterministic byte mutator: bit flips, interesting bytes and 32-bit words (sizes that
// overflow, zero, all ones), truncation, deleted / duplicated / inserted runs, and splices with
// another seed file. Each call applies 1-8 of them, all drawn from the given Random.
import type { Random } from './random.js';

const BYTES = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
const WORDS = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 30000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

export function mutate(seed: Uint8Array, rng: Random, other?: Uint8Array): Uint8Array {
  let b = Uint8Array.from(seed);
  const rounds = rng.int(1, 8);
  for (let k = 0; k < rounds; k++) {
    const at = b.length === 0 ? 0 : rng.int(0, b.length - 1);
    switch (rng.int(0, 8)) {
      case 0: // flip a bit
        if (b.length > 0) b[at]! ^= 1 << rng.int(0, 7);
        break;
      case 1: // an interesting byte
        if (b.length > 0) b[at] = rng.pick(BYTES);
        break;
      case 2: // an interesting 32-bit word, either byte order
        if (b.length >= 4) {
          const word = rng.pick(WORDS);
          new DataView(b.buffer).setUint32(Math.min(at, b.length - 4), word, rng.chance(0.5));
        }
        break;
      case 3: // truncate
        b = b.subarray(0, rng.int(0, b.length));
        break;
      case 4: {
        // delete a run
        const n = rng.int(1, 64);
        b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + n)]);
        break;
      }
      case 5: {
        // duplicate a run
        const run = b.subarray(at, at + rng.int(1, 256));
        b = Uint8Array.from([...b.subarray(0, at), ...run, ...b.subarray(at)]);
        break;
      }
      case 6: {
        // insert random bytes
        const run = Array.from({ length: rng.int(1, 32) }, () => rng.int(0, 255));
        b = Uint8Array.from([...b.subarray(0, at), ...run, ...b.subarray(at)]);
        break;
      }
      case 7: // splice: this file's start, another's end
        if (other && other.length > 0) {
          const cut = rng.int(0, other.length - 1);
          b = Uint8Array.from([...b.subarray(0, at), ...other.subarray(cut)]);
        }
        break;
      default: // a random byte
        if (b.length > 0) b[at] = rng.int(0, 255);
    }
  }
  return b;
}
