-- JSON as RFC 8259 has it (config.json): what cjson alone would take and ELB must not, and the
-- empty array told from the empty object, in both directions.
local json = require("config.json")
local shape = require("core.json-shape")

local function refused(text, why)
  local v, err = json.decode(text)
  assert.is_nil(v, text)
  assert.is_string(err, text)
  if why then assert.truthy(string.find(err, why, 1, true), text .. " -> " .. err) end
end

describe("config.json decode", function()
  it("refuses NaN, Infinity, hex and numbers JSON does not have", function()
    for _, t in ipairs({ '{"a": NaN}', '{"a": -Infinity}', '{"a": 0x10}', '{"a": 1.}', '{"a": 01}', '{"a": +1}', '{"a": .5}', '{"a": 1e}', "[nan]", "[inf]" }) do
      refused(t)
    end
  end)

  it("takes the numbers JSON has", function()
    for t, want in pairs({ ["[0]"] = 0, ["[-0.5]"] = -0.5, ["[1e3]"] = 1000, ["[1E-2]"] = 0.01, ["[12.25e+1]"] = 122.5 }) do
      local v, err = json.decode(t)
      assert.is_nil(err, t)
      assert.equal(want, v[1], t)
    end
  end)

  it("decides alike whether a text takes the quick way (nothing to look closer at) or not", function()
    -- compact texts with no number and no empty value take the quick way; each of these
    -- differs from such a text by one thing the closer look must catch
    for _, t in ipairs({ '{"a":nan}', '{"a":tru}', '{"a":nulll}', '{"a":truefalse}', '{"a":"x","b":NaN}', '{"a":["x",Infinity]}', '5', '"x"' }) do
      local v = json.decode(t)
      if t == '5' or t == '"x"' then assert.is_not_nil(v, t) else assert.is_nil(v, t) end
    end
    local v = assert(json.decode('{"a":"\\\\S+","b":[true,false,null],"c":{"d":"é"},"e":[],"f":{}}'))
    assert.equal("\\S+", v.a)
    assert.is_true(shape.isArray(v.e))
    assert.is_true(shape.isObject(v.f))
    assert.is_false(shape.isArray(v.f))
  end)

  it("refuses invalid UTF-8 and raw control characters in strings", function()
    refused('["\255"]', "UTF-8")
    refused('["\192\128"]', "UTF-8") -- an overlong NUL
    refused('["\237\160\128"]', "UTF-8") -- a surrogate
    refused('["\244\144\128\128"]', "UTF-8") -- past U+10FFFF
    refused('["\226\130"]', "UTF-8") -- cut short
    assert.equal("é😀", assert(json.decode('["é😀"]'))[1])
    refused('["a\1b"]', "control character")
    refused('["a\nb"]', "control character")
    local v = assert(json.decode('{\n\t"a": "x\\ny"\r\n}'))
    assert.equal("x\ny", v.a)
  end)

  it("tells an empty array from an empty object, and writes them back as they came", function()
    local v = assert(json.decode('{"a": [], "b": {}, "c": "[]", "d": [ ], "e": {"f": [{}]}}'))
    assert.is_true(shape.isArray(v.a))
    assert.is_false(shape.isObject(v.a))
    assert.is_true(shape.isObject(v.b))
    assert.is_false(shape.isArray(v.b))
    assert.equal("[]", v.c)
    assert.is_true(shape.isObject(v.e.f[1]))
    local back = assert(json.decode(json.encode(v)))
    assert.is_false(shape.isObject(back.a))
    assert.is_false(shape.isArray(back.b))
    assert.equal("[]", back.c)
    assert.is_false(shape.isObject(back.d))
    assert.is_true(shape.isArray(assert(json.decode("[]"))))
    assert.is_false(shape.isArray(assert(json.decode("{}"))))
  end)
end)
