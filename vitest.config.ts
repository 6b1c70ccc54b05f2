import { defineConfig } from 'vitest/config';

// Native addons are not safe to load into worker threads that vitest recycles: run each test
// file in its own forked process.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
