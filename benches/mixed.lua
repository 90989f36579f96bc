-- wrk script of benches/mixed.sh: every WRITE_EVERY-th request of a connection is an admin
-- price change of a random product (which invalidates the listing); the others read the
-- first listing page with gzip. WRITE_EVERY=0: reads only.
local token = os.getenv("SF_TOKEN") or ""
local products = tonumber(os.getenv("SF_PRODUCTS") or "100000")
local every = tonumber(os.getenv("WRITE_EVERY") or "100")
local path = os.getenv("READ_PATH") or "/api/products?per_page=20"
local n = 0
local read = nil

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  read = wrk.format("GET", path, {["Accept-Encoding"] = "gzip"})
end

function request()
  n = n + 1
  if every > 0 and n % every == 0 then
    local id = math.random(1, products)
    local body = string.format('{"base": %d}', math.random(1000, 99999))
    return wrk.format("PUT", "/api/admin/products/" .. id .. "/price",
      {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
  end
  return read
end
