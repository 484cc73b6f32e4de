package redis

import goredis "github.com/redis/go-redis/v9"

// Every write that must be atomic is one Lua script: Redis runs a script
// without interleaving any other command, and a script that returns an
// error before its first write changes nothing. Scripts run through
// goredis.Script, which sends EVALSHA and falls back to EVAL when the server
// has not cached the script yet.
//
// Scripts report a failed precondition with an error reply whose first word
// is a code (see scriptCodes in store.go): CONFLICT, VERSION, NOTFOUND,
// LEASELOST, LOCKED, GONE. Every check comes before the first write.
//
// Keys a script cannot know before it runs (the old index entries of a
// resource, the members of a deleted group) are built in the script by
// appending an id, an index name or a value set suffix to a prefix passed
// in ARGV; those prefixes and suffixes come from keys.go and share the
// store's hash tag, so the keys live in the same Cluster slot as the
// declared ones.
//
// Times are unix milliseconds, except the token bucket's refill time, in
// unix microseconds (exact in a Lua double until the year 2255), and report
// entry IDs, which start with the time in unix nanoseconds as a string.

// luaQueue holds the queue helpers shared by the scripts that mark, claim
// and settle queue keys.
//
// A queue key's metadata is "token|attempt|dirtyDue": token is empty while
// the key waits and set while it is claimed; dirtyDue (empty when clean)
// remembers the earliest due time of marks made while claimed. A waiting
// key at attempt 0 has no metadata: marking a new key, the write every
// IdP change makes, is then one ZADD.
const luaQueue = `
local function qget(meta, key)
  local v = redis.call('HGET', meta, key)
  if not v then return nil end
  local tok, att, dirty = string.match(v, '^([^|]*)|([^|]*)|([^|]*)$')
  return {tok = tok, att = tonumber(att), dirty = tonumber(dirty)}
end

local function qput(meta, key, m)
  local dirty = ''
  if m.dirty then dirty = string.format('%d', m.dirty) end
  redis.call('HSET', meta, key, m.tok .. '|' .. string.format('%d', m.att) .. '|' .. dirty)
end

-- qmark queues key due at due (unix ms): a new key is added, a waiting key
-- keeps the earlier due time (ZADD LT does both), a claimed key is
-- flagged dirty.
local function qmark(q, meta, key, due)
  local m = qget(meta, key)
  if not m or m.tok == '' then
    redis.call('ZADD', q, 'LT', due, key)
    return
  end
  if m.dirty == nil or due < m.dirty then
    m.dirty = due
    qput(meta, key, m)
  end
end
`

// luaReport holds rappend, which appends one report entry, shared by the
// scripts that append to the report log (see appendReportScript for the
// layout).
//
// KEYS[base] is the record hash, KEYS[base + 1] the log zset, KEYS[base + 2]
// the sequence counter, and KEYS[base + 2 + n] index zset n; ui and ai are
// the entry's user and app index numbers (0 = none). Returns the entry's ID.
const luaReport = `
local function rappend(base, timeKey, ui, ai, rec)
  local id = timeKey .. '-' .. string.format('%016d', redis.call('INCR', KEYS[base + 2]))
  redis.call('HSET', KEYS[base], id, rec)
  redis.call('ZADD', KEYS[base + 1], 0, id)
  for _, n in ipairs({tonumber(ui), tonumber(ai)}) do
    if n > 0 then redis.call('ZADD', KEYS[base + 2 + n], 0, id) end
  end
  return id
end
`

