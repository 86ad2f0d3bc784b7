/**
 * The Lua scripts that decide placement inside Redis, so that several COM processes agree:
 * each runs atomically, so "join an existing sub-room or open a new one" cannot race.
 * Key layout: redis-keys.ts. The scripts share the prelude below (least-loaded live shard,
 * bookkeeping when a sub-room is placed, moved or dropped).
 */

const PRELUDE = `
local SHARD_SUBS = 'swarmcast:shard-subs'
local function shardRooms(id) return 'swarmcast:shard-rooms:' .. id end
local function room(ch) return 'swarmcast:room:' .. ch end
local shards = cjson.decode(ARGV[1])
local live = {}
for _, s in ipairs(shards) do live[s.id] = s end
-- Least loaded live shard: members per capacity (from its last heartbeat), then fewer sub-rooms.
local function pick()
  local best, bestScore, bestSubs
  for _, s in ipairs(shards) do
    local score = s.load / s.capacity
    local n = tonumber(redis.call('HGET', SHARD_SUBS, s.id) or '0')
    if best == nil or score < bestScore or (score == bestScore and n < bestSubs) then
      best, bestScore, bestSubs = s, score, n
    end
  end
  return best
end
local function unplace(ch, sub, from)
  redis.call('HINCRBY', SHARD_SUBS, from, -1)
  redis.call('SREM', shardRooms(from), ch .. ' ' .. sub)
end
local function place(ch, sub, to, from)
  redis.call('HSET', room(ch) .. ':subs', sub, to.id)
  redis.call('HINCRBY', SHARD_SUBS, to.id, 1)
  redis.call('SADD', shardRooms(to.id), ch .. ' ' .. sub)
  if from then unplace(ch, sub, from) end
end
`;

/**
 * ARGV: 1 live shards JSON [{id,url,load,capacity}], 2 channel, 3 now (ms), 4 pending ms,
 * 5 split threshold, 6 peer id, 7 isp ('' none), 8 region ('' none), 9 grace ms (an empty
 * sub-room younger than this is kept), 10 preferred sub-room ('' none: a rejoin names its old one).
 * Returns { sub-room, tracker URL, created 0/1, sub-rooms moved off dead shards, occupancy JSON or '' }.
 */
