"""Agent records in Redis: atomic state transitions, each announced on the events channel.

Every change of a record is one Lua script that checks its precondition (the caller's
connection is still the live one; the relay holding the agent is really dead; the forget
time has come), writes the hash, takes the next value of ``seq`` and publishes the whole
record with that version on ``{p}:events``. Redis runs scripts one at a time, so events
are published in version order and a relay that applies them in order holds an exact
copy (see ``relay.redis.bus``). Because each transition is conditional, two relays that
try the same one (two sweepers, a local forget timer and a sweeper) make it happen once.

(1.1) ``activity`` is written by ACTIVITY_LUA (not after ``exited``), emptied by an exit
and by a hello from another process (another ``pid`` or ``started_at``); a hello from the
same process (a reconnect) and a disconnect keep it. ``signal`` is written by an exit and
emptied by every other status and by a hello.

Every script that writes ``state`` also sets ``since`` (AgentInfo's ``state_since``) in
the same call, to its ``now``, when the state it writes differs from the one stored; a
status that keeps the state (a resize) leaves it. :func:`status_info` and
:func:`gone_info` apply the same rule to a relay's own copy while Redis is unreachable.

The snapshot script also reads the dataset's epoch (``{p}:epoch``, a random id that the
first snapshot of an empty Redis sets). :meth:`AgentStore.sync` compares it with the
epoch of the relay's previous sync: a different one means Redis lost its data in between,
however far other relays have pushed ``seq`` since.

Scripts build ``{p}:agent:{id}`` and ``{p}:relay:{rid}:alive`` names themselves in two
places (the snapshot and the sweep), so this layout is for one Redis, not Redis Cluster.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from relay.protocol import Activity, AgentHello, AgentInfo, AgentInfoState, AgentStatus
from relay.redis.keys import (
    Keys,
    Record,
    decode_fields,
    num,
    opt_activity,
    opt_int,
    opt_num,
    record_from_fields,
    static_json,
    static_of,
)

# KEYS for every transition: record, agents set, live hash, forget zset, seq.
# ARGV[1] is the events channel, ARGV[2] the agent id.
_PRELUDE = """
local rec, agents, live, forget, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local channel, id = ARGV[1], ARGV[2]
local function publish()
  local v = string.format('%d', redis.call('INCR', seq))
  redis.call('HSET', rec, 'v', v)
  local flat = redis.call('HGETALL', rec)
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  redis.call('PUBLISH', channel, cjson.encode({v = v, id = id, f = f}))
end
"""

# ARGV: 3 conn, 4 relay, 5 static, 6 pid, 7 cols, 8 rows, 9 now
# -> {old conn, old relay, end, version}
ATTACH_LUA = _PRELUDE + """
local old_conn = redis.call('HGET', rec, 'conn') or ''
local old_relay = redis.call('HGET', rec, 'relay') or ''
local old_state = redis.call('HGET', rec, 'state')
if old_state ~= 'running' then
  redis.call('HSET', rec, 'since', ARGV[9])
end
local old_static = redis.call('HGET', rec, 'static')
local same = old_state and old_state ~= 'exited' and old_static
  and (redis.call('HGET', rec, 'pid') or '') == ARGV[6]
  and cjson.decode(old_static)['started_at'] == cjson.decode(ARGV[5])['started_at']
if not same then redis.call('HSET', rec, 'activity', '') end
redis.call('HSET', rec, 'signal', '')
redis.call('HSET', rec, 'static', ARGV[5], 'state', 'running', 'pid', ARGV[6],
           'cols', ARGV[7], 'rows', ARGV[8], 'exit_code', '', 'seen', ARGV[9],
           'conn', ARGV[3], 'relay', ARGV[4])
