-- A TAP output handler for busted, used by scripts/run-nginx-specs.mjs.
-- busted 2.1.1's own TAP handler crashes when a spec file fails to load (its error has
-- no trace.currentline), which ends the whole run; this one reports it as "not ok".
-- Output: "# <file>:<line>: <name>" before each test, "ok N - name" / "not ok N - name"
-- with "# "-prefixed details after it, "1..N" at the end.
return function(options)
  local busted = require("busted")
  local handler = require("busted.outputHandlers.base")()
  local counter = 0

  local function out(s)
    io.write(s, "\n")
    io.flush()
  end

  local function comment(text)
    out("# " .. (tostring(text):gsub("\n", "\n# ")))
  end

  local function where(trace)
    if type(trace) ~= "table" or not trace.short_src then return "?" end
    return trace.short_src .. ":" .. tostring(trace.currentline or "?")
  end

  local function report(ok, name, item)
    counter = counter + 1
    out((ok and "ok " or "not ok ") .. counter .. " - " .. tostring(name))
    if item then
      local message = item.message
      if type(message) ~= "string" then
        message = message == nil and "nil error" or require("pl.pretty").write(message)
      end
      local at = where(item.element and item.element.trace or item.trace)
      if at ~= "?" then comment("at " .. at) end
      comment(message)
      local trace = item.trace
      if options.verbose and type(trace) == "table" and trace.traceback then
        comment((trace.traceback:gsub("^\n", "")))
      end
    end
  end

  handler.suiteReset = function()
    counter = 0
    return nil, true
  end

  handler.suiteEnd = function()
    out("1.." .. counter)
    return nil, true
  end

  handler.testStart = function(element)
    comment(where(element.trace) .. ": " .. handler.getFullName(element))
    return nil, true
  end

  handler.testEnd = function(element, parent, status)
    if status == "success" then
      report(true, handler.getFullName(element))
    elseif status == "pending" then
      counter = counter + 1
      out("ok " .. counter .. " - # SKIP " .. handler.getFullName(element))
    elseif status == "failure" then
      report(false, handler.getFullName(element), handler.failures[#handler.failures])
    else
      report(false, handler.getFullName(element), handler.errors[#handler.errors])
    end
    return nil, true
  end

  -- Errors outside an it(): a file that does not load, a failing before_each, ...
  handler.error = function(element)
    if element.descriptor ~= "it" then
      report(false, (element.name or element.descriptor or "?") .. " (" .. tostring(element.descriptor) .. ")",
        handler.errors[#handler.errors])
    end
    return nil, true
  end

  busted.subscribe({ "suite", "reset" }, handler.suiteReset)
  busted.subscribe({ "suite", "end" }, handler.suiteEnd)
  busted.subscribe({ "test", "start" }, handler.testStart, { predicate = handler.cancelOnPending })
  busted.subscribe({ "test", "end" }, handler.testEnd, { predicate = handler.cancelOnPending })
  busted.subscribe({ "error" }, handler.error)
  busted.subscribe({ "failure" }, handler.error)

  return handler
end
