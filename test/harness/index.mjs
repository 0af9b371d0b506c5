// @ts-check
// The one harness of the end-to-end suites (test/e2e, vitest) and the benchmark (bench/, plain
// node): processes in their own groups, ports picked at run time, waits, temp dirs, an HTTP
// client and listener, etcd, ELB through nginx/launch.sh, nginx's pids, an echo backend and a
// statsd listener, all on 127.0.0.1.
//
// Why here and in plain JavaScript: DESIGN.md puts the harness under test/ and has bench share
// it; `node bench/run.mjs` must run without a TypeScript loader, while vitest and tsc (with
// allowJs, tsconfig.node.json) read these modules and their JSDoc types as they are.
export * from "./backend.mjs";
export * from "./certs.mjs";
export * from "./elb.mjs";
export * from "./etcd.mjs";
export * from "./http.mjs";
export * from "./nginx.mjs";
export * from "./pebble.mjs";
export * from "./ports.mjs";
export * from "./procs.mjs";
export * from "./statsd.mjs";
export * from "./tmp.mjs";
export * from "./wait.mjs";
