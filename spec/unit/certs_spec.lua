-- The engine's host for certificates (tls/x509.lua: OpenSSL through the FFI) and the rules of
-- core/certs.lua, under plain LuaJIT, with certificates made now by the openssl command: the
-- same checks test/certs.test.ts makes under Node, against the same openssl output.
local json = require("config.json")
json.install()
local x509 = require("tls.x509")
local certs = require("core.certs")

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p " .. dir) == 0)

local function sh(cmd)
  local p = io.popen("cd " .. dir .. " && " .. cmd .. " 2>/dev/null")
  local out = p:read("*a")
  p:close()
  return out
end

local function slurp(name)
  local f = assert(io.open(dir .. "/" .. name))
  local s = f:read("*a")
  f:close()
  return s
end

local n = 0
sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -subj '/O=ELB tests/CN=ELB Test CA' -days 30 -addext basicConstraints=critical,CA:TRUE")
local CA = slurp("ca.pem")
local CA_KEY = slurp("ca.key")

local function make(names, days, cn, rsa)
  n = n + 1
  local id = "c" .. n
  local key = rsa and "-newkey rsa:2048" or "-newkey ec -pkeyopt ec_paramgen_curve:P-256"
  sh(("openssl req %s -nodes -keyout %s.key -out %s.csr -subj '/CN=%s'"):format(key, id, id, cn or names[1]))
  local ext = "basicConstraints=CA:FALSE\nauthorityKeyIdentifier=keyid\n"
  if #names > 0 then
    local sans = {}
    for _, s in ipairs(names) do sans[#sans + 1] = "DNS:" .. s end
    ext = ext .. "subjectAltName=" .. table.concat(sans, ",") .. "\n"
  end
  local f = io.open(dir .. "/" .. id .. ".ext", "w")
  f:write(ext)
  f:close()
  sh(("openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -set_serial %d -days %d -extfile %s.ext -out %s.pem"):format(id, n, days or 30, id, id))
  return { cert = slurp(id .. ".pem"), key = slurp(id .. ".key"), file = id .. ".pem" }
end

local function read(value)
  local problems = {}
  local s = certs.readCertificates(value, "", problems)
  return s, problems
end

describe("the engine's X.509 host agrees with the openssl command", function()
  for _, case in ipairs({ { "EC, SANs", { "a.test", "*.b.test" } }, { "RSA, CN only", {}, "only-cn.test", true } }) do
    it(case[1], function()
      local c = make(case[2], 30, case[3], case[4])
      local info = x509.readCertificate(c.cert)
      assert.are.equal("table", type(info), tostring(info))
      local out = sh("openssl x509 -in " .. c.file .. " -noout -fingerprint -sha256 -startdate -enddate")
      assert.are.equal(out:match("sha256 Fingerprint=([^\n]+)"), info.fingerprint)
      assert.are.equal(out:match("notBefore=([^\n]+)"), info.notBefore)
      assert.are.equal(out:match("notAfter=([^\n]+)"), info.notAfter)
      assert.are.same(case[2], info.dnsNames)
      assert.are.equal("O=ELB tests\nCN=ELB Test CA", info.issuer)
      assert.is_false(info.ca)
      if case[3] then assert.are.equal(case[3], info.commonName) end
    end)
  end

  it("a CA certificate is one", function()
    assert.is_true(x509.readCertificate(CA).ca)
  end)
end)

describe("a certificate value", function()
  it("a leaf with its chain: names, dates, issuer", function()
    local c = make({ "Exact.test", "*.wild.test" }, 10)
    local s, problems = read({ cert = c.cert .. CA, key = c.key })
    assert.are.same({}, problems)
    assert.are.same({ "exact.test", "*.wild.test" }, s.names)
    assert.are.equal("O=ELB tests, CN=ELB Test CA", s.issuer)
    assert.are.equal(10 * 86400, s.notAfter - s.notBefore)
  end)

  local function refused(what, value, path, err)
    it("refuses " .. what, function()
      local s, problems = read(value)
      assert.is_nil(s)
      local found
      for _, p in ipairs(problems) do
        if p.path == path then found = p.error end
      end
      assert.truthy(found and found:find(err, 1, true), (found or "") .. " / " .. require("cjson").encode(problems))
    end)
  end
  local a, b = make({ "a.test" }), make({ "a.test" })
  refused("a key that is not the certificate's", { cert = a.cert, key = b.key }, "/key", "do not match")
  refused("garbage for the certificate", { cert = "not a certificate", key = a.key }, "/cert", "no PEM certificate")
  refused("a broken PEM block", { cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", key = "x" }, "/cert", "certificate 1 cannot be read")
  refused("garbage for the key", { cert = a.cert, key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }, "/key", "cannot be read")
  local old = make({ "old.test" }, -1)
  refused("an expired certificate", { cert = old.cert, key = old.key }, "/cert", "expired on")
  refused("a chain without a leaf", { cert = CA, key = CA_KEY }, "/cert", "has no leaf")
  refused("a chain out of order", { cert = CA .. a.cert, key = a.key }, "/cert", "has no leaf")

  it("accepts a self-signed certificate that names its host (openssl req -x509 marks it CA:TRUE)", function()
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout dev.key -out dev.pem -subj /CN=dev.test -days 30 -addext subjectAltName=DNS:dev.test")
    local problems = {}
    local s = certs.readCertificates({ cert = slurp("dev.pem"), key = slurp("dev.key") }, "", problems)
    assert.same({}, problems)
    assert.same({ "dev.test" }, s.names)
  end)
end)

describe("the stored text", function()
  it("has the chain first, whatever the order it came in", function()
    local kinds = require("core.kinds.index")
    assert.are.equal('{"cert":"C\\n","key":"K\\n"}', kinds.certs.encode({ key = "K\n", cert = "C\n" }))
  end)
end)

teardown(function()
  os.execute("rm -rf " .. dir)
end)