redis.call('HSETNX', rec, 'end', '0')
redis.call('HSETNX', rec, 'start', '0')
redis.call('SADD', agents, id)
redis.call('HSET', live, id, ARGV[4])
redis.call('ZREM', forget, id)
publish()
return {old_conn, old_relay, redis.call('HGET', rec, 'end'), redis.call('HGET', rec, 'v')}
"""

# ARGV: 3 conn, 4 state, 5 pid, 6 cols, 7 rows, 8 exit_code, 9 now, 10 forget_at, 11 signal
STATUS_LUA = _PRELUDE + """
if redis.call('HGET', rec, 'conn') ~= ARGV[3] then return 0 end
if redis.call('HGET', rec, 'state') ~= ARGV[4] then
  redis.call('HSET', rec, 'since', ARGV[9])
end
redis.call('HSET', rec, 'state', ARGV[4], 'pid', ARGV[5], 'cols', ARGV[6], 'rows', ARGV[7],
           'exit_code', ARGV[8], 'seen', ARGV[9], 'signal', ARGV[11])
if ARGV[4] == 'exited' then
  redis.call('HSET', rec, 'activity', '')
  redis.call('ZADD', forget, ARGV[10], id)
else
  redis.call('ZREM', forget, id)
end
publish()
return 1
"""

# ARGV: 3 conn, 4 activity JSON, 5 now
ACTIVITY_LUA = _PRELUDE + """
if redis.call('HGET', rec, 'conn') ~= ARGV[3] then return 0 end
if redis.call('HGET', rec, 'state') == 'exited' then return 0 end
redis.call('HSET', rec, 'activity', ARGV[4], 'seen', ARGV[5])
publish()
return 1
"""

# KEYS: record.  ARGV: conn, now
SEEN_LUA = """
if redis.call('HGET', KEYS[1], 'conn') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'seen', ARGV[2])
return 1
"""

_GONE = """
local old_state = redis.call('HGET', rec, 'state')
local state = old_state
if state ~= 'exited' then state = 'disconnected' end
if state ~= old_state then redis.call('HSET', rec, 'since', NOW) end
redis.call('HSET', rec, 'state', state, 'conn', '', 'relay', '', 'seen', NOW)
redis.call('HDEL', live, id)
redis.call('ZADD', forget, FORGET_AT, id)
publish()
return 1
"""

# ARGV: 3 conn, 4 now, 5 forget_at
DETACH_LUA = _PRELUDE + """
if redis.call('HGET', rec, 'conn') ~= ARGV[3] then return 0 end
local NOW, FORGET_AT = ARGV[4], ARGV[5]
""" + _GONE

# ARGV: 3 relay, 4 its alive key, 5 now, 6 forget_at
SWEEP_DEAD_LUA = _PRELUDE + """
if redis.call('HGET', live, id) ~= ARGV[3] then return 0 end
if redis.call('EXISTS', ARGV[4]) == 1 then return 0 end
local NOW, FORGET_AT = ARGV[5], ARGV[6]
""" + _GONE

# KEYS: + 6 stream.  ARGV: 3 now, 4 forget_after
FORGET_LUA = _PRELUDE + """
local due = redis.call('ZSCORE', forget, id)
if not due or tonumber(due) > tonumber(ARGV[3]) then return 0 end
local conn = redis.call('HGET', rec, 'conn')
if conn and conn ~= '' then
  redis.call('ZADD', forget, tonumber(ARGV[3]) + tonumber(ARGV[4]), id)
  return 0
end
redis.call('DEL', rec, KEYS[6])
redis.call('SREM', agents, id)
redis.call('ZREM', forget, id)
redis.call('HDEL', live, id)
local v = string.format('%d', redis.call('INCR', seq))
redis.call('PUBLISH', channel, cjson.encode({v = v, id = id, removed = true}))
return 1
"""

# ARGV: 3 conn, 4 relay, 5 static, 6 state, 7 pid, 8 cols, 9 rows, 10 exit_code, 11 now,
# 12 end (used when the record is missing: Redis lost it), 13 the relay's state_since
# (empty when unknown): kept when Redis has the same state, else used, else now;
# 14 activity JSON, 15 signal (this relay's view, both empty for none)
REASSERT_LUA = _PRELUDE + """
local since = ARGV[13]
if redis.call('EXISTS', rec) == 1 then
  local live_conn = redis.call('HGET', rec, 'conn')
  if live_conn ~= ARGV[3] and live_conn ~= '' then return 0 end
  if redis.call('HGET', rec, 'state') == ARGV[6] then
    since = redis.call('HGET', rec, 'since') or since
  elseif since == '' then
    since = ARGV[11]
  end
