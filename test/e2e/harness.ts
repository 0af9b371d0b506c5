// The suites reach the shared harness (test/harness/, which the benchmark uses too) through
// this module: `import { startElb, ... } from "./harness"`.
export * from "../harness/index.mjs";
