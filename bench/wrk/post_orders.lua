-- wrk: POST /orders for one existing user (BENCH_USER_ID in the path env).
local user = os.getenv("BENCH_USER_ID") or "1"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"userId":%s,"product":"Bench item","price":19.99}', user)