// applyScript performs one store.Write.
//
// KEYS[1] the target resource hash of Put or Delete (any store key when neither)
// KEYS[2] the target kind's id zset
// KEYS[3] the resource hash of the group whose membership changes (any store key when none)
// KEYS[4..] per marked app, in pairs: queue zset, queue meta hash; then,
// when the write carries report entries, the report keys rappend takes
// (record hash, log zset, sequence counter, index zsets)
//
// ARGV, read in order:
//
//	op               "put", "delete" or "none"
//	id               target id
//	expect           expected version: Put.ExpectVersion (0 = create) or DeleteVersion (0 = any)
//	writeID          a random id of this Apply call, kept in the resource hash's
//	                 "w" field by a put (see below)
//	data, meta       the resource's data and metadata JSON (put only)
//	ixPrefix         unique index hash prefix of the target kind; the index name is appended
//	nxPrefix         value set prefix of the target kind; a value set suffix is appended
//	n, n × (name, folded value, set suffix)
//	                 the resource's new index keys (put only), distinct; the set
//	                 suffix is "" for a unique index, else the key's value set
//	group, memberPrefix, groupsPrefix, groupMode
//	                 group id ("" = no membership change); groupMode "created"
//	                 when Put creates or replaces that group, "touch" for a
//	                 membership-only write that re-versions it (Write.Touch),
//	                 "check" otherwise
//	groupResPrefix, touched
//	                 resource hash prefix of groups (a group id is appended);
//	                 the Modified of the groups a delete or a touch
//	                 re-versions, as resourceMeta encodes times ("" =
//	                 Modified unchanged)
//	readGroups       "1" when a put returns the groups of the resource
//	                 (Write.ReadGroups), else ""
//	nAdd, nAdd × member id, nRemove, nRemove × member id
//	nMarks, nMarks × (queue pair number starting at 1, key, due ms)
//	reportBase, nReports, nReports × (time key, user index number, app index number, record)
//	                 the report entries appended with the write (see luaReport;
//	                 reportBase is the KEYS position of the record hash, 0 when
//	                 nReports is 0)
//
// The resource hash's ix field lists the resource's index entries as JSON:
// [name, folded value] for an entry in a unique index's hash, [name, folded
// value, set suffix] for an entry in a non-unique index's value set. An
// update removes the entries the new keys do not list, from where they were
// written, and adds only the entries that are new: its index work is
// proportional to the keys that change.
//
// A delete re-versions each group the deleted resource was a member of (v
// + 1, and the "m" field of its metadata set to touched unless touched is
// ""): O(groups of the resource). A group id that names no group hash is
// skipped.
//
// A put whose precondition fails (the id exists for a create, the version
// moved for an update) because this very call already committed it, its
// reply lost and the client library sending it again, finds its writeID in
// "w" and returns the stored version without writing anything: a retried
// put is applied once and answers as the first attempt would have.
//
// A touch (groupMode "touch") counts the members its adds and removes
// actually changed; when none, it has no effect at all: no new version, no
// marks, no report entries. Otherwise the group gets v + 1 and Modified =
// touched, with no precondition: concurrent touches commute, and a touch
// retried after a lost reply changes nothing more.
//
// Returns the stored version for a put ({version, group ids} with
// readGroups), the group's v, m and d fields for a touch that changed it,
// 0 otherwise.
// Errors, with nothing changed: "CONFLICT id" (create of an existing id),
// "CONFLICT <index name>" (a unique key held by another resource), "VERSION <stored>",
// "NOTFOUND resource", "NOTFOUND group".
var applyScript = newScript(luaQueue + luaReport + `
local pos = 0
local function nextArg() pos = pos + 1; return ARGV[pos] end

local op, id, expect, writeID = nextArg(), nextArg(), tonumber(nextArg()), nextArg()
local data, meta, ixPrefix, nxPrefix = nextArg(), nextArg(), nextArg(), nextArg()
local newIx = {}
for _ = 1, tonumber(nextArg()) do
  local name, value, set = nextArg(), nextArg(), nextArg()
  if set == '' then set = nil end
  newIx[#newIx + 1] = {name, value, set}
end
local group, memberPrefix, groupsPrefix, groupMode = nextArg(), nextArg(), nextArg(), nextArg()
local groupResPrefix, touched, readGroups = nextArg(), nextArg(), nextArg() == '1'

-- retouch re-versions the resource hash gk, when it exists: v + 1, and
-- the Modified ("m") of its metadata set to touched unless touched is "".
-- The metadata is JSON whose top-level "m" is the only unescaped "m":"
-- in it (a string value holding it is escaped), so it is replaced in
-- place. Returns the new version, or nil when gk does not exist.
local function retouch(gk)
  local gmeta = redis.call('HGET', gk, 'm')
  if not gmeta then return nil end
  local v = redis.call('HINCRBY', gk, 'v', 1)
  if touched ~= '' then
    redis.call('HSET', gk, 'm', (string.gsub(gmeta, '"m":"[^"]*"', '"m":"' .. touched .. '"', 1)))
  end
  return v
end
local adds, removes = {}, {}
for _ = 1, tonumber(nextArg()) do adds[#adds + 1] = nextArg() end
for _ = 1, tonumber(nextArg()) do removes[#removes + 1] = nextArg() end

-- Checks: nothing is written before all of them pass, except the claims
-- of new unique index keys, which are given back before a conflict fails.
-- One read of the target's version, index entries and last write id.
local stored, storedIx, storedWrite = false, false, false
if op ~= 'none' then
  local cur = redis.call('HMGET', KEYS[1], 'v', 'ix', 'w')
  stored, storedIx, storedWrite = cur[1], cur[2], cur[3]
end
local version = 0
if op == 'put' then
  if stored and tonumber(stored) ~= expect and storedWrite == writeID then
    -- This call's retry: it committed already.
    if readGroups then return {tonumber(stored), redis.call('SMEMBERS', groupsPrefix .. id)} end
    return tonumber(stored)
  end
  if expect == 0 then
    if stored then return redis.error_reply('CONFLICT id') end
  else
    if not stored then return redis.error_reply('NOTFOUND resource') end
    if tonumber(stored) ~= expect then return redis.error_reply('VERSION ' .. stored) end
  end
  version = (tonumber(stored) or 0) + 1
elseif op == 'delete' then
  if not stored then return redis.error_reply('NOTFOUND resource') end
  if expect > 0 and tonumber(stored) ~= expect then return redis.error_reply('VERSION ' .. stored) end
end
if group ~= '' and groupMode ~= 'created' and redis.call('EXISTS', KEYS[3]) == 0 then
  return redis.error_reply('NOTFOUND group')
end

-- Index entries: {name, folded value} in a unique index's hash, or {name,
-- folded value, set suffix} in a non-unique index's value set.
local function entrySet(entries)
  local s = {}
  for _, p in ipairs(entries) do
    s[p[1]] = s[p[1]] or {}
    s[p[1]][p[2]] = s[p[1]][p[2]] or {}
    s[p[1]][p[2]][p[3] or ''] = true
  end
  return s
end
local function inSet(s, p)
  local at = s[p[1]] and s[p[1]][p[2]]
  return at ~= nil and at[p[3] or ''] == true
end
local function removeEntry(p)
  if p[3] then
    redis.call('ZREM', nxPrefix .. p[3], id)
    return
  end
  local ix = ixPrefix .. p[1]
  if redis.call('HGET', ix, p[2]) == id then redis.call('HDEL', ix, p[2]) end
end
local function addEntry(p)
  if p[3] then
    redis.call('ZADD', nxPrefix .. p[3], 0, id)
  else
    redis.call('HSET', ixPrefix .. p[1], p[2], id)
  end
end
local oldIx = {}
if stored and storedIx then oldIx = cjson.decode(storedIx) end

-- The last check: each unique index key the resource does not hold yet is
-- claimed with HSETNX (one call where a check and a write took two); when
-- one is held by another resource, the keys claimed so far are given back
-- and the write fails. A key the resource holds stays its own: every
-- write of a key goes through this script.
local had = entrySet(oldIx)
if op == 'put' then
  local claimed = {}
  for _, p in ipairs(newIx) do
    if not p[3] and not inSet(had, p) then
      local ix = ixPrefix .. p[1]
      if redis.call('HSETNX', ix, p[2], id) == 1 then
        claimed[#claimed + 1] = p
      elseif redis.call('HGET', ix, p[2]) ~= id then
        for _, c in ipairs(claimed) do redis.call('HDEL', ixPrefix .. c[1], c[2]) end
        return redis.error_reply('CONFLICT ' .. p[1])
      end
    end
  end
end

if op == 'put' then
  local keep = entrySet(newIx)
  for _, p in ipairs(oldIx) do
    if not inSet(keep, p) then removeEntry(p) end
  end
  for _, p in ipairs(newIx) do
    if p[3] and not inSet(had, p) then addEntry(p) end
  end
  local ixJSON = '[]'
  if #newIx > 0 then ixJSON = cjson.encode(newIx) end
  redis.call('HSET', KEYS[1], 'v', version, 'm', meta, 'd', data, 'ix', ixJSON, 'w', writeID)
  -- An update's id is in the id set already.
  if not stored then redis.call('ZADD', KEYS[2], 0, id) end
elseif op == 'delete' then
  for _, p in ipairs(oldIx) do removeEntry(p) end
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], id)
  for _, m in ipairs(redis.call('SMEMBERS', memberPrefix .. id)) do
    redis.call('SREM', groupsPrefix .. m, id)
  end
  for _, g in ipairs(redis.call('SMEMBERS', groupsPrefix .. id)) do
    redis.call('SREM', memberPrefix .. g, id)
    retouch(groupResPrefix .. g)
  end
  redis.call('DEL', memberPrefix .. id, groupsPrefix .. id)
end

local changed = 0
if group ~= '' then
  for _, m in ipairs(adds) do
    changed = changed + redis.call('SADD', memberPrefix .. group, m)
    redis.call('SADD', groupsPrefix .. m, group)
  end
  for _, m in ipairs(removes) do
    changed = changed + redis.call('SREM', memberPrefix .. group, m)
    redis.call('SREM', groupsPrefix .. m, group)
  end
end
-- A touch takes effect, re-versioning the group and queuing its marks and
-- report entries, only when its membership change changed something.
local effective = groupMode ~= 'touch' or changed > 0
if groupMode == 'touch' and effective then retouch(KEYS[3]) end

for _ = 1, tonumber(nextArg()) do
  local qi = tonumber(nextArg())
  local key = nextArg()
  local due = tonumber(nextArg())
  if effective then qmark(KEYS[2 + 2 * qi], KEYS[3 + 2 * qi], key, due) end
end

local reportBase = tonumber(nextArg())
for _ = 1, tonumber(nextArg()) do
  local tk, ui, ai, rec = nextArg(), nextArg(), nextArg(), nextArg()
  if effective then rappend(reportBase, tk, ui, ai, rec) end
end
if groupMode == 'touch' then
  if not effective then return 0 end
  return redis.call('HMGET', KEYS[3], 'v', 'm', 'd')
end
if op == 'put' and readGroups then
  return {version, redis.call('SMEMBERS', groupsPrefix .. id)}
end
return version
`)

