-- The etcd client (etcd.client, etcd.http, etcd.kv, etcd.watch) against a real etcd, inside nginx.
-- Run with: npm run test:nginx   (scripts/run-nginx-specs.mjs sets the ELB_SPEC_* variables)
local etcd = require("etcd.client")
local etcdkv = require("etcd.kv")
local watch = require("etcd.watch")
local endpoints = require("core.endpoints")
local http = require("etcd.http")
local cjson = require("cjson.safe")

local ETCD = assert(os.getenv("ELB_SPEC_ETCD"), "ELB_SPEC_ETCD is not set: run this through scripts/run-nginx-specs.mjs")
local CLOSED1, CLOSED2 = string.match(os.getenv("ELB_SPEC_CLOSED_PORTS") or "", "^(%d+),(%d+)$")
local HTTP_PORT = tonumber(os.getenv("ELB_SPEC_HTTP_PORT"))
local HANG_PORT = tonumber(os.getenv("ELB_SPEC_HANG_PORT"))

-- Every run writes under its own prefix.
local ROOT = "/elb-spec/" .. ngx.worker.pid() .. "-" .. ngx.now() .. "/"

local function elapsed(since)
  ngx.update_time()
  return ngx.now() - since
end

local function started()
  ngx.update_time()
  return ngx.now()
end

-- core.endpoints answers the endpoints, or an error message
local function parseEndpoints(spec)
  local eps = endpoints.parseEndpoints(spec)
  if type(eps) == "string" then return nil, eps end
  return eps
end

local function newClient(spec, timeoutMs)
  local eps, err = parseEndpoints(spec)
  assert(eps, err)
  return etcd.newClient(eps, { timeoutMs = timeoutMs or 3000 })
end

local client = newClient(ETCD)

