-- wrk: POST /users with a unique email per request: run tag + thread + counter.
local next_thread = 0
function setup(thread)
	thread:set("thread_id", next_thread)
	next_thread = next_thread + 1
end

local counter = 0
local tag = tostring(os.time())
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
	counter = counter + 1
	local body = string.format('{"name":"Bench User","email":"bench-%s-%d-%d@example.com"}', tag, thread_id, counter)
	return wrk.format(nil, "/users", nil, body)
end
