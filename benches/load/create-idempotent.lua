-- wrk script: the requests of create.lua, each with its own Idempotency-Key, as production
-- e-services send them.
dofile("benches/load/create.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local counter = 0
function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = string.format("load-%d-%d-%d", os.time(), thread_id, counter)
  return wrk.format()
end
