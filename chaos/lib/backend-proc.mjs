// A backend in its own process (so that it can be SIGKILLed): answers every request with
// {"backend": NAME} on 127.0.0.1:PORT.  node chaos/lib/backend-proc.mjs PORT NAME
import http from "node:http";

const [port, name] = process.argv.slice(2);
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    const body = JSON.stringify({ backend: name, url: req.url });
    res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 65000;
server.listen(Number(port), "127.0.0.1", () => console.log(`listening ${port}`));
