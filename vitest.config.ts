import { defineConfig } from 'vitest/config';

// Native addons are not safe to load into worker threads that vitest recycles: run each test
// file in its own forked process.
export default defineConfig({
  test: {
    pool: 'forks',
    // The async tests drop their inputs and force a collection while native work reads them.
    execArgv: ['--expose-gc'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
