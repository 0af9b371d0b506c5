// The balancing algorithms by the name a policy gives them, each over primaries then backups.
import { Algorithm } from "./algorithm";
import { withBackups } from "./backups";
import * as chash from "./chash";
import * as ewma from "./ewma";
import * as leastConn from "./least_conn";
import * as roundrobin from "./roundrobin";

export const algorithms: { [name: string]: Algorithm | undefined } = {
  roundrobin: withBackups({ name: "roundrobin", hashed: false, timed: false }, roundrobin),
  least_conn: withBackups({ name: "least_conn", hashed: false, timed: false }, leastConn),
  chash: withBackups({ name: "chash", hashed: true, timed: false }, chash),
  ewma: withBackups({ name: "ewma", hashed: false, timed: true }, ewma),
};
