// Two projects: "unit" (fast, parallel: core vectors, elbctl, ...) and "e2e" (real etcd,
// nginx and backends; one file at a time, long timeouts). `npx vitest run` runs both;
// scripts/test-all.mjs runs them as separate layers (--project unit, --project e2e).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/**/*.test.ts", "admin-cli/**/*.test.ts"],
          exclude: ["test/e2e/**", "**/node_modules/**"],
          environment: "node",
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          exclude: ["**/node_modules/**"],
          environment: "node",
          // The suites start processes on ports picked at run time and measure timings:
          // never two files at once.
          fileParallelism: false,
          maxWorkers: 1,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          teardownTimeout: 60_000,
        },
      },
    ],
  },
});
