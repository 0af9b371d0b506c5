// The dashboard under /__erulb__/ui: static files from the repository's ui/ folder (two levels
// above the compiled Lua: build/lua -> ui, /app/build/lua -> /app/ui in the image), read at
// each request. They hold no data and are served to callers in ELB_ADMIN_ALLOW without the
// token; the page asks for ELB_ADMIN_TOKEN and sends it with every API call it makes.

const FILES: { [name: string]: string } = {
  "index.html": "text/html; charset=utf-8",
  "dashboard.js": "text/javascript; charset=utf-8",
  "dashboard.css": "text/css; charset=utf-8",
  "graph-layout.js": "text/javascript; charset=utf-8",
};

function uiDir(): string {
  const src = debug.getinfo(1, "S")?.source ?? "";
  // "@/.../build/lua/admin/ui.lua"
  const [dir] = string.match(src, "^@(.*)/[^/]+/[^/]+/admin/ui%.lua$");
  return `${dir ?? "."}/ui`;
}

const dir = uiDir();

/** Whether `uri` is the dashboard's. */
export function owns(uri: string): boolean {
  return uri === "/__erulb__/ui" || string.sub(uri, 1, 14) === "/__erulb__/ui/";
}

export function serve(uri: string): void {
  if (uri === "/__erulb__/ui") return ngx.redirect("/__erulb__/ui/", 302);
  let name = string.sub(uri, 15);
  if (name === "") name = "index.html";
  const type = FILES[name];
  if (type === undefined) {
    ngx.status = 404;
    ngx.header["Content-Type"] = "text/plain";
    ngx.say("no such file in the dashboard");
    return;
  }
  const [f, err] = io.open(`${dir}/${name}`, "rb");
  if (f === undefined) {
    ngx.log(ngx.ERR, `dashboard: ${err}`);
    ngx.status = 500;
    ngx.header["Content-Type"] = "text/plain";
    ngx.say(`the dashboard's files are missing (${dir}): see the error log`);
    return;
  }
  const body = f.read("*a") as string;
  f.close();
  ngx.status = 200;
  ngx.header["Content-Type"] = type;
  ngx.header["Cache-Control"] = "no-cache";
  ngx.header["X-Content-Type-Options"] = "nosniff";
  ngx.print(body);
}