export const ASSIGN_SCRIPT = `${PRELUDE}
if #shards == 0 then return false end
local ch = ARGV[2]
local now, pendingMs, K = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local peer, isp, region, grace, prefer = ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]), ARGV[10]
local R = room(ch)
-- A merged sub-room's members go where it was merged (following later merges too).
for _ = 1, 16 do
  local m = prefer ~= '' and redis.call('HGET', R .. ':merged', prefer)
  if not m or m == prefer then break end
  prefer = m
end
local function pairsOf(key)
  local flat, out = redis.call('HGETALL', key), {}
  for i = 1, #flat, 2 do out[flat[i]] = flat[i + 1] end
  return flat, out
end
local subsFlat = redis.call('HGETALL', R .. ':subs')
local _, occ = pairsOf(R .. ':occ')
local _, born = pairsOf(R .. ':born')
local cands, moved, preferExists = {}, 0, false
for i = 1, #subsFlat, 2 do
  local sub, shard = subsFlat[i], subsFlat[i + 1]
  local pk = R .. ':pend:' .. sub
  -- Unexpired entries only (expired ones are trimmed where a viewer is added).
  local pending = redis.call('ZCOUNT', pk, '(' .. now, '+inf')
  local raw = occ[sub]
  local o = raw and cjson.decode(raw) or nil
  if o and o.shard ~= shard then o, raw = nil, nil end
  if not live[shard] then
    local to = pick()
    place(ch, sub, to, shard)
    redis.call('HDEL', R .. ':occ', sub)
    shard, o, raw, moved = to.id, nil, nil, moved + 1
  end
  local viewers = pending + ((o and o.v) or 0)
  if viewers == 0 and sub ~= prefer and now - tonumber(born[sub] or '0') > grace then
    redis.call('HDEL', R .. ':subs', sub)
    redis.call('HDEL', R .. ':occ', sub)
    redis.call('HDEL', R .. ':born', sub)
    redis.call('DEL', pk)
    unplace(ch, sub, shard)
  else
    if sub == prefer then preferExists = true end
    local sameIsp = (o and isp ~= '' and o.i[isp]) or 0
    local sameRegion = (o and region ~= '' and o.g[region]) or 0
    cands[#cands + 1] = { sub = sub, shard = shard, v = viewers, i = sameIsp, g = sameRegion, raw = raw }
  end
end
local chosen = nil
-- A rejoining member goes back to its sub-room: it counted there already (up to 2K, a bound
-- against newcomers that filled it while its members were away).
for _, c in ipairs(cands) do
  if c.sub == prefer and c.v < 2 * K then chosen = c end
end
if not chosen then
  -- Most viewers of the same ISP, then region, then the fullest: small sub-rooms drain away.
  for _, c in ipairs(cands) do
    if c.v < K and (not chosen or c.i > chosen.i or (c.i == chosen.i and (c.g > chosen.g
        or (c.g == chosen.g and (c.v > chosen.v or (c.v == chosen.v and c.sub < chosen.sub)))))) then
      chosen = c
    end
  end
end
local created = 0
if not chosen then
  local id = prefer
  if id == '' or preferExists then
    repeat id = 's' .. (redis.call('INCR', R .. ':seq') - 1) until redis.call('HEXISTS', R .. ':subs', id) == 0
  end
  local to = pick()
  place(ch, id, to, nil)
  redis.call('HSET', R .. ':born', id, now)
  redis.call('SADD', 'swarmcast:rooms', ch)
  chosen, created = { sub = id, shard = to.id, raw = nil }, 1
end
redis.call('ZREMRANGEBYSCORE', R .. ':pend:' .. chosen.sub, '-inf', now)
redis.call('ZADD', R .. ':pend:' .. chosen.sub, now + pendingMs, peer)
return { chosen.sub, live[chosen.shard].url, created, moved, chosen.raw or '' }
`;

/**
 * A shard whose registration expired: every sub-room on it goes to the least-loaded live shard.
 * ARGV: 1 live shards JSON, 2 the dead shard's id. Returns how many sub-rooms moved.
 */
export const RETIRE_SCRIPT = `${PRELUDE}
local dead = ARGV[2]
if live[dead] then return 0 end
local moved = 0
for _, entry in ipairs(redis.call('SMEMBERS', shardRooms(dead))) do
  local sp = string.find(entry, ' ', 1, true)
  local ch, sub = string.sub(entry, 1, sp - 1), string.sub(entry, sp + 1)
  if redis.call('HGET', room(ch) .. ':subs', sub) == dead then
    if #shards > 0 then
      place(ch, sub, pick(), nil)
      redis.call('HDEL', room(ch) .. ':occ', sub)
      moved = moved + 1
    else
      break
    end
  end
end
if #shards > 0 then
  redis.call('DEL', shardRooms(dead))
  redis.call('HDEL', SHARD_SUBS, dead)
  redis.call('SREM', 'swarmcast:shards', dead)
end
return moved
`;

/**
 * A merge the COM planned (planMerges in server/com/sub-rooms.ts, over state it read): the source
 * sub-room leaves the room and its shard, and records where its members go. Skipped (0) when
 * either sub-room is gone by now (another COM acted first). ARGV: 1 live shards JSON, 2 channel,
 * 3 source, 4 target. The source's shard sees the record at its next flush and sends the members
 * to rejoin through a COM, whose assign script follows the record.
 */
export const MERGE_SCRIPT = `${PRELUDE}
local ch, from, into = ARGV[2], ARGV[3], ARGV[4]
local R = room(ch)
local shard = redis.call('HGET', R .. ':subs', from)
if not shard or from == into or redis.call('HEXISTS', R .. ':subs', into) == 0 then return 0 end
redis.call('HDEL', R .. ':subs', from)
redis.call('HDEL', R .. ':occ', from)
redis.call('HDEL', R .. ':born', from)
redis.call('DEL', R .. ':pend:' .. from)
unplace(ch, from, shard)
redis.call('HSET', R .. ':merged', from, into)
return 1
`;
