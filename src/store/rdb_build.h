/* Internal to store/rdb_*.c: building a value from an RDB record, validating every byte
 * (rdb_build.c). */
#ifndef COREKV_STORE_RDB_BUILD_H
#define COREKV_STORE_RDB_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "persist/rdb.h"
#include "store/object.h"
#include "store/store.h"

/* A record's value. Strings: str (not to be copied while in use, see struct rdb_str).
 * Aggregates: obj in encoding enc, owned here until taken; obj NULL when the file held
 * an empty collection (Redis skips such keys). */
struct rdb_value {
    enum val_type type;
    enum obj_enc enc;
    void *obj;
    struct rdb_str str;
};

/* Whether rdb_build_value can read values of this record type. */
bool rdb_type_supported(unsigned type);
/* Read the value of a record of the given (supported) type at the reader's position.
 * False with the reader failed (nothing to free then). */
bool rdb_build_value(struct rdb_reader *r, unsigned type, struct rdb_value *v);
void rdb_value_free(struct rdb_value *v);

#endif
