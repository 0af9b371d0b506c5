// Answers of the management API: always JSON, with a `msg` when something is wrong.
import { Problem } from "../core/problems";
import { Warning } from "../core/rules/type";
import { decode, encode } from "../config/json";

export function json(status: number, body: unknown): void {
  ngx.status = status;
  ngx.header["Content-Type"] = "application/json";
  ngx.header["Cache-Control"] = "no-store";
  ngx.say(encode(body));
}

export function raw(status: number, text: string): void {
  ngx.status = status;
  ngx.header["Content-Type"] = "application/json";
  ngx.say(text);
}

/** {"msg": "OK"}, with "warnings": [{path, warning}] when validation had some (the change is made). */
export function ok(warnings?: Warning[]): void {
  if (warnings !== undefined && warnings.length > 0) json(200, { msg: "OK", warnings });
  else json(200, { msg: "OK" });
}

export function fail(status: number, msg: string): void {
  json(status, { msg });
}

export function invalid(problems: Problem[]): void {
  json(400, { msg: `invalid request body: ${problems.length} problem${problems.length === 1 ? "" : "s"}`, errors: problems });
}

/** The request body decoded as JSON; on failure the 400 answer is already sent. */
export function readJson(): LuaMultiReturn<[boolean, any]> {
  ngx.req.read_body();
  let text = ngx.req.get_body_data();
  if (text === undefined) {
    const file = ngx.req.get_body_file();
    if (file !== undefined) {
      const [f] = io.open(file, "rb");
      if (f !== undefined) {
        text = f.read("*a") as string | undefined;
        f.close();
      }
    }
  }
  if (text === undefined || text === "") {
    invalid([{ path: "", error: "the request body is empty: a JSON document is expected" }]);
    return $multi(false, undefined);
  }
  const [v, err] = decode(text);
  if (err !== undefined) {
    invalid([{ path: "", error: `malformed JSON: ${err}` }]);
    return $multi(false, undefined);
  }
  return $multi(true, v);
}
