-- AWS Signature Version 4 (the "Authorization: AWS4-HMAC-SHA256 ..."
-- header) for summit's AWS requests: the CloudWatch metrics provider
-- (lua/summit/metrics/cloudwatch.lua). The digests are OpenSSL's
-- (summit.c.crypto); this file only builds the texts AWS specifies:
-- https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
local C = require("summit.c.crypto")

local M = {}

local function trim(v) return (tostring(v):gsub("^%s+", ""):gsub("%s+$", ""):gsub("%s+", " ")) end

-- URI-encode per SigV4: unreserved characters kept, the rest %XX upper case.
local function uri_encode(s, keep_slash)
  return (s:gsub("[^%w%-%._~" .. (keep_slash and "/" or "") .. "]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

-- The canonical query string of a URL's query part (sorted by name, then value).
local function canonical_query(q)
  if not q or q == "" then return "" end
  local pairs_ = {}
  for part in q:gmatch("[^&]+") do
    local k, v = part:match("^([^=]*)=?(.*)$")
    local function dec(x)
      return (x:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
    end
    pairs_[#pairs_ + 1] = { uri_encode(dec(k)), uri_encode(dec(v)) }
  end
  table.sort(pairs_, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
  local out = {}
  for i, p in ipairs(pairs_) do out[i] = p[1] .. "=" .. p[2] end
  return table.concat(out, "&")
end

-- amz_date(ms) -> "20150830T123600Z", "20150830" for a unix time in ms.
function M.amz_date(ms)
  local t = math.floor(ms / 1000)
  return os.date("!%Y%m%dT%H%M%SZ", t), os.date("!%Y%m%d", t)
end

-- sign{ method, url, headers, body, region, service, access_key, secret_key,
--   session_token, now_ms } -> headers with X-Amz-Date (and
--   X-Amz-Security-Token) and Authorization added. url is absolute; the
--   Host header signed is its authority, as libcurl sends it.
function M.sign(r)
  local authority, path, query = r.url:match("^%a[%w+.-]*://([^/?#]+)([^?#]*)%??([^#]*)")
  assert(authority, "sigv4: not an absolute URL")
  authority = authority:gsub("^[^@]*@", "")
  if path == "" then path = "/" end
  local amz, day = M.amz_date(r.now_ms)
  local h = {}
  for k, v in pairs(r.headers or {}) do h[k] = v end
  h["X-Amz-Date"] = amz
  if r.session_token then h["X-Amz-Security-Token"] = r.session_token end
  local lower = { host = authority }
  for k, v in pairs(h) do lower[k:lower()] = trim(v) end
  local names = {}
  for k in pairs(lower) do names[#names + 1] = k end
  table.sort(names)
  local canon_headers = {}
  for i, k in ipairs(names) do canon_headers[i] = k .. ":" .. lower[k] .. "\n" end
  local signed = table.concat(names, ";")
  local canonical = table.concat({
    r.method, uri_encode(path, true), canonical_query(query),
    table.concat(canon_headers), signed, C.sha256(r.body or ""),
  }, "\n")
  local scope = table.concat({ day, r.region, r.service, "aws4_request" }, "/")
  local to_sign = table.concat({ "AWS4-HMAC-SHA256", amz, scope, C.sha256(canonical) }, "\n")
  local k = C.hmac_sha256("AWS4" .. r.secret_key, day)
  k = C.hmac_sha256(k, r.region)
  k = C.hmac_sha256(k, r.service)
  k = C.hmac_sha256(k, "aws4_request")
  local sig = C.hmac_sha256(k, to_sign, "hex")
  h.Authorization = string.format("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
    r.access_key, scope, signed, sig)
  return h, canonical, to_sign
end

return M
