// Runs only the propagation section: node bench/propagation.mjs [sizes, e.g. 1,100000]
import { stopAll, stopOnSignals } from "../test/harness/index.mjs";
import { propagation, propagationMarkdown } from "./sections/propagation.mjs";

stopOnSignals();
try {
  const sizes = (process.argv[2] ?? "1,100000").split(",").map(Number);
  const res = await propagation({ sizes, samples: Number(process.env.SAMPLES ?? 500) });
  console.log(JSON.stringify(res, null, 2));
  console.log(propagationMarkdown(res));
} finally {
  await stopAll();
}
