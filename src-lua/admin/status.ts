// /__erulb__/status: this node's view of itself (config/status.ts).
import { nodeStatus } from "../config/status";
import * as reply from "./reply";

export function get(): void {
  reply.json(200, nodeStatus());
}