// enqueueScript queues marks.
//
// KEYS, in pairs per app: queue zset, queue meta hash
// ARGV, per mark: queue pair number (starting at 1), key, due ms
// Returns the number of marks applied.
var enqueueScript = newScript(luaQueue + `
local n = 0
for i = 1, #ARGV, 3 do
  local qi = tonumber(ARGV[i])
  qmark(KEYS[2 * qi - 1], KEYS[2 * qi], ARGV[i + 1], tonumber(ARGV[i + 2]))
  n = n + 1
end
return n
`)

// claimScript leases up to max keys that are visible at now.
//
// KEYS[1] queue zset, KEYS[2] queue meta hash, KEYS[3] token counter
// ARGV[1] now ms, ARGV[2] lease end ms (> now), ARGV[3] max
// Returns a flat array: key, token, attempt for each claimed key, in due order.
//
// A claimed key's score moves to its lease end, so it leaves the range
// [-inf, now] and is visible again when the lease ends. A dirty flag whose
// due time has come is cleared: this claim reconciles after the mark.
var claimScript = newScript(luaQueue + `
local now, leaseEnd, max = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local out = {}
local n = 0
while n < max do
  local batch = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, max - n)
  if #batch == 0 then break end
  for _, key in ipairs(batch) do
    local m = qget(KEYS[2], key) or {tok = '', att = 0}
    m.tok = string.format('%d', redis.call('INCR', KEYS[3]))
    if m.dirty and m.dirty <= now then m.dirty = nil end
    qput(KEYS[2], key, m)
    redis.call('ZADD', KEYS[1], leaseEnd, key)
    n = n + 1
    out[#out + 1] = key
    out[#out + 1] = m.tok
    out[#out + 1] = m.att
  end
end
return out
`)

