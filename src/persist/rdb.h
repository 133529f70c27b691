/* Redis's RDB snapshot format (version 10, as Redis 7.0 writes it): the primitives,
 * with no knowledge of the store (store/rdb_obj.h turns entries into records and back).
 *
 * Layout of a file:
 *   "REDIS0010"  AUX(key, value)...  [SELECTDB 0  RESIZEDB keys expires  record...]
 *   EOF  <CRC64 of every byte before it, 8 bytes little-endian; 0 when checksums are off>
 *   record = [EXPIRETIME_MS <int64 LE ms>] <type byte> <key string> <value>
 *
 * Lengths ("len") are big-endian in 1, 2, 5 or 9 bytes: 00xxxxxx (6 bits), 01xxxxxx
 * xxxxxxxx (14 bits), 0x80 + u32, 0x81 + u64. A first byte 11xxxxxx instead marks a
 * string in a special form: INT8/16/32 (little-endian, a decimal string's value) or LZF
 * (compressed length, original length, compressed bytes).
 *
 * Writers append to a struct buf; a snapshot file is written through struct rdb_file,
 * which keeps the running CRC. Readers work on an in-memory image (a mapped file) through
 * struct rdb_reader, which never reads past its end and keeps the first error with its
 * offset. */
#ifndef COREKV_PERSIST_RDB_H
#define COREKV_PERSIST_RDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <corekv/buf.h>

#define RDB_VERSION 10
/* The version whose files these are: written in the redis-ver aux field. */
#define RDB_REDIS_VER "7.0.15"
/* Newest version a reader accepts (7.4 writes 12; unknown types still fail cleanly). */
#define RDB_VERSION_MAX 12
/* Strings longer than this are refused when reading (keys and values alike). */
#define RDB_STRING_MAX ((size_t)1 << 31)

enum rdb_opcode {
    RDB_OP_FUNCTION2 = 245,
    RDB_OP_FUNCTION = 246, /* 7.0 release candidates only */
    RDB_OP_MODULE_AUX = 247,
    RDB_OP_IDLE = 248,
    RDB_OP_FREQ = 249,
    RDB_OP_AUX = 250,
    RDB_OP_RESIZEDB = 251,
    RDB_OP_EXPIRETIME_MS = 252,
    RDB_OP_EXPIRETIME = 253,
    RDB_OP_SELECTDB = 254,
    RDB_OP_EOF = 255,
};

enum rdb_type {
    RDB_TYPE_STRING = 0,
    RDB_TYPE_LIST = 1,
    RDB_TYPE_SET = 2,
    RDB_TYPE_ZSET = 3,
    RDB_TYPE_HASH = 4,
    RDB_TYPE_ZSET_2 = 5,
    RDB_TYPE_MODULE = 6,
    RDB_TYPE_MODULE_2 = 7,
    RDB_TYPE_HASH_ZIPMAP = 9,
    RDB_TYPE_LIST_ZIPLIST = 10,
    RDB_TYPE_SET_INTSET = 11,
    RDB_TYPE_ZSET_ZIPLIST = 12,
    RDB_TYPE_HASH_ZIPLIST = 13,
    RDB_TYPE_LIST_QUICKLIST = 14,
    RDB_TYPE_STREAM_LISTPACKS = 15,
    RDB_TYPE_HASH_LISTPACK = 16,
    RDB_TYPE_ZSET_LISTPACK = 17,
    RDB_TYPE_LIST_QUICKLIST_2 = 18,
    RDB_TYPE_STREAM_LISTPACKS_2 = 19,
    RDB_TYPE_SET_LISTPACK = 20,
    RDB_TYPE_STREAM_LISTPACKS_3 = 21,
};

/* Quicklist node containers of RDB_TYPE_LIST_QUICKLIST_2. */
#define RDB_QL_PLAIN 1  /* one element, stored as a plain string */
#define RDB_QL_PACKED 2 /* a listpack */

/* ---- Writing ---- */

/* Encode len in its shortest form into b; returns the bytes used (1, 2, 5 or 9). */
size_t rdb_encode_len(unsigned char b[9], uint64_t len);
/* The INT8/16/32 string form of v into b; returns its size (2, 3 or 5), or 0 when v
 * does not fit 32 bits. */
size_t rdb_encode_int(unsigned char b[5], int64_t v);

void rdb_put_len(struct buf *out, uint64_t len);
/* A string as Redis's rdbSaveRawString writes it: the INT form when it is the canonical
 * decimal of a 32-bit value (and at most 11 bytes), else LZF when `compress`, it is over
 * 20 bytes and compression saves at least 4 bytes, else length + bytes. */
void rdb_put_string(struct buf *out, const void *p, size_t len, bool compress);
/* An integer-encoded string value (rdbSaveLongLongAsStringObject): the INT form, or its
 * decimal digits when it needs more than 32 bits. */
void rdb_put_int(struct buf *out, int64_t v);
/* An IEEE 754 double, 8 bytes little-endian (sorted-set scores of ZSET_2). */
void rdb_put_double(struct buf *out, double v);
/* A millisecond time, 8 bytes little-endian. */
void rdb_put_ms(struct buf *out, int64_t ms);

/* "REDIS0010". */
void rdb_put_magic(struct buf *out);
/* AUX opcode, key, value (an integer value is written in decimal, INT-encoded when it
 * fits, as Redis's rdbSaveAuxFieldStrInt). */
