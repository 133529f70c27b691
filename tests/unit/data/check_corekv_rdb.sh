#!/usr/bin/env bash
# The reverse of redis7_all_types.rdb: files written by corekv, read by Redis 7.0.
#
# Usage: tests/unit/data/check_corekv_rdb.sh <build dir> [redis-server binary]
# Runs <build dir>/test_rdb with RDB_TEST_DUMP_DIR, which writes corekv's image of every
# type and encoding (with and without LZF) and a description of its keys; then checks
# each image with redis-check-rdb, loads it into redis-server (--dir --dbfilename) and
# compares every key's type, TTL and contents with the description. Exits non-zero on
# any difference.
set -euo pipefail

BUILD=${1:?usage: $0 <build dir> [redis-server]}
REDIS_SERVER=${2:-/usr/bin/redis-server}
WORK=$(mktemp -d)
PY=/usr/bin/python3
PID=

cleanup() {
    if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

RDB_TEST_DUMP_DIR="$WORK" "$BUILD/test_rdb" >/dev/null 2>&1
for f in corekv_all_types.rdb corekv_all_types_plain.rdb; do
    redis-check-rdb "$WORK/$f" | tail -n 3
    PORT=$((20000 + RANDOM % 20000))
    "$REDIS_SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$WORK" --dbfilename "$f" \
        --save "" --appendonly no --daemonize no --logfile "$WORK/redis-$f.log" &
    PID=$!
    "$PY" - "$PORT" "$WORK/corekv_all_types.txt" "$f" <<'PYEOF'
import sys, time
import redis

port, desc, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
r = redis.Redis(port=port, decode_responses=False)
for _ in range(200):
    try:
        r.ping()
        break
    except (redis.ConnectionError, redis.BusyLoadingError):
        time.sleep(0.05)

def unhex(t):
    assert t[0] == "x"
    return bytes.fromhex(t[1:])

want = {}
for line in open(desc):
    tok = line.split()
    key, typ, enc, exp, count, items = unhex(tok[1]), tok[2], tok[3], int(tok[4]), int(tok[5]), tok[6:]
    if typ == "zset":
        items = [(unhex(m), float(s)) for m, s in zip(items[0::2], items[1::2])]
    elif typ == "hash":
        items = sorted((unhex(f), unhex(v)) for f, v in zip(items[0::2], items[1::2]))
    elif typ == "set":
        items = sorted(unhex(m) for m in items)
    else:
        items = [unhex(m) for m in items]
    want[key] = (typ, exp, count, items, enc)

bad = 0
keys = set(r.keys(b"*"))
if keys != set(want):
    print("key sets differ:", sorted(keys ^ set(want))[:10])
    bad += 1
for key in sorted(keys & set(want)):
    typ = r.type(key).decode()
    exp = r.pexpiretime(key)
    if typ == "string":
        items = [r.get(key)]
    elif typ == "list":
        items = r.lrange(key, 0, -1)
    elif typ == "hash":
        items = sorted(r.hgetall(key).items())
    elif typ == "set":
        items = sorted(r.smembers(key))
    else:
        flat = r.execute_command("ZRANGE", key, 0, -1, "WITHSCORES")
        items = [(m, float(s)) for m, s in zip(flat[0::2], flat[1::2])]
    w = want[key]
    if (typ, exp, len(items), items) != w[:4]:
        print("differs:", key[:40], typ, w[0], exp, w[1], len(items), w[2])
        bad += 1
print("%s: %d keys compared, %d differences (redis-server encodings: %s)" % (
    name, len(keys & set(want)), bad,
    ", ".join(sorted({"%s %s->%s" % (w[0], w[4], r.object("encoding", k).decode())
                      for k, w in want.items() if k in keys}))))
sys.exit(1 if bad else 0)
PYEOF
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
done
