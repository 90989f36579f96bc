-- wrk script of benches/browse.sh: each connection walks the URL list of $URLS (one
-- request target per line, drawn with a skew by the bench) from its own starting point,
-- with Accept-Encoding: gzip as browsers send it.
local urls = {}
local at = 1

function init(args)
  for line in io.lines(os.getenv("URLS")) do
    urls[#urls + 1] = line
  end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000)
  at = math.random(1, #urls)
end

function request()
  at = at % #urls + 1
  return wrk.format("GET", urls[at], {["Accept-Encoding"] = "gzip"})
end