// ackScript ends a claim: the key leaves the queue, or, when it was marked
// while claimed, waits again due at the mark's due time with attempt 0.
//
// KEYS[1] queue zset, KEYS[2] queue meta hash
// ARGV[1] key, ARGV[2] token
// Returns 1 when the key was queued again, 0 when it was removed.
// Error "LEASELOST" when the token does not hold the key.
var ackScript = newScript(luaQueue + `
local m = qget(KEYS[2], ARGV[1])
if not m or m.tok == '' or m.tok ~= ARGV[2] then return redis.error_reply('LEASELOST token does not hold the key') end
if m.dirty then
  redis.call('ZADD', KEYS[1], string.format('%d', m.dirty), ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 0
`)

// requeueScript ends a claim and queues the key again due at the earlier of
// due and a mark made while it was claimed, step attempts further (1 for
// Requeue, 0 for Release).
//
// KEYS[1] queue zset, KEYS[2] queue meta hash
// ARGV[1] key, ARGV[2] token, ARGV[3] due ms, ARGV[4] step
// Returns the new attempt count.
// Error "LEASELOST" when the token does not hold the key.
var requeueScript = newScript(luaQueue + `
local m = qget(KEYS[2], ARGV[1])
if not m or m.tok == '' or m.tok ~= ARGV[2] then return redis.error_reply('LEASELOST token does not hold the key') end
local due = tonumber(ARGV[3])
if m.dirty and m.dirty < due then due = m.dirty end
redis.call('ZADD', KEYS[1], string.format('%d', due), ARGV[1])
local att = m.att + tonumber(ARGV[4])
if att == 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
else
  qput(KEYS[2], ARGV[1], {tok = '', att = att})
end
return att
`)