void rdb_put_aux(struct buf *out, const char *key, const char *val, size_t vlen);
void rdb_put_aux_int(struct buf *out, const char *key, int64_t v);
void rdb_put_selectdb(struct buf *out, uint64_t db);
void rdb_put_resizedb(struct buf *out, uint64_t keys, uint64_t expires);
/* The EOF opcode (the checksum follows it; see rdb_put_checksum / rdb_file_seal). */
void rdb_put_eof(struct buf *out);
/* For a whole image in memory: append the CRC64 of out's bytes (or 8 zero bytes). */
void rdb_put_checksum(struct buf *out, bool checksum);

/* ---- CRC64 (Jones polynomial, reflected, as Redis's crc64: "123456789" gives
 * 0xe9c6d914c4b8d9ca). Start from 0; feed bytes in order. ---- */
uint64_t rdb_crc64(uint64_t crc, const void *p, size_t n);

/* ---- Reading ---- */

struct rdb_reader {
    const unsigned char *p;
    size_t len;      /* bytes in p */
    size_t pos;      /* next byte to read */
    size_t err_pos;  /* where the first error was found */
    char err[160];   /* its reason; "" while there was none */
};

void rdb_reader_init(struct rdb_reader *r, const void *p, size_t len);
static inline size_t rdb_left(const struct rdb_reader *r) { return r->len - r->pos; }
static inline bool rdb_failed(const struct rdb_reader *r) { return r->err[0] != '\0'; }
/* Record an error at offset `at` (kept only if it is the first); returns false. */
bool rdb_fail(struct rdb_reader *r, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "<reason> at offset <n>" into buf. */
void rdb_error(const struct rdb_reader *r, char *buf, size_t len);

/* Each read returns false (after recording why) when the image ends too soon or the
 * bytes are malformed; the reader then stays failed. */
bool rdb_read_magic(struct rdb_reader *r, int *version);
bool rdb_read_u8(struct rdb_reader *r, uint8_t *v);
bool rdb_read_raw(struct rdb_reader *r, size_t n, const unsigned char **p);
/* A plain length (a special string form here is an error). */
bool rdb_read_len(struct rdb_reader *r, uint64_t *len);
bool rdb_read_ms(struct rdb_reader *r, int64_t *ms);
/* The 4-byte seconds of the old EXPIRETIME opcode. */
bool rdb_read_secs(struct rdb_reader *r, int32_t *secs);
bool rdb_read_double(struct rdb_reader *r, double *v);
/* The text double of the old ZSET type: a length byte, or 253/254/255 for nan/inf/-inf. */
bool rdb_read_text_double(struct rdb_reader *r, double *v);

/* A string read from an image. Its bytes are in the image (a plain string), in ibuf (an
 * INT form, in decimal), or in heap (LZF, decompressed). Not to be copied while s is in
 * use; rdb_str_free releases heap. */
struct rdb_str {
    const char *s;
    size_t len;
    bool is_int;  /* an INT form: i holds the value */
    int64_t i;
    char *heap;
    char ibuf[24];
};
bool rdb_read_string(struct rdb_reader *r, struct rdb_str *s);
void rdb_str_free(struct rdb_str *s);

/* Decompress LZF data (the format liblzf's lzf_compress writes) into out[0..out_len),
 * checking every reference against both buffers. True when exactly out_len bytes came
 * out. */
bool rdb_lzf_decompress(const unsigned char *in, size_t in_len, unsigned char *out,
                        size_t out_len);

/* ---- Files (persist/rdb_file.c) ---- */

/* A snapshot being written: a temporary file next to its destination and the running
 * CRC of what was written. */
struct rdb_file;
/* Opens "<path>.tmp-<pid>-<n>" (n unique in the process) for writing. NULL with err set
 * when it cannot be created. */
struct rdb_file *rdb_file_create(const char *path, char *err, size_t errlen);
/* Write all n bytes (retrying short writes); false on an I/O error (see rdb_file_error). */
bool rdb_file_write(struct rdb_file *f, const void *p, size_t n);
uint64_t rdb_file_bytes(const struct rdb_file *f);
const char *rdb_file_tmp_path(const struct rdb_file *f);
/* The errno of the first failed call, 0 if none. */
int rdb_file_error(const struct rdb_file *f);
/* Appends the CRC (or 8 zero bytes) after the EOF opcode the caller wrote. On the
 * caller's thread: it needs the CRC state that the writes built. */
bool rdb_file_seal(struct rdb_file *f, bool checksum);
/* fsync, close, rename over the destination, fsync the directory: durable when true.
 * May run on any thread. Frees f in every case (the temporary file is removed on
 * failure). */
bool rdb_file_commit(struct rdb_file *f, char *err, size_t errlen);
/* Give up: close and remove the temporary file, free f. */
void rdb_file_abort(struct rdb_file *f);

/* A whole file, mapped read-only (an empty file maps to len 0). */
struct rdb_map {
    const char *p;
    size_t len;
};
/* False with err set (and errno kept, ENOENT when the file does not exist). */
bool rdb_map_file(const char *path, struct rdb_map *map, char *err, size_t errlen);
void rdb_unmap(struct rdb_map *map);

#endif
