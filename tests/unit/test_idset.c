/* The ID set of the read-side operations (src/vault/idset.h): membership
 * through growth, IDs that share their first 8 bytes (the hash), the
 * all-zero ID, values that survive growth, and iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "vault/idset.h"

/* A distinct ID per i; with same_hash, all share their first 8 bytes so
 * every lookup probes. */
static void mkid(uint8_t id[STOW_ID_LEN], uint32_t i, bool same_hash)
{
	memset(id, 0xa5, STOW_ID_LEN);
	if (!same_hash)
		stow_put_le32(id, i * 2654435761u);
	stow_put_le32(id + 8, i);
	stow_put_le32(id + 28, ~i);
}

static void test_plain_set(void **state)
{
	stow_idset s = {0};
	uint8_t id[STOW_ID_LEN], zero[STOW_ID_LEN] = {0};
	void *v = (void *)&s;

	(void)state;
	mkid(id, 1, false);
	assert_false(stow_idset_has(&s, id));
	assert_int_equal(stow_idset_add(&s, id, &v), 1);
	assert_null(v);
	assert_int_equal(stow_idset_add(&s, id, NULL), 0);
	assert_true(stow_idset_has(&s, id));
	assert_null(stow_idset_get(&s, id));
	/* The all-zero ID is not an empty slot. */
	assert_false(stow_idset_has(&s, zero));
	assert_int_equal(stow_idset_add(&s, zero, NULL), 1);
	assert_true(stow_idset_has(&s, zero));
	assert_int_equal(s.n, 2);
	stow_idset_free(&s);
	assert_false(stow_idset_has(&s, id));
	assert_int_equal(s.n, 0);
	stow_idset_free(NULL);
}

static void grow_and_find(bool same_hash, uint32_t count)
{
	stow_idset s = {0};
	uint8_t id[STOW_ID_LEN];

	for (uint32_t i = 0; i < count; i++) {
		mkid(id, i, same_hash);
		assert_int_equal(stow_idset_add(&s, id, NULL), 1);
	}
	assert_int_equal(s.n, count);
	/* Load stays at most 0.7. */
	assert_true(s.n * 10 <= s.cap * 7);
	for (uint32_t i = 0; i < count; i++) {
		mkid(id, i, same_hash);
		assert_true(stow_idset_has(&s, id));
		assert_int_equal(stow_idset_add(&s, id, NULL), 0);
	}
	mkid(id, count, same_hash);
	assert_false(stow_idset_has(&s, id));
	stow_idset_free(&s);
}

static void test_growth(void **state)
{
	(void)state;
	grow_and_find(false, 100000);
}

static void test_same_hash(void **state)
{
	(void)state;
	grow_and_find(true, 3000);
}

typedef struct rec {
	uint64_t a;
	uint32_t b;
	bool c;
} rec;

static void test_map_values(void **state)
{
	stow_idset s;
	uint8_t id[STOW_ID_LEN];
	const uint8_t *got;
	uint32_t n = 5000, seen = 0;
	void *v;

	(void)state;
	stow_idset_init(&s, sizeof(rec));
	for (uint32_t i = 0; i < n; i++) {
		rec *r;

		mkid(id, i, false);
		assert_int_equal(stow_idset_add(&s, id, &v), 1);
		r = v;
		assert_non_null(r);
		assert_true(((uintptr_t)r & 7) == 0);
		assert_int_equal(r->a, 0);
		assert_int_equal(r->b, 0);
		assert_false(r->c);
		r->a = (uint64_t)i << 32 | i;
		r->b = ~i;
		r->c = i & 1;
	}
	/* Adding again returns the same value, untouched. */
	mkid(id, 7, false);
	assert_int_equal(stow_idset_add(&s, id, &v), 0);
	assert_int_equal(((rec *)v)->b, ~7u);
	for (uint32_t i = 0; i < n; i++) {
		rec *r;

		mkid(id, i, false);
		r = stow_idset_get(&s, id);
		assert_non_null(r);
		assert_int_equal(r->a, (uint64_t)i << 32 | i);
		assert_int_equal(r->b, ~i);
		assert_int_equal(r->c, i & 1);
	}
	mkid(id, n, false);
	assert_null(stow_idset_get(&s, id));
	/* Iteration gives every member once, with its value. */
	for (size_t pos = 0; stow_idset_next(&s, &pos, &got, &v);) {
		uint32_t i = stow_get_le32(got + 8);

		assert_true(i < n);
		assert_int_equal(((rec *)v)->b, ~i);
		seen++;
	}
	assert_int_equal(seen, n);
	stow_idset_free(&s);
	assert_int_equal(s.value_size, sizeof(rec));
}

static void test_empty_iteration(void **state)
{
	stow_idset s = {0};
	size_t pos = 0;

	(void)state;
	assert_false(stow_idset_next(&s, &pos, NULL, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_set),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_same_hash),
	    cmocka_unit_test(test_map_values),
	    cmocka_unit_test(test_empty_iteration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
