import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Tests spawn bin/pizzapi-relay.js, which runs the build: rebuild dist/ first if a source is newer.
    globalSetup: ["./test/helpers/build-dist.ts"],
    reporters: ["default", "./test/reporters/summary-line.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two cores: cluster tests spawn several relay processes each, so keep files from piling up.
    maxWorkers: 2,
  },
});
