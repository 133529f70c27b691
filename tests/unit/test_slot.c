/* Key slots: CRC16/XMODEM and hash tags as in the Redis Cluster specification. The
 * expected slots were taken from CLUSTER KEYSLOT of a Redis 7.0 server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/slot.h"

static unsigned slot_of(const char *k) { return key_slot(k, strlen(k)); }

static void test_crc16(void **state)
{
    (void)state;
    assert_int_equal(crc16("123456789", 9), 0x31C3);
    assert_int_equal(crc16("", 0), 0);
    /* Binary bytes, NUL and high bytes included. */
    assert_int_equal(crc16("\0", 1), 0);
    assert_int_equal(crc16("\xff", 1), 0x1EF0);
}

static void test_plain_keys(void **state)
{
    (void)state;
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("bar"), 5061);
    assert_int_equal(slot_of("123456789"), 12739);
    assert_int_equal(slot_of("123456789"), 0x31C3 & (SLOT_COUNT - 1));
    assert_int_equal(slot_of(""), 0);
}

static void test_hash_tags(void **state)
{
    (void)state;
    assert_int_equal(slot_of("foo{hash_tag}"), 2515);
    assert_int_equal(slot_of("hash_tag"), 2515);
    assert_int_equal(slot_of("{user1000}.following"), slot_of("{user1000}.followers"));
    assert_int_equal(slot_of("{user1000}.following"), 3443);
    /* Only the first '{' counts, and the first '}' after it. */
    assert_int_equal(slot_of("foo{bar}{zap}"), slot_of("bar"));
    assert_int_equal(slot_of("foo{{bar}}zap"), slot_of("{bar"));
    assert_int_equal(slot_of("foo{{bar}}zap"), 4015);
    assert_int_equal(slot_of("a}b{c}"), slot_of("c"));
    assert_int_equal(slot_of("a}b{c}"), 7365);
    /* The length bounds the search: a tag closing past len does not count. */
    assert_int_equal(key_slot("x{ab}", 4), crc16("x{ab", 4) & (SLOT_COUNT - 1));
    assert_int_equal(key_slot("{ab}c", 4), slot_of("ab"));
}

/* An empty tag "{}" or a '{' without '}' means: hash the whole key. */
static void test_tag_edge_cases(void **state)
{
    (void)state;
    assert_int_equal(slot_of("{}"), 15257);
    assert_int_equal(slot_of("{}"), crc16("{}", 2) & (SLOT_COUNT - 1));
    assert_int_equal(slot_of("foo{}{bar}"), 8363);
    assert_int_equal(slot_of("foo{}{bar}"), crc16("foo{}{bar}", 10) & (SLOT_COUNT - 1));
    assert_int_equal(slot_of("{"), 4092);
    assert_int_equal(slot_of("}"), 12090);
    assert_int_equal(slot_of("foo{bar"), crc16("foo{bar", 7) & (SLOT_COUNT - 1));
    assert_int_equal(slot_of("}{"), crc16("}{", 2) & (SLOT_COUNT - 1));
    /* A one-byte tag is a tag. */
    assert_int_equal(slot_of("x{y}z"), slot_of("y"));
}

static void test_range(void **state)
{
    (void)state;
    char k[16];
    for (unsigned i = 0; i < 100000; i++) {
        memcpy(k, &i, sizeof i);
        assert_true(key_slot(k, sizeof i) < SLOT_COUNT);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16),
        cmocka_unit_test(test_plain_keys),
        cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_tag_edge_cases),
        cmocka_unit_test(test_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
