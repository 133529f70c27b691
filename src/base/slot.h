/* Redis Cluster key slots: CRC16 (XMODEM) of the key's hash tag, modulo 16384. */
#ifndef COREKV_BASE_SLOT_H
#define COREKV_BASE_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

uint16_t crc16(const char *buf, size_t len);
/* The hash tag is the bytes between the first '{' and the next '}' when that is
 * non-empty; otherwise the whole key. */
unsigned key_slot(const char *key, size_t len);

#endif
