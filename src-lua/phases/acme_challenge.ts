// /.well-known/acme-challenge/<token> (access phase, before routing): a token `elbctl acme`
// published under /$ELBNAME/acme/challenges/ is answered by this node with its key
// authorization, so a CA's HTTP-01 validation succeeds whichever node it reaches; any other
// token is routed like every request (the site may answer its own challenges). Plain Lua.
import { challenges } from "../config/view";
import * as access from "./access";

const PREFIX = "/.well-known/acme-challenge/";

export function run(): void {
  const uri = ngx.var.uri ?? "";
  const auth = challenges.get(string.sub(uri, PREFIX.length + 1));
  if (auth === undefined) return access.run();
  ngx.header["Content-Type"] = "text/plain";
  ngx.print(auth);
  return ngx.exit(200);
}