else
  redis.call('HSET', rec, 'end', ARGV[12], 'start', ARGV[12])
  if since == '' then since = ARGV[11] end
end
if since ~= '' then redis.call('HSET', rec, 'since', since) end
redis.call('HSET', rec, 'static', ARGV[5], 'state', ARGV[6], 'pid', ARGV[7], 'cols', ARGV[8],
           'rows', ARGV[9], 'exit_code', ARGV[10], 'seen', ARGV[11],
           'conn', ARGV[3], 'relay', ARGV[4], 'activity', ARGV[14], 'signal', ARGV[15])
redis.call('SADD', agents, id)
redis.call('HSET', live, id, ARGV[4])
redis.call('ZREM', forget, id)
publish()
return tonumber(redis.call('HGET', rec, 'v'))
"""

# After Redis lost its data: write back a record that a relay's copy still holds.
# ARGV: 3 conn ('' when no sidecar is connected), 4 relay ('' with no conn), 5 static,
# 6 state, 7 pid, 8 cols, 9 rows, 10 exit_code, 11 now, 12 end (its output is lost: start
# = end, so readers are told of a gap), 13 state_since ('' unknown), 14 activity,
# 15 signal, 16 forget_at (used with no conn).
# A record that exists is left alone, except that a restore with a connection claims one
# that has none (another relay restored it first; this one holds output of that
# connection to append). -> 1 written, 0 left alone
RESTORE_LUA = _PRELUDE + """
if redis.call('EXISTS', rec) == 1 then
  if ARGV[3] == '' or (redis.call('HGET', rec, 'conn') or '') ~= '' then return 0 end
  redis.call('HSET', rec, 'conn', ARGV[3], 'relay', ARGV[4])
else
  local since = ARGV[13]
  if since == '' then since = ARGV[11] end
  redis.call('HSET', rec, 'static', ARGV[5], 'state', ARGV[6], 'pid', ARGV[7],
             'cols', ARGV[8], 'rows', ARGV[9], 'exit_code', ARGV[10], 'seen', ARGV[11],
             'conn', ARGV[3], 'relay', ARGV[4], 'activity', ARGV[14], 'signal', ARGV[15],
             'end', ARGV[12], 'start', ARGV[12], 'since', since)
  redis.call('SADD', agents, id)
end
if ARGV[3] ~= '' then
  redis.call('HSET', live, id, ARGV[4])
  redis.call('ZREM', forget, id)
else
  redis.call('ZADD', forget, ARGV[16], id)
end
publish()
return 1
"""

# KEYS: agents set, seq, epoch.  ARGV: record key prefix, a new epoch id (set when none)
# -> {seq, epoch, id, fields, id, fields, ...}
SNAPSHOT_LUA = """
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[3], epoch)
end
local out = {redis.call('GET', KEYS[2]) or '0', epoch}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. id)
end
return out
"""


@dataclass(frozen=True, slots=True)
class Event:
    """A record change (``record`` set) or a removal (``record`` None), version ``v``."""

    version: int
    agent_id: str
    record: Record | None


def decode_event(payload: bytes | str) -> Event:
    obj = json.loads(payload)
    agent_id = str(obj["id"])
    if obj.get("removed"):
        return Event(int(obj["v"]), agent_id, None)
    fields = {str(k): str(v) for k, v in dict(obj["f"]).items()}
    return Event(int(obj["v"]), agent_id, record_from_fields(agent_id, fields))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every record, the version they are current at and the dataset's epoch, read
    atomically."""

    version: int
    records: dict[str, Record]
    epoch: str


@dataclass(frozen=True, slots=True)
class Attached:
    old_conn: str
    old_relay: str
    end: int
    version: int