// lookupScript reads the resources holding an index key, in id order.
//
// KEYS[1] the unique index hash, or the non-unique index key's value set
// ARGV[1] "hash" or "set" (what KEYS[1] is), ARGV[2] folded value (hash only),
// ARGV[3] max (0 = no limit), ARGV[4] resource key prefix of the kind
// Returns version, meta, data per resource; nothing when the key is free.
var lookupScript = newScript(`
local ids = {}
if ARGV[1] == 'hash' then
  local id = redis.call('HGET', KEYS[1], ARGV[2])
  if id then ids[1] = id end
else
  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
end
local out = {}
for _, id in ipairs(ids) do
  local r = redis.call('HMGET', ARGV[4] .. id, 'v', 'm', 'd')
  if r[1] then
    out[#out + 1] = r[1]
    out[#out + 1] = r[2]
    out[#out + 1] = r[3]
  end
end
return out
`)

// upgradeIndexScript moves entries of a formerly unique index from its
// hash into the value sets of a non-unique one (see Store.Upgrade).
//
// KEYS[1] the index hash (folded value -> id)
// ARGV[1] resource key prefix of the kind, ARGV[2] value set prefix of the
// kind, ARGV[3] index name, ARGV[4] value set suffix of the index without
// the value, then pairs of (folded value, id) as HSCAN read them
// Returns how many entries moved: an entry whose hash field no longer maps
// to its id (moved meanwhile by another replica, or rewritten) is left.
var upgradeIndexScript = newScript(`
local moved = 0
for i = 5, #ARGV, 2 do
  local folded, id = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', KEYS[1], folded) == id then
    local suffix = ARGV[4] .. folded
    redis.call('ZADD', ARGV[2] .. suffix, 0, id)
    redis.call('HDEL', KEYS[1], folded)
    local rk = ARGV[1] .. id
    local ix = redis.call('HGET', rk, 'ix')
    if ix then
      local entries = cjson.decode(ix)
      for _, e in ipairs(entries) do
        if e[1] == ARGV[3] and e[2] == folded and e[3] == nil then e[3] = suffix end
      end
      redis.call('HSET', rk, 'ix', cjson.encode(entries))
    end
    moved = moved + 1
  end
end
return moved
`)

