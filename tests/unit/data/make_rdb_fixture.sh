#!/usr/bin/env bash
# Regenerates redis7_all_types.rdb and redis7_all_types.txt (the keys it holds, what
# test_rdb.c checks after loading it) with a real redis-server 7.0.
#
# Usage: tests/unit/data/make_rdb_fixture.sh [redis-server binary]
# The keys cover every type in every encoding Redis 7.0 writes: strings (int, embstr,
# raw, LZF-compressible, binary), lists (one node, many nodes), hashes (listpack,
# hashtable), sets (intset, hashtable), sorted sets (listpack, skiplist), with and
# without TTLs. TTLs are absolute and far in the future so the fixture stays valid.
set -euo pipefail

REDIS_SERVER=${1:-/usr/bin/redis-server}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
PORT=$((20000 + RANDOM % 20000))
PY=/usr/bin/python3

cleanup() {
    if [[ -n "${PID:-}" ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

"$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$WORK" --dbfilename dump.rdb \
    --save "" --appendonly no --daemonize no --logfile "$WORK/redis.log" &
PID=$!

"$PY" - "$PORT" "$HERE/redis7_all_types.txt" <<'PYEOF'
import sys, time
import redis

port, out_path = int(sys.argv[1]), sys.argv[2]
r = redis.Redis(port=port, decode_responses=False)
for _ in range(100):
    try:
        r.ping()
        break
    except redis.ConnectionError:
        time.sleep(0.05)

T = 4102444800000  # 2100-01-01 00:00:00 UTC, in ms

# ---- strings ----
r.set(b"s:int16", b"12345")
r.set(b"s:int8", b"-7")
r.set(b"s:int32", b"2147483647")
r.set(b"s:int32min", b"-2147483648")
r.set(b"s:int64", b"9223372036854775807")
r.set(b"s:int64min", b"-9223372036854775808")
r.set(b"s:11digits", b"12345678901")
r.set(b"s:leadzero", b"0123")
r.set(b"s:float", b"3.14")
r.set(b"s:embstr", b"hello world")
r.set(b"s:empty", b"")
r.set(b"s:raw", bytes(range(33, 33 + 60)))                 # 60 distinct bytes: no LZF gain
r.set(b"s:lzf", b"abcdefghij" * 100)                        # compresses
r.set(b"s:ttl", b"expiring", pxat=T)
r.set(b"\x00bin\xff\r\nkey", b"\x00\x01\x02\xfe\xff")
r.set(b"12345", b"key is an int")
r.set(b"k" * 100, b"long compressible key")
r.set(b"s:append", b"1")
r.append(b"s:append", b"2")                                  # raw holding "12": int-encoded on disk
r.set(b"s:big", bytes((i * 7919) % 251 for i in range(2000)))

# ---- lists ----
r.rpush(b"l:small", b"a", b"1", b"-5", b"hello", b"12345678901234", b"", b"3.5")
r.rpush(b"l:big", *[b"element-%05d-xxxxxxxxxx" % i for i in range(500)])
r.rpush(b"l:ttl", b"x", b"y")
r.pexpireat(b"l:ttl", T + 1)
r.rpush(b"l:bigelem", b"small", b"Z" * 10000, b"tail")
r.rpush(b"l:129", *[str(i).encode() for i in range(129)])

# ---- hashes ----
r.hset(b"h:small", mapping={b"f1": b"v1", b"n": b"123", b"empty": b"", b"neg": b"-9"})
r.hset(b"h:mid", mapping={b"field%d" % i: b"value%d" % i for i in range(200)})
r.hset(b"h:big", mapping={b"f%d" % i: b"%d" % i for i in range(600)})
r.hset(b"h:longval", b"f", b"V" * 100)
r.hset(b"h:ttl", b"a", b"b")
r.pexpireat(b"h:ttl", T + 2)

# ---- sets ----
r.sadd(b"set:int", 1, 2, 3, -100, 1 << 40)
r.sadd(b"set:int16", 5, -5, 300)
r.sadd(b"set:str", b"a", b"b", b"c")
r.sadd(b"set:one", b"only")
r.sadd(b"set:bigint", *range(600))
r.sadd(b"set:big", *[b"m%d" % i for i in range(300)])
r.sadd(b"set:ttl", 7)
r.pexpireat(b"set:ttl", T + 3)

# ---- sorted sets ----
r.zadd(b"z:small", {b"a": 1, b"b": 2.5, b"c": float("-inf"), b"d": float("inf"),
                    b"e": 0.1, b"f": 1e100, b"g": -3, b"h": 123456789012})
r.zadd(b"z:big", {b"member%d" % i: i * 1.5 for i in range(200)})
r.zadd(b"z:longmember", {b"M" * 100: 2})
r.zadd(b"z:negzero", {b"x": -0.0, b"y": 1})
r.zadd(b"z:ttl", {b"q": 5})
r.pexpireat(b"z:ttl", T + 4)

def hx(b):
    return "x" + b.hex()

lines = ["# Written by make_rdb_fixture.sh: the keys of redis7_all_types.rdb.",
         "# limit <name> <value>: the encoding thresholds of the server that wrote it.",
         "# key <key> <type> <encoding> <expire ms or -1> <count> <items...>: byte strings",
         "# are 'x' + hex; scores as Redis replies them. Items in the order Redis replies",
         "# them (HGETALL, SMEMBERS, ZRANGE): a listpack's is the order they were added in."]
for name in (b"hash-max-listpack-entries", b"hash-max-listpack-value",
             b"set-max-intset-entries", b"zset-max-listpack-entries",
             b"zset-max-listpack-value", b"list-max-listpack-size"):
    lines.append("limit %s %s" % (name.decode(), (lambda v: v.decode() if isinstance(v, bytes) else v)(list(r.config_get(name).values())[0])))

for key in sorted(r.keys(b"*")):
    t = r.type(key).decode()
    enc = r.object("encoding", key).decode()
    exp = r.pexpiretime(key)
    if t == "string":
        items = [hx(r.get(key))]
    elif t == "list":
        items = [hx(x) for x in r.lrange(key, 0, -1)]
    elif t == "hash":
        items = []
        for f, v in r.hgetall(key).items():   # a listpack's order: insertion order
            items += [hx(f), hx(v)]
    elif t == "set":
        items = [hx(m) for m in r.smembers(key)]
    elif t == "zset":
        items = []
        flat = r.execute_command("ZRANGE", key, 0, -1, "WITHSCORES")
        for m, s in zip(flat[0::2], flat[1::2]):
            items += [hx(m), s.decode()]
    else:
        raise SystemExit("unexpected type " + t)
    count = len(items) // 2 if t in ("hash", "zset") else len(items)
    lines.append(" ".join(["key", hx(key), t, enc, str(exp), str(count)] + items))

r.save()
with open(out_path, "w") as f:
    f.write("\n".join(lines) + "\n")
PYEOF

cp "$WORK/dump.rdb" "$HERE/redis7_all_types.rdb"
redis-check-rdb "$HERE/redis7_all_types.rdb" >/dev/null
echo "wrote $HERE/redis7_all_types.rdb ($(stat -c %s "$HERE/redis7_all_types.rdb") bytes) and redis7_all_types.txt"