class AgentStore:
    """The record transitions and reads, bound to one client and key layout."""

    def __init__(self, client: aioredis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._attach = client.register_script(ATTACH_LUA)
        self._status = client.register_script(STATUS_LUA)
        self._activity = client.register_script(ACTIVITY_LUA)
        self._seen = client.register_script(SEEN_LUA)
        self._detach = client.register_script(DETACH_LUA)
        self._sweep_dead = client.register_script(SWEEP_DEAD_LUA)
        self._forget = client.register_script(FORGET_LUA)
        self._reassert = client.register_script(REASSERT_LUA)
        self._restore = client.register_script(RESTORE_LUA)
        self._snapshot = client.register_script(SNAPSHOT_LUA)
        #: The epoch of the last :meth:`sync` (None before the first).
        self._epoch: str | None = None

    def _keys_for(self, agent_id: str) -> list[str]:
        k = self._keys
        return [k.agent(agent_id), k.agents, k.live, k.forget, k.seq]

    def _args(self, agent_id: str, *rest: object) -> list[Any]:
        return [self._keys.events, agent_id, *rest]

    async def attach(
        self, hello: AgentHello, conn_id: str, relay_id: str, now: float
    ) -> Attached:
        res = await self._attach(
            keys=self._keys_for(hello.agent_id),
            args=self._args(
                hello.agent_id, conn_id, relay_id, static_json(hello), opt_int(hello.pid),
                hello.cols, hello.rows, num(now),
            ),
        )
        return Attached(
            old_conn=_s(res[0]), old_relay=_s(res[1]), end=int(res[2]), version=int(res[3])
        )

    async def status(
        self, agent_id: str, conn_id: str, info: AgentInfo, now: float, forget_at: float
    ) -> bool:
        res = await self._status(
            keys=self._keys_for(agent_id),
            args=self._args(
                agent_id, conn_id, info.state, opt_int(info.pid), info.cols, info.rows,
                opt_int(info.exit_code), num(now), num(forget_at), info.signal or "",
            ),
        )
        return bool(res)

    async def activity(
        self, agent_id: str, conn_id: str, activity: Activity, now: float
    ) -> bool:
        """Store the sidecar's activity; False when ``conn_id`` is not the live
        connection or the command exited."""
        res = await self._activity(
            keys=self._keys_for(agent_id),
            args=self._args(agent_id, conn_id, opt_activity(activity), num(now)),
        )
        return bool(res)

    async def seen(self, agent_id: str, conn_id: str, now: float) -> None:
        await self._seen(keys=[self._keys.agent(agent_id)], args=[conn_id, num(now)])

    async def detach(self, agent_id: str, conn_id: str, now: float, forget_at: float) -> bool:
        res = await self._detach(
            keys=self._keys_for(agent_id),
            args=self._args(agent_id, conn_id, num(now), num(forget_at)),
        )
        return bool(res)

    async def sweep_dead(
        self, agent_id: str, relay_id: str, now: float, forget_at: float
    ) -> bool:
        res = await self._sweep_dead(
            keys=self._keys_for(agent_id),
            args=self._args(
                agent_id, relay_id, self._keys.alive(relay_id), num(now), num(forget_at)
            ),
        )
        return bool(res)

    async def forget(self, agent_id: str, now: float, forget_after: float) -> bool:
        res = await self._forget(
            keys=[*self._keys_for(agent_id), self._keys.out(agent_id)],
            args=self._args(agent_id, num(now), num(forget_after)),
        )
        return bool(res)

    async def reassert(
        self, info: AgentInfo, conn_id: str, relay_id: str, now: float, end: int
    ) -> int:
        """Write this relay's view of a live agent back (after Redis lost it or swept it);
        the record's new version, or 0 when another connection holds the agent."""
        res = await self._reassert(
            keys=self._keys_for(info.agent_id),
            args=self._args(
                info.agent_id, conn_id, relay_id, static_of(info), info.state,
                opt_int(info.pid), info.cols, info.rows, opt_int(info.exit_code), num(now), end,
                opt_num(info.state_since), opt_activity(info.activity), info.signal or "",
            ),
        )
        return int(res)

    async def restore(
        self, info: AgentInfo, conn_id: str, relay_id: str, now: float, end: int,
        forget_at: float,
    ) -> bool:
        """Write a record back after Redis lost it (RESTORE_LUA): ``info`` as this relay's
        copy has it; ``conn_id`` of a connection whose output this relay still holds, or
        ''. False when the record exists (and was not claimed)."""
        res = await self._restore(
            keys=self._keys_for(info.agent_id),
            args=self._args(
                info.agent_id, conn_id, relay_id if conn_id else "", static_of(info),
                info.state, opt_int(info.pid), info.cols, info.rows, opt_int(info.exit_code),
                num(now), end, opt_num(info.state_since), opt_activity(info.activity),
                info.signal or "", num(forget_at),
            ),
        )
        return bool(res)

    async def get(self, agent_id: str) -> Record | None:
        raw = await self._client.hgetall(self._keys.agent(agent_id))
        return record_from_fields(agent_id, decode_fields(raw))

    async def snapshot(self) -> Snapshot:
        """The records, ``seq`` and the epoch, read atomically; an empty Redis gets an
        epoch here, so every relay that reads one agrees on it."""
        res = await self._snapshot(
            keys=[self._keys.agents, self._keys.seq, self._keys.epoch],
            args=[self._keys.agent(""), secrets.token_hex(8)],
        )
        records: dict[str, Record] = {}
        for i in range(2, len(res) - 1, 2):
            agent_id = _s(res[i])
            record = record_from_fields(agent_id, decode_fields(res[i + 1]))
            if record is not None:
                records[agent_id] = record
        return Snapshot(int(res[0]), records, _s(res[1]))

    async def sync(self, applied: int) -> tuple[Snapshot, bool]:
        """The snapshot a relay resyncs with, and whether Redis lost data since this
        store's previous sync: the epoch changed (Redis restarted empty, even if other
        relays have since pushed ``seq`` past ``applied``, the version this relay had
        applied), or ``seq`` went back within one epoch (Redis restored an older
        snapshot of itself, or failed over to a replica that lagged)."""
        snap = await self.snapshot()
        lost = snap.version < applied or self._epoch not in (None, snap.epoch)
        self._epoch = snap.epoch
        return snap, lost

    async def live(self) -> dict[str, str]:
        """Agent id -> relay id of every live connection."""
        raw = await self._client.hgetall(self._keys.live)
        return decode_fields(raw)

    async def due(self, now: float) -> list[str]:
        raw = await self._client.zrangebyscore(self._keys.forget, "-inf", repr(now))
        return [_s(r) for r in raw]


def _entered(info: AgentInfo, state: AgentInfoState, now: float) -> float | None:
    """``state_since`` after a change to ``state`` at ``now``: kept if the state stays."""
    return info.state_since if state == info.state else now


def status_info(
    agent_id: str, base: AgentInfo | None, status: AgentStatus, now: float, offset: int
) -> AgentInfo:
    """The agent after ``status`` as STATUS_LUA writes it, from this relay's copy
    ``base`` (None when it has none); Redis ignores ``state_since`` here and decides it
    from its own record."""
    return AgentInfo(
        agent_id=agent_id,
        name=base.name if base else agent_id,
        host=base.host if base else "",
        command=base.command if base else (),
        labels=base.labels if base else {},
        pid=status.pid,
        cols=status.cols,
        rows=status.rows,
        started_at=base.started_at if base else now,
        state=status.state,
        exit_code=status.exit_code if status.state == "exited" else None,
        last_seen=now,
        offset=offset,
        state_since=_entered(base, status.state, now) if base else now,
        signal=status.signal if status.state == "exited" else None,
        activity=base.activity if base and status.state != "exited" else None,
        local_terminal=base.local_terminal if base else None,
    )


def gone_info(info: AgentInfo, now: float) -> AgentInfo:
    """The agent after its connection ended, as DETACH_LUA writes it."""
    state: AgentInfoState = "exited" if info.state == "exited" else "disconnected"
    return dataclasses.replace(
        info, state=state, last_seen=now, state_since=_entered(info, state, now)
    )


def _s(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if value is None or value is False:
        return ""
    return str(value)