// listScript reads one page of a kind in id order.
//
// KEYS[1] id zset of the kind
// ARGV[1] offset, ARGV[2] count (> 0), ARGV[3] resource key prefix of the kind
// Returns {total, then version, meta, data per resource}.
var listScript = newScript(`
local out = {redis.call('ZCARD', KEYS[1])}
local first = tonumber(ARGV[1])
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], first, first + tonumber(ARGV[2]) - 1)) do
  local r = redis.call('HMGET', ARGV[3] .. id, 'v', 'm', 'd')
  if r[1] then
    out[#out + 1] = r[1]
    out[#out + 1] = r[2]
    out[#out + 1] = r[3]
  end
end
return out
`)

// putLinkScript creates or replaces a link and keeps its reverse entry in step.
//
// KEYS[1] hub -> link JSON hash, KEYS[2] hub -> remote id hash,
// KEYS[3] remote id -> hub hash, KEYS[4] hub id zset
// ARGV[1] hub id, ARGV[2] remote id ("" = none), ARGV[3] link JSON
// Returns 1.
var putLinkScript = newScript(`
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old and old ~= ARGV[2] and redis.call('HGET', KEYS[3], old) == ARGV[1] then
  redis.call('HDEL', KEYS[3], old)
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], ARGV[1]) end
redis.call('ZADD', KEYS[4], 0, ARGV[1])
return 1
`)

// deleteLinkScript removes a link and its reverse entry.
//
// KEYS as putLinkScript; ARGV[1] hub id
// Returns 1. Error "NOTFOUND link" when there is no link.
var deleteLinkScript = newScript(`
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return redis.error_reply('NOTFOUND link') end
if old ~= '' and redis.call('HGET', KEYS[3], old) == ARGV[1] then redis.call('HDEL', KEYS[3], old) end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
`)

// linkByRemoteScript reads the link holding a remote id.
//
// KEYS[1] hub -> link JSON hash, KEYS[2] remote id -> hub hash
// ARGV[1] remote id
// Returns the link JSON, or nil.
var linkByRemoteScript = newScript(`
local hub = redis.call('HGET', KEYS[2], ARGV[1])
if not hub then return nil end
return redis.call('HGET', KEYS[1], hub)
`)

// linksScript reads a page of links in hub id order.
//
// KEYS[1] hub -> link JSON hash, KEYS[2] hub id zset
// ARGV[1] lower bound for ZRANGE BYLEX ("-" or "(<after>"), ARGV[2] count (> 0)
// Returns the link JSONs.
var linksScript = newScript(`
local out = {}
for _, hub in ipairs(redis.call('ZRANGE', KEYS[2], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, ARGV[2])) do
  local doc = redis.call('HGET', KEYS[1], hub)
  if doc then out[#out + 1] = doc end
end
return out
`)

// putIdempotencyScript stores a record unless a live one exists.
//
// KEYS[1] record hash {r: record, e: expiry ms}
// ARGV[1] record, ARGV[2] now ms, ARGV[3] expiry ms, ARGV[4] garbage-collection TTL ms
// Returns {1} when stored, {0, live record} otherwise.
var putIdempotencyScript = newScript(`
local h = redis.call('HMGET', KEYS[1], 'r', 'e')
if h[1] and tonumber(h[2]) > tonumber(ARGV[2]) then return {0, h[1]} end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'e', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1}
`)

