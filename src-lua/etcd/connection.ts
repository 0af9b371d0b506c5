// This worker's etcd client, made on first use from the node's settings: the endpoints, the
// client certificate (parsed here, in the worker, from the PEM text the master read) and
// etcd's user.
import * as ssl from "ngx.ssl";
import { EtcdClient, newClient } from "./client";
import { settings } from "../node/settings";

let client: EtcdClient | undefined = undefined;

export function etcd(): EtcdClient {
  if (client === undefined) {
    let cert: unknown = undefined;
    let key: unknown = undefined;
    if (settings.etcdCert !== undefined && settings.etcdKey !== undefined) {
      const [c, cerr] = ssl.parse_pem_cert(settings.etcdCert);
      const [k, kerr] = ssl.parse_pem_priv_key(settings.etcdKey);
      if (c === undefined || k === undefined) ngx.log(ngx.ERR, `ETCD_CERT / ETCD_KEY: ${cerr ?? kerr}; connecting without a client certificate`);
      cert = c;
      key = k;
    }
    client = newClient(settings.etcd, { timeoutMs: 3000, cert, key, user: settings.etcdUser, password: settings.etcdPassword });
  }
  return client;
}
