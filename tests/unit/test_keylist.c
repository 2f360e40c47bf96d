/* The key list of the vault (src/vault/keylist.h): adding through
 * growth, sorted listing of a prefix with each size kept with its key,
 * and an empty prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "storage/storage.h"
#include "vault/keylist.h"

static void test_add_and_grow(void **state)
{
	stow_keylist l = {0};
	char key[32];

	(void)state;
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k/%u", i);
		assert_int_equal(stow_keylist_add(&l, key, i * 3ull), 0);
	}
	assert_int_equal(l.n, 1000);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k/%u", i);
		assert_string_equal(l.keys[i], key);
		assert_int_equal(l.sizes[i], i * 3ull);
	}
	stow_keylist_free(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.keys);
	stow_keylist_free(&l);
	stow_keylist_free(NULL);
}

static void test_list_sorted(void **state)
{
	static const char *const names[] = {"snapshots/c", "snapshots/a",
					    "snapshots/bb", "snapshots/b"};
	static const char *const sorted[] = {"snapshots/a", "snapshots/b",
					     "snapshots/bb", "snapshots/c"};
	stow_store *st = NULL;
	stow_keylist l = {0};

	(void)state;
	assert_int_equal(stow_store_mem_open(&st), 0);
	/* Object i holds i + 1 bytes, so each size names its key. */
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(stow_store_put(st, names[i], "xxxx", i + 1, 0),
				 0);
	assert_int_equal(stow_store_put(st, "other/z", "x", 1, 0), 0);
	assert_int_equal(stow_keylist_list_sorted(st, "snapshots/", &l), 0);
	assert_int_equal(l.n, 4);
	for (size_t i = 0; i < 4; i++) {
		size_t j = 0;

		assert_string_equal(l.keys[i], sorted[i]);
		while (strcmp(names[j], sorted[i]) != 0)
			j++;
		assert_int_equal(l.sizes[i], j + 1);
	}
	stow_keylist_free(&l);
	assert_int_equal(stow_keylist_list_sorted(st, "index/", &l), 0);
	assert_int_equal(l.n, 0);
	stow_keylist_free(&l);
	stow_store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_and_grow),
	    cmocka_unit_test(test_list_sorted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