// acquireLockScript takes or extends a lock.
//
// KEYS[1] lock hash {o: owner, t: token, e: expiry ms}, KEYS[2] fencing counter
// ARGV[1] owner, ARGV[2] now ms, ARGV[3] expiry ms, ARGV[4] garbage-collection TTL ms
// Returns the fencing token (a decimal string): the holder's own when owner
// holds a live lease, a new one from the counter otherwise.
// Error "LOCKED <holder>" when another owner holds a live lease.
var acquireLockScript = newScript(`
local l = redis.call('HMGET', KEYS[1], 'o', 't', 'e')
local live = l[1] and tonumber(l[3]) > tonumber(ARGV[2])
if live and l[1] ~= ARGV[1] then return redis.error_reply('LOCKED held by ' .. l[1]) end
local token = l[2]
if not live then token = string.format('%d', redis.call('INCR', KEYS[2])) end
redis.call('HSET', KEYS[1], 'o', ARGV[1], 't', token, 'e', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return token
`)

// releaseLockScript frees a lock held by owner with token.
//
// KEYS[1] lock hash
// ARGV[1] owner, ARGV[2] token
// Returns 1. Error "GONE" when the lock is not held at all, "LOCKED" when
// another owner or another acquisition holds it.
var releaseLockScript = newScript(`
local l = redis.call('HMGET', KEYS[1], 'o', 't')
if not l[1] then return redis.error_reply('GONE lock is not held') end
if l[1] ~= ARGV[1] or l[2] ~= ARGV[2] then return redis.error_reply('LOCKED held by ' .. l[1]) end
redis.call('DEL', KEYS[1])
return 1
`)

// takeTokenScript takes one token from a bucket.
//
// KEYS[1] bucket hash {n: tokens, t: last refill µs}
// ARGV[1] rate (tokens/s), ARGV[2] burst, ARGV[3] now µs, ARGV[4] garbage-collection TTL ms
// Returns 0 when a token was taken, or the wait in nanoseconds until one will be.
//
// A missing bucket is full. A now older than the last refill (a replica
// whose clock lags) refills nothing and does not move the refill time back.
var takeTokenScript = newScript(`
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'n', 't')
local tokens, last = burst, now
if b[1] then
  tokens, last = tonumber(b[1]), tonumber(b[2])
  if now > last then
    tokens = tokens + (now - last) * rate / 1e6
    last = now
  end
end
if tokens > burst then tokens = burst end
local wait = 0
if tokens >= 1 - 1e-9 then
  tokens = math.max(tokens - 1, 0)
else
  wait = math.ceil((1 - tokens) * 1e9 / rate)
end
redis.call('HSET', KEYS[1], 'n', string.format('%.17g', tokens), 't', string.format('%d', last))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return wait
`)

// The report log is ordered by entry ID, "<time>-<seq>": the entry's time
// as 19 zero-padded digits of unix nanoseconds, and a 16-digit sequence
// number from a counter, so byte order is (Time, append order). Sorted sets
// with every score 0 hold the IDs: one for the whole log and one per folded
// user and per folded app. A hash maps each ID to its record: a JSON header
// [user, app, operation, status] (folded user and app), a newline, and the
// entry JSON.

// appendReportScript appends entries to the report log and its indexes.
//
// KEYS[1] record hash, KEYS[2] log zset, KEYS[3] sequence counter, KEYS[4..] index zsets
// ARGV, 4 values per entry: time key (19 digits), user index number (0 = none,
// else the zset is KEYS[3 + n]), app index number (likewise), record.
// Returns the assigned IDs.
var appendReportScript = newScript(luaReport + `
local ids = {}
for i = 1, #ARGV, 4 do
  ids[#ids + 1] = rappend(1, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
end
return ids
`)

