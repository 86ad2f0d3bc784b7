import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'main/**/*.test.ts', 'server/**/*.test.ts', 'common/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests start servers, ffmpeg and Chromium: two cores, so two files at a time.
    maxWorkers: 2,
    // Child `swarmcast` processes run the sources under test, never a stale out/cli bundle.
    env: { SWARMCAST_LOG_LEVEL: 'silent', SWARMCAST_FROM_SOURCE: '1' },
  },
});
