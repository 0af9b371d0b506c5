// The balancing algorithms by the name a policy gives them.
import { Algorithm } from "./algorithm";
import * as chash from "./chash";
import * as ewma from "./ewma";
import * as leastConn from "./least_conn";
import * as roundrobin from "./roundrobin";

export const algorithms: { [name: string]: Algorithm | undefined } = {
  roundrobin: { name: "roundrobin", hashed: false, timed: false, create: roundrobin.create, pick: roundrobin.pick, started: roundrobin.started, finished: roundrobin.finished },
  least_conn: { name: "least_conn", hashed: false, timed: false, create: leastConn.create, pick: leastConn.pick, started: leastConn.started, finished: leastConn.finished },
  chash: { name: "chash", hashed: true, timed: false, create: chash.create, pick: chash.pick, started: chash.started, finished: chash.finished },
  ewma: { name: "ewma", hashed: false, timed: true, create: ewma.create, pick: ewma.pick, started: ewma.started, finished: ewma.finished },
};
