#!/usr/bin/env node
// elbctl: the operator's command line. The CLI is TypeScript (admin-cli/src) that imports the
// engine's own validation from src-lua/core; tsx compiles it on the fly, so a fresh clone
// needs nothing but `npm install`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/main.ts");
process.exit(await main(process.argv.slice(2)));
