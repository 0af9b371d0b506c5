-- The lead of a node (config.leader) inside nginx: a dead leader's lead is taken at the next
-- tick, a live one's is not, and a task of an earlier lead knows it must stop.
local leader = require("node.leader")

local locks = ngx.shared.elb_locks
local terms = {}

local function waitFor(cond, seconds)
  local deadline = ngx.now() + seconds
  while not cond() do
    if ngx.now() > deadline then return false end
    ngx.sleep(0.02)
    ngx.update_time()
  end
  return true
end

-- a pid above the kernel's highest (4194304): no process has it
local DEAD_PID = 4194305

describe("the lead", function()
  it("goes to this worker, which runs the leader tasks for it", function()
    leader.start({ function(premature, term) if not premature then terms[#terms + 1] = term end end })
    assert.is_true(waitFor(function() return #terms == 1 end, 1))
    assert.is_true(leader.holds(terms[1]))
    assert.equals(ngx.worker.pid(), leader.leaderPid())
  end)

  it("held by a live process stays with it, even past this worker's ticks", function()
    locks:set("leader", 1, 5) -- pid 1 is always alive
    ngx.sleep(0.5)
    assert.equals(1, leader.leaderPid())
    assert.is_false(leader.isLeader())
    assert.is_false(leader.holds(terms[1]))
  end)

  it("held by a process that is gone is taken at the next tick, as a new term", function()
    locks:set("leader", DEAD_PID, 5)
    -- at the next 0.2 s tick, well before the 5 s TTL (the margin is for a slow machine)
    assert.is_true(waitFor(function() return #terms == 2 end, 2))
    assert.equals(ngx.worker.pid(), leader.leaderPid())
    assert.is_true(leader.holds(terms[2]))
    -- the task of the earlier lead stops, though this worker leads again
    assert.is_false(leader.holds(terms[1]))
  end)
end)