// queryReportsScript walks the log or an index newest first and returns the
// entries that match, examining at most a budget of entries.
//
// KEYS[1] record hash, KEYS[2] zset walked (the log or an index)
// ARGV[1] upper bound for ZREVRANGEBYLEX ("+" or "(<id or time key>")
// ARGV[2] lower bound ("-" or "[<time key>")
// ARGV[3] matches wanted, ARGV[4] budget of entries examined
// ARGV[5] folded user, ARGV[6] folded app, ARGV[7] operation, ARGV[8] status ("" = any;
// the caller leaves out what the walked index implies)
// Returns {resume, then id, entry JSON per match}: resume is the upper
// bound to continue from, or "" when the walk reached the lower bound.
var queryReportsScript = newScript(`
local want, budget = tonumber(ARGV[3]), tonumber(ARGV[4])
local filtered = ARGV[5] ~= '' or ARGV[6] ~= '' or ARGV[7] ~= '' or ARGV[8] ~= ''
local out = {''}
local upper, seen, found = ARGV[1], 0, 0
local function matches(header)
  if not filtered then return true end
  local h = cjson.decode(header)
  return (ARGV[5] == '' or h[1] == ARGV[5]) and (ARGV[6] == '' or h[2] == ARGV[6])
    and (ARGV[7] == '' or h[3] == ARGV[7]) and (ARGV[8] == '' or h[4] == ARGV[8])
end
while true do
  -- Unfiltered, every entry matches: fetch no more than wanted.
  local n = math.min(budget - seen, 128)
  if not filtered then n = math.min(n, want - found) end
  local batch = redis.call('ZREVRANGEBYLEX', KEYS[2], upper, ARGV[2], 'LIMIT', 0, n)
  for _, id in ipairs(batch) do
    seen = seen + 1
    upper = '(' .. id
    local rec = redis.call('HGET', KEYS[1], id)
    if rec then
      local nl = string.find(rec, '\n', 1, true)
      if matches(string.sub(rec, 1, nl - 1)) then
        out[#out + 1] = id
        out[#out + 1] = string.sub(rec, nl + 1)
        found = found + 1
        if found >= want then
          out[1] = upper
          return out
        end
      end
    end
  end
  if #batch < n then return out end
  if seen >= budget then
    out[1] = upper
    return out
  end
end
`)

// pruneReportsScript removes up to a chunk of report entries: those older
// than a time first, then, within what is left of the chunk, the oldest
// beyond a count; each from the record hash, the log and its user and app
// indexes.
//
// KEYS[1] record hash, KEYS[2] log zset
// ARGV[1] exclusive upper bound of the entries too old ("(<time key>", "" = no age limit)
// ARGV[2] max count (0 = none), ARGV[3] chunk
// ARGV[4] user index key prefix, ARGV[5] app index key prefix (the folded name is appended)
// Returns the number of entries removed; fewer than chunk means done.
var pruneReportsScript = newScript(`
local chunk = tonumber(ARGV[3])
local function remove(ids)
  for _, id in ipairs(ids) do
    local rec = redis.call('HGET', KEYS[1], id)
    if rec then
      local h = cjson.decode(string.sub(rec, 1, string.find(rec, '\n', 1, true) - 1))
      if h[1] ~= '' then redis.call('ZREM', ARGV[4] .. h[1], id) end
      if h[2] ~= '' then redis.call('ZREM', ARGV[5] .. h[2], id) end
      redis.call('HDEL', KEYS[1], id)
    end
    redis.call('ZREM', KEYS[2], id)
  end
  return #ids
end
local removed = 0
if ARGV[1] ~= '' then
  removed = remove(redis.call('ZRANGEBYLEX', KEYS[2], '-', ARGV[1], 'LIMIT', 0, chunk))
end
local maxCount = tonumber(ARGV[2])
if removed < chunk and maxCount > 0 then
  local excess = math.min(redis.call('ZCARD', KEYS[2]) - maxCount, chunk - removed)
  if excess > 0 then removed = removed + remove(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) end
end
return removed
`)

// scripts holds every script with its source, for tests that inspect
// them or load them ahead.
var scripts []struct {
	src    string
	script *goredis.Script
}

func newScript(src string) *goredis.Script {
	s := goredis.NewScript(src)
	scripts = append(scripts, struct {
		src    string
		script *goredis.Script
	}{src, s})
	return s
}
