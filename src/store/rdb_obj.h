/* Entries <-> Redis RDB (version 10, as Redis 7.0 writes it; see persist/rdb.h).
 *
 * Writing: a snapshot is produced in pieces, so it can be streamed to a file while the
 * table is walked: store_rdb_put_header, then store_rdb_put_entry for each key, then
 * store_rdb_put_footer (the EOF opcode; the CRC is appended by rdb_file_seal, which has
 * seen every byte, or by rdb_put_checksum for an image in memory). Values are written in
 * the types Redis 7.0 writes for the same encodings, so the bytes match redis-server's
 * for the same contents (hashtable-encoded hashes and sets aside, whose order is their
 * table's).
 *
 * Loading: store_rdb_load reads a whole image (Redis 7.0's and 7.2's types; older plain
 * LIST and ZSET too) into a store, validating every byte: a corrupt file fails with a
 * reason and the offset where it was found, never crashes, and no count read from it
 * sizes an allocation beyond what the bytes left could hold. Loaded values take the
 * encodings corekv's thresholds give them (obj_limit), as Redis's loader does. */
#ifndef COREKV_STORE_RDB_OBJ_H
#define COREKV_STORE_RDB_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corekv/buf.h>

#include "store/store.h"

struct rdb_header_info {
    int shard, nshards;  /* corekv-shard / corekv-shards aux fields; nshards <= 0: none */
    bool aof_base;       /* aof-base aux field: 1 for the base file of an append-only log */
    uint64_t keys, expires; /* RESIZEDB; keys == 0 writes no SELECTDB/RESIZEDB, as Redis
                               does for an empty database */
    int64_t ctime;       /* ctime aux field (Unix seconds); 0: now */
    uint64_t used_mem;   /* used-mem aux field */
};

/* "REDIS0010", the aux fields (redis-ver, redis-bits, ctime, used-mem, aof-base,
 * corekv-shard, corekv-shards), then SELECTDB 0 and RESIZEDB when keys > 0. */
void store_rdb_put_header(struct buf *out, const struct rdb_header_info *h);
/* One key: [EXPIRETIME_MS ms] type key value. compress: LZF for strings over 20 bytes
 * (rdbcompression). The entry is read, not changed. */
void store_rdb_put_entry(const struct entry *e, struct buf *out, bool compress);
/* The EOF opcode. */
void store_rdb_put_footer(struct buf *out);

struct rdb_load_info {
    int shard, nshards;      /* corekv-shard / corekv-shards aux values; -1 when absent */
    uint64_t loaded, expired; /* keys stored / skipped because their TTL had passed */
    bool aof_base;           /* the file's aof-base aux field was 1 */
};

/* Load every key of the image p[0..n) into s (db 0 only: a SELECTDB of another db is an
 * error). The CRC is checked when the file carries one (nonzero). Keys whose TTL is
 * before now_ms are skipped and counted (now_ms 0 keeps every key, as for the base of
 * an append-only log). A key already present is replaced. Empty collections are skipped
 * (as Redis does). Returns false with err = "<reason> at offset <n>" on any malformation
 * or unsupported content ("unsupported RDB type N" for streams, modules, the old ziplist
 * encodings...); the keys loaded until then stay in s. */
bool store_rdb_load(struct store *s, const char *p, size_t n, int64_t now_ms,
                    struct rdb_load_info *info, char *err, size_t errlen);

#endif