-- Writes n keys under prefix in txns of 100 puts (etcd allows 128 ops per txn).
local function putMany(prefix, n)
  local i = 1
  while i <= n do
    local ops = {}
    for j = i, math.min(i + 99, n) do
      ops[#ops + 1] = etcdkv.opPut(string.format("%s%05d", prefix, j), "v" .. j)
    end
    local res, err = client:txn({ success = ops })
    assert(res, err)
    assert(res.succeeded)
    i = i + 100
  end
end

describe("parseEndpoints", function()
  it("reads host:port", function()
    local eps, err = parseEndpoints("127.0.0.1:2379")
    assert.is_nil(err)
    assert.same({ { host = "127.0.0.1", port = 2379, tls = false } }, eps)
  end)

  it("reads https:// URLs, keeping the host name to check the certificate against", function()
    local eps, err = parseEndpoints("https://etcd-1.example:2379, https://localhost:2380,https://10.0.0.3:2379")
    assert.is_nil(err)
    assert.same({
      { host = "etcd-1.example", port = 2379, tls = true, serverName = "etcd-1.example" },
      { host = "127.0.0.1", port = 2380, tls = true, serverName = "localhost" },
      { host = "10.0.0.3", port = 2379, tls = true },
    }, eps)
  end)

  it("reads http:// URLs and comma-separated lists, tolerating whitespace", function()
    local eps, err = parseEndpoints(" http://127.0.0.1:2379 ,etcd-2.example:22379/,\tHTTP://10.0.0.3:2379 , ")
    assert.is_nil(err)
    assert.same({
      { host = "127.0.0.1", port = 2379, tls = false },
      { host = "etcd-2.example", port = 22379, tls = false, serverName = "etcd-2.example" },
      { host = "10.0.0.3", port = 2379, tls = false },
    }, eps)
  end)

  it("turns localhost into 127.0.0.1 (cosockets do not read /etc/hosts)", function()
    assert.same({ { host = "127.0.0.1", port = 2379, tls = false, serverName = "localhost" } }, (parseEndpoints("http://LocalHost:2379")))
  end)

  it("reads a bracketed IPv6 address", function()
    local eps = parseEndpoints("[::1]:2379")
    assert.same({ { host = "::1", port = 2379, tls = false } }, eps)
  end)

  it("rejects bad specs with a message naming the bad entry", function()
    local cases = {
      { "127.0.0.1", "127.0.0.1" },
      { "ftp://127.0.0.1:2379", "only http:// and https://" },
      { "http://127.0.0.1:2379,https://127.0.0.1:2380", "one scheme" },
      { "127.0.0.1:0", "port out of range" },
      { "127.0.0.1:70000", "port out of range" },
      { "127.0.0.1:http", "127.0.0.1:http" },
      { "http://127.0.0.1:2379/v3", "path" },
      { "a b:2379", "a b:2379" },
      { "127.0.0.1:2379, :2379", ":2379" },
    }
    for _, case in ipairs(cases) do
      local eps, err = parseEndpoints(case[1])
      assert.is_nil(eps, case[1])
      assert.is_string(err, case[1])
      assert.truthy(string.find(err, case[2], 1, true), case[1] .. " -> " .. tostring(err))
    end
  end)

  it("rejects an empty or missing spec", function()
    for _, spec in ipairs({ "", "  ", " , , " }) do
      local eps, err = parseEndpoints(spec)
      assert.is_nil(eps)
      assert.matches("no etcd endpoints", err)
    end
    local eps, err = parseEndpoints(nil)
    assert.is_nil(eps)
    assert.matches("no etcd endpoints", err)
  end)
end)

describe("prefixEnd", function()
  it("increments the last byte that can be incremented", function()
    assert.equal("/elb/rulet", etcdkv.prefixEnd("/elb/rules"))
    assert.equal("b", etcdkv.prefixEnd("a\255"))
    assert.equal("a\1", etcdkv.prefixEnd("a\0"))
  end)

  it("returns \\0 (to the end of the keyspace) when no byte can be incremented", function()
    assert.equal("\0", etcdkv.prefixEnd("\255\255"))
    assert.equal("\0", etcdkv.prefixEnd(""))
  end)
end)

describe("http client", function()
  it("reads a Content-Length response and reuses the connection", function()
    local ep = { host = "127.0.0.1", port = HTTP_PORT }
    for _ = 1, 3 do
      local status, body = http.request(ep, "GET", "/", nil, 2000)
      assert.equal(200, status)
      assert.equal("ok", body)
    end
  end)

  it("reports a connect failure with the stage 'connect'", function()
    local status, err, stage = http.request({ host = "127.0.0.1", port = tonumber(CLOSED1) }, "GET", "/", nil, 1000)
    assert.is_nil(status)
    assert.equal("connect", stage)
    assert.matches("127.0.0.1:" .. CLOSED1, err, 1, true)
  end)

  it("times out on a server that does not answer", function()
    local t0 = started()
    local status, err, stage = http.request({ host = "127.0.0.1", port = HANG_PORT }, "POST", "/", "{}", 300)
    assert.is_nil(status)
    assert.equal("receive", stage)
    assert.matches("timeout", err)
    assert.is_true(elapsed(t0) < 2)
  end)
end)

describe("kv", function()
  local P = ROOT .. "kv/"

  it("puts and reads back a key", function()
    local put, err = client:put(P .. "a", "value-a")
    assert.is_nil(err)
    assert.is_true(put.revision > 0)
    local res, rerr = client:range(P .. "a")
    assert.is_nil(rerr)
    assert.equal(1, res.count)
    assert.is_false(res.more)
    assert.equal(1, #res.kvs)
    local kv = res.kvs[1]
    assert.equal(P .. "a", kv.key)
    assert.equal("value-a", kv.value)
    assert.equal(put.revision, kv.modRevision)
    assert.equal(put.revision, kv.createRevision)
    assert.equal(1, kv.version)
    assert.is_nil(kv.lease)
    assert.is_true(res.revision >= put.revision)
  end)

  it("keeps binary keys and values intact", function()
    local key, value = P .. "bin\0\n\255é", "\0\1\2 \r\n{\"json\": true}\255"
    assert(client:put(key, value))
    local kv = assert(client:get(key))
    assert.equal(key, kv.key)
    assert.equal(value, kv.value)
    assert(client:put(P .. "empty", ""))
    assert.equal("", assert(client:get(P .. "empty")).value)
  end)

  it("returns no kvs for a missing key", function()
    local res, err = client:range(P .. "missing")
    assert.is_nil(err)
    assert.same({}, res.kvs)
    assert.equal(0, res.count)
    local kv, gerr = client:get(P .. "missing")
    assert.is_nil(kv)
    assert.is_nil(gerr)
  end)

  it("counts versions and keeps the create revision across updates", function()
    local first = assert(client:put(P .. "v", "1"))
    local second = assert(client:put(P .. "v", "2"))
    local kv = assert(client:get(P .. "v"))
    assert.equal(2, kv.version)
    assert.equal(first.revision, kv.createRevision)
    assert.equal(second.revision, kv.modRevision)
  end)

  it("reads every key under a prefix over several pages, at one revision", function()
    local pages = P .. "pages/"
    putMany(pages, 1050)
    assert(client:put(P .. "pages0", "outside the prefix"))
    local before = assert(client:put(P .. "pages-marker", "x")).revision

    local all, err = client:getPrefix(pages)
    assert.is_nil(err)
    assert.equal(1050, #all.kvs)
    assert.is_true(all.revision >= before)
    for i, kv in ipairs(all.kvs) do
      assert.equal(string.format("%s%05d", pages, i), kv.key)
      assert.equal("v" .. i, kv.value)
    end

    local small = assert(client:getPrefix(pages, 7))
    assert.equal(1050, #small.kvs)
    assert.equal(all.kvs[1050].key, small.kvs[1050].key)

    local limited = assert(client:range(pages, etcdkv.prefixEnd(pages), { limit = 10 }))
    assert.equal(10, #limited.kvs)
    assert.equal(1050, limited.count)
    assert.is_true(limited.more)
  end)

  it("reads at an older revision", function()
    local first = assert(client:put(P .. "old", "before"))
    assert(client:put(P .. "old", "after"))
    local res = assert(client:range(P .. "old", nil, { revision = first.revision }))
    assert.equal("before", res.kvs[1].value)
  end)

  it("deletes a key and a prefix, counting what was deleted", function()
    local pages = P .. "pages/"
    local res, err = client:deletePrefix(pages)
    assert.is_nil(err)
    assert.equal(1050, res.deleted)
    assert.is_true(res.revision > 0)
    assert.same({}, assert(client:getPrefix(pages)).kvs)
    assert.equal("outside the prefix", assert(client:get(P .. "pages0")).value)

    assert.equal(1, assert(client:deleteKey(P .. "pages0")).deleted)
    assert.equal(0, assert(client:deleteKey(P .. "pages0")).deleted)
  end)

  it("reports etcd's own errors as 'etcd error:'", function()
    local res, err = client:range(P .. "a", nil, { revision = 1e12 })
    assert.is_nil(res)
    assert.equal("refused", err.kind)
    assert.matches("^etcd error: ", err.message)
    assert.matches("future revision", err.message)
  end)
end)

describe("txn", function()
  local P = ROOT .. "txn/"

  it("runs the success branch when the compares hold", function()
    local res, err = client:txn({
      compare = { etcdkv.compareCreateRevision(P .. "k", "EQUAL", 0) },
      success = { etcdkv.opPut(P .. "k", "created"), etcdkv.opRange(P .. "k") },
      failure = { etcdkv.opRange(P .. "k") },
    })
    assert.is_nil(err)
    assert.is_true(res.succeeded)
    assert.is_true(res.revision > 0)
    assert.equal(2, #res.responses)
    assert.equal("put", res.responses[1].kind)
    assert.equal("range", res.responses[2].kind)
    assert.equal("created", res.responses[2].range.kvs[1].value)
  end)

  it("runs the failure branch when a compare fails", function()
    local res, err = client:txn({
      compare = { etcdkv.compareCreateRevision(P .. "k", "EQUAL", 0) },
      success = { etcdkv.opPut(P .. "k", "overwritten") },
      failure = { etcdkv.opRange(P .. "k") },
    })
    assert.is_nil(err)
    assert.is_false(res.succeeded)
    assert.equal(1, #res.responses)
    assert.equal("range", res.responses[1].kind)
    assert.equal("created", res.responses[1].range.kvs[1].value)
    assert.equal("created", assert(client:get(P .. "k")).value)
  end)

  it("compares values, versions and mod revisions", function()
    local kv = assert(client:get(P .. "k"))
    local function holds(cmp)
      local res = assert(client:txn({ compare = { cmp } }))
      return res.succeeded
    end
    assert.is_true(holds(etcdkv.compareValue(P .. "k", "EQUAL", "created")))
    assert.is_false(holds(etcdkv.compareValue(P .. "k", "EQUAL", "other")))
    assert.is_true(holds(etcdkv.compareValue(P .. "k", "NOT_EQUAL", "other")))
    assert.is_true(holds(etcdkv.compareVersion(P .. "k", "EQUAL", 1)))
    assert.is_true(holds(etcdkv.compareVersion(P .. "k", "GREATER", 0)))
    assert.is_true(holds(etcdkv.compareModRevision(P .. "k", "EQUAL", kv.modRevision)))
    assert.is_true(holds(etcdkv.compareModRevision(P .. "k", "LESS", kv.modRevision + 1)))
    assert.is_false(holds(etcdkv.compareModRevision(P .. "k", "GREATER", kv.modRevision)))
    assert.is_true(holds(etcdkv.compareCreateRevision(P .. "k", "EQUAL", kv.createRevision)))
    -- over a range: every key under the prefix
    assert.is_true(holds(etcdkv.compareVersion(P, "GREATER", 0, etcdkv.prefixEnd(P))))
    assert.is_false(holds(etcdkv.compareVersion(P, "GREATER", 1, etcdkv.prefixEnd(P))))
  end)

  it("deletes with a prefix inside a txn", function()
    putMany(P .. "many/", 5)
    local res = assert(client:txn({ success = { etcdkv.opDeleteRange(P .. "many/", { prefix = true }), etcdkv.opDeleteRange(P .. "nothing") } }))
    assert.is_true(res.succeeded)
    assert.equal("deleteRange", res.responses[1].kind)
    assert.equal(5, res.responses[1].deleted)
    assert.equal(0, res.responses[2].deleted)
  end)

  it("returns etcd's rejection as an error value", function()
    local res, err = client:txn({ success = { etcdkv.opPut(P .. "dup", "1"), etcdkv.opPut(P .. "dup", "2") } })
    assert.is_nil(res)
    assert.equal("refused", err.kind)
    assert.matches("^etcd error: .*duplicate key", err.message)
  end)
end)

describe("leases", function()
  local P = ROOT .. "lease/"

  it("grants, keeps alive and revokes; revoking deletes the attached keys", function()
    local lease, err = client:leaseGrant(30)
    assert.is_nil(err)
    assert.is_string(lease.id)
    assert.matches("^%d+$", lease.id)
    assert.equal(30, lease.ttl)

    assert(client:put(P .. "member", "here", lease.id))
    local kv = assert(client:get(P .. "member"))
    assert.equal(lease.id, kv.lease) -- the 64-bit ID survives the round trip exactly

    local kept, kerr = client:leaseKeepAlive(lease.id)
    assert.is_nil(kerr)
    assert.equal(lease.id, kept.id)
    assert.equal(30, kept.ttl)

    local revoked, rerr = client:leaseRevoke(lease.id)
    assert.is_nil(rerr)
    assert.is_true(revoked.revision > kv.modRevision)
    assert.is_nil((client:get(P .. "member")))

    local again, aerr = client:leaseKeepAlive(lease.id)
    assert.is_nil(again)
    assert.matches("^etcd error: .*not found", aerr.message)
  end)

  it("reports an unknown lease on revoke", function()
    local res, err = client:leaseRevoke("123456789")
    assert.is_nil(res)
    assert.matches("^etcd error: .*lease not found", err.message)
  end)

  it("lets a key expire with its lease", function()
    local lease = assert(client:leaseGrant(1))
    assert(client:put(P .. "short", "lived", lease.id))
    assert.is_not_nil((client:get(P .. "short")))
    local deadline = started() + 5
    while client:get(P .. "short") and started() < deadline do
      ngx.sleep(0.2)
    end
    assert.is_nil((client:get(P .. "short")))
  end)
end)

describe("watch", function()
  local P = ROOT .. "watch/"

  it("streams a raw /v3/watch response chunk by chunk", function()
    local ep = assert(parseEndpoints(ETCD))[1]
    local body = cjson.encode({ create_request = { key = ngx.encode_base64(P .. "raw") } })
    local stream, err = http.openStream(ep, "POST", "/v3/watch", body, 3000)
    assert.is_nil(err)
    assert.equal(200, stream.status)
    assert.matches("chunked", stream.headers["transfer-encoding"])

    local first = assert(stream:readChunk())
    local created = cjson.decode(first)
    assert.is_true(created.result.created)

    -- nothing happens: a short read times out and the stream stays usable
    local none, terr = stream:readChunk(100)
    assert.is_nil(none)
    assert.equal("timeout", terr)

    assert(client:put(P .. "raw", "hello"))
    local chunk = assert(stream:readChunk(3000))
    local msg = assert(cjson.decode(chunk))
    local ev = msg.result.events[1]
    assert.equal(P .. "raw", ngx.decode_base64(ev.kv.key))
    assert.equal("hello", ngx.decode_base64(ev.kv.value))
    stream:close()
    local after, cerr = stream:readChunk()
    assert.is_nil(after)
    assert.equal("eof", cerr)
  end)

  it("delivers put and delete events through client:watch", function()
    local w, err = client:watch(P .. "w/", { prefix = true, prevKv = true })
    assert.is_nil(err)
    local put = assert(client:put(P .. "w/a", "1"))
    assert(client:put(P .. "outside", "not watched"))
    assert(client:deleteKey(P .. "w/a"))

    local events = {}
    while #events < 2 do
      local msg, merr = w:next(3000)
      assert(msg, merr)
      for _, ev in ipairs(msg.events) do
        events[#events + 1] = ev
      end
    end
    assert.equal("put", events[1].type)
    assert.equal(P .. "w/a", events[1].kv.key)
    assert.equal("1", events[1].kv.value)
    assert.equal(put.revision, events[1].kv.modRevision)
    assert.equal("delete", events[2].type)
    assert.equal(P .. "w/a", events[2].kv.key)
    assert.equal("1", events[2].prevKv.value)
    w:close()
  end)

  it("replays history from a start revision", function()
    local first = assert(client:put(P .. "h", "1"))
    assert(client:put(P .. "h", "2"))
    local w = assert(client:watch(P .. "h", { startRevision = first.revision }))
    local seen = {}
    while #seen < 2 do
      local msg = assert(w:next(3000))
      for _, ev in ipairs(msg.events) do
        seen[#seen + 1] = ev.kv.value
      end
    end
    assert.same({ "1", "2" }, seen)
    w:close()
  end)
end)

describe("decodeWatchMessage", function()
  local function b(s) return ngx.encode_base64(s) end

  it("decodes events; PUT is the enum's zero value and arrives without a type", function()
    local line = cjson.encode({ result = {
      header = { revision = "42" }, watch_id = "3",
      events = {
        { kv = { key = b("/a"), value = b("1"), mod_revision = "41", create_revision = "40", version = "2" } },
        { type = "DELETE", kv = { key = b("/b"), mod_revision = "42" }, prev_kv = { key = b("/b"), value = b("old") } },
      },
    } })
    local msg, err = watch.decodeWatchMessage(line)
    assert.is_nil(err)
    assert.equal(42, msg.revision)
    assert.equal("3", msg.watchId)
    assert.is_false(msg.created)
    assert.equal(2, #msg.events)
    assert.same({ type = "put", kv = { key = "/a", value = "1", modRevision = 41, createRevision = 40, version = 2 } }, msg.events[1])
    assert.equal("delete", msg.events[2].type)
    assert.equal("", msg.events[2].kv.value)
    assert.equal("old", msg.events[2].prevKv.value)
  end)

  it("reports a compacted start revision as a failure of its own kind", function()
    local msg, err = watch.decodeWatchMessage('{"result":{"header":{"revision":"9"},"compact_revision":"5","canceled":true}}')
    assert.is_nil(msg)
    assert.equal("compacted", err.kind)
    assert.matches("up to revision 5", err.message)
  end)

  it("turns an error message and garbage into errors", function()
    local msg, err = watch.decodeWatchMessage('{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader"}}')
    assert.is_nil(msg)
    assert.equal("etcd error: etcdserver: no leader", err.message)
    msg, err = watch.decodeWatchMessage("not json")
    assert.is_nil(msg)
    assert.matches("^etcd error: ", err.message)
  end)
end)

describe("several endpoints", function()
  it("skips a dead first endpoint and remembers the one that worked", function()
    local c = newClient("127.0.0.1:" .. CLOSED1 .. "," .. ETCD, 1000)
    assert(c:put(ROOT .. "failover", "ok"))
    assert.equal(tonumber(string.match(ETCD, ":(%d+)$")), c:currentEndpoint().port)
    assert.equal("ok", assert(c:get(ROOT .. "failover")).value)
    local w = assert(newClient("127.0.0.1:" .. CLOSED2 .. "," .. ETCD, 1000):watch(ROOT .. "failover"))
    w:close()
  end)

  it("says 'etcd unreachable:' and names the endpoints when none answers", function()
    local c = newClient("127.0.0.1:" .. CLOSED1 .. ",127.0.0.1:" .. CLOSED2, 500)
    local t0 = started()
    local res, err = c:range("/x")
    assert.is_nil(res)
    assert.equal("unreachable", err.kind)
    assert.matches("^etcd unreachable: ", err.message)
    assert.matches("127.0.0.1:" .. CLOSED1, err.message, 1, true)
    assert.matches("127.0.0.1:" .. CLOSED2, err.message, 1, true)
    local w, werr = c:watch("/x")
    assert.is_nil(w)
    assert.equal("unreachable", werr.kind)
    assert.matches("^etcd unreachable: ", werr.message)
    assert.is_true(elapsed(t0) < 2)
  end)

  it("gives up on a hung endpoint after the timeout and reads from the next one", function()
    local c = newClient("127.0.0.1:" .. HANG_PORT .. "," .. ETCD, 300)
    assert(client:put(ROOT .. "hung", "read"))
    local t0 = started()
    local kv, err = c:get(ROOT .. "hung")
    assert.is_nil(err)
    assert.equal("read", kv.value)
    assert.is_true(elapsed(t0) < 2)
  end)

  it("opens a watch on the next endpoint when one hangs", function()
    local c = newClient("127.0.0.1:" .. HANG_PORT .. "," .. ETCD, 300)
    local t0 = started()
    local w, err = c:watch(ROOT .. "hung")
    assert.is_nil(err)
    assert.is_true(elapsed(t0) < 2)
    assert(client:put(ROOT .. "hung", "changed"))
    local msg = assert(w:next(3000))
    assert.equal("changed", msg.events[1].kv.value)
    w:close()
  end)

  it("does not send a write twice after a timeout", function()
    local c = newClient("127.0.0.1:" .. HANG_PORT .. "," .. ETCD, 300)
    local t0 = started()
    local res, err = c:put(ROOT .. "once", "x")
    assert.is_nil(res)
    assert.equal("outcome unknown", err.kind)
    assert.matches("^etcd unreachable: .*127.0.0.1:" .. HANG_PORT .. ".*may have been applied", err.message)
    assert.is_true(elapsed(t0) < 2)
    -- the next call starts with the other endpoint
    assert(c:put(ROOT .. "once", "y"))
  end)

  it("reports an unreachable etcd the same way for writes and leases", function()
    local c = newClient("127.0.0.1:" .. CLOSED1, 500)
    for _, call in ipairs({
      function() return c:put("/x", "y") end,
      function() return c:deletePrefix("/x") end,
      function() return c:txn({ success = { etcdkv.opPut("/x", "y") } }) end,
      function() return c:leaseGrant(5) end,
      function() return c:getPrefix("/x") end,
    }) do
      local res, err = call()
      assert.is_nil(res)
      assert.equal("unreachable", err.kind)
      assert.matches("^etcd unreachable: connect to 127.0.0.1:" .. CLOSED1, err.message)
    end
  end)
end)

describe("cleanup", function()
  it("removes what the specs wrote", function()
    local res = assert(client:deletePrefix(ROOT))
    assert.is_true(res.deleted > 0)
    assert.same({}, assert(client:getPrefix(ROOT)).kvs)
  end)
end)
