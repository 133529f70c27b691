#include "base/slot.h"

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster uses. */
static uint16_t crc16_table[256];

static void crc16_init(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint16_t c = (uint16_t)(i << 8);
        for (int k = 0; k < 8; k++)
            c = (c & 0x8000) ? (uint16_t)((c << 1) ^ 0x1021) : (uint16_t)(c << 1);
        crc16_table[i] = c;
    }
}

uint16_t crc16(const char *buf, size_t len)
{
    if (!crc16_table[1])
        crc16_init(); /* idempotent: every thread computes the same table */
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc16_table[((crc >> 8) ^ (uint8_t)buf[i]) & 0xff]);
    return crc;
}

unsigned key_slot(const char *key, size_t len)
{
    size_t s = 0;
    while (s < len && key[s] != '{')
        s++;
    if (s < len) {
        size_t e = s + 1;
        while (e < len && key[e] != '}')
            e++;
        if (e < len && e != s + 1)
            return crc16(key + s + 1, e - s - 1) & (SLOT_COUNT - 1);
    }
    return crc16(key, len) & (SLOT_COUNT - 1);
}
