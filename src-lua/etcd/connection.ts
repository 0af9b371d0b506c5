// This worker's etcd client, made on first use from the node's settings.
import { EtcdClient, newClient } from "./client";
import { settings } from "../node/settings";

let client: EtcdClient | undefined = undefined;

export function etcd(): EtcdClient {
  if (client === undefined) client = newClient(settings.etcd, { timeoutMs: 3000 });
  return client;
}
