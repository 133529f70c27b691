/* client-output-buffer-limit for CONFIG (config_cobl.c).
 * "class hard soft seconds" groups separated by single spaces, classes normal, replica
 * (or slave) and pubsub, parsed as Redis 7 parses them: tokens are C strings (up to a
 * NUL byte), sizes by memtoull (units, wrapping on overflow), seconds by strtoll cut to
 * an int. Normal and pubsub are the runtime's limits; replica is only kept for GET. */
#ifndef COREKV_CMD_CONFIG_COBL_H
#define COREKV_CMD_CONFIG_COBL_H

#include <stddef.h>
#include <stdint.h>

#include <corekv/rt.h>

/* Every class's limits, to put back when a CONFIG SET of several parameters fails. */
struct cobl_saved {
    struct rt_output_limit normal, pubsub;
    uint64_t replica[3];
};
void cobl_save(struct rt *rt, struct cobl_saved *sv);
void cobl_restore(struct rt *rt, const struct cobl_saved *sv);
/* The value as CONFIG GET shows it. */
void cobl_format(struct rt *rt, char *out, size_t n);
/* Parse v; with rt, also set the limits. NULL when valid, else Redis's reason. */
const char *cobl_apply(struct rt *rt, const rt_str *v);

#endif
