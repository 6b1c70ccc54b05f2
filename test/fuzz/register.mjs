// `node --import ./test/fuzz/register.mjs file.ts`: runs the fuzz harness and the library's
// TypeScript sources directly in a plain Node process (no vitest), so a native crash takes down
// only that process. Types are stripped by the TypeScript compiler already in devDependencies.
import { register } from 'node:module';

register('./ts-loader.mjs', import.meta.url);
