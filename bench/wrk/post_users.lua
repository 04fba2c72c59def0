-- wrk: POST /users with a unique email per request (per thread and run).
local counter = 0
local tag = tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
	counter = counter + 1
	local body = string.format('{"name":"Bench User","email":"bench-%s-%d@example.com"}', tag, counter)
	return wrk.format(nil, "/users", nil, body)
end
