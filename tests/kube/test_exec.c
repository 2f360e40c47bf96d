/* Pod exec over WebSocket against kubesim (run by
 * tests/kube/with_kubesim.sh): output and exit codes, stdin, deadline,
 * missing pod and container, protocol negotiation (v5, and v4 when only v4
 * is offered). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "kube/kube.h"
#include "kube/ws.h"
#include "util/err.h"

#define CHECK(expr)                                                            \
	do {                                                                   \
		int check_rc_ = (expr);                                        \
		if (check_rc_ != 0)                                            \
			fail_msg("%s: %d %s", #expr, check_rc_,                \
				 stow_err_msg());                              \
	} while (0)

static stow_kube *k;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int setup(void **state)
{
	stow_kube_config *cfg = NULL;
	stow_kube_load_opts lo = {0};
	const stow_kube_resource *pods;
	json_t *pod, *got = NULL;
	const char *phase = NULL;

	(void)state;
	CHECK(stow_kube_config_load(&cfg, &lo));
	CHECK(stow_kube_new(&k, cfg));
	stow_kube_config_free(cfg);
	CHECK(stow_kube_resource_lookup(k, "pods", &pods));
	pod =
	    json_pack("{s:s,s:s,s:{s:s},s:{s:[{s:s,s:s}]}}", "apiVersion", "v1",
		      "kind", "Pod", "metadata", "name", "hooks", "spec",
		      "containers", "name", "main", "image", "busybox");
	CHECK(stow_kube_create(k, pods, "default", pod, NULL));
	json_decref(pod);
	for (int i = 0; i < 200; i++) {
		CHECK(stow_kube_get(k, pods, "default", "hooks", &got));
		phase = json_string_value(
		    json_object_get(json_object_get(got, "status"), "phase"));
		if (phase && strcmp(phase, "Running") == 0) {
			json_decref(got);
			return 0;
		}
		json_decref(got);
		sleep_ms(50);
	}
	fail_msg("pod hooks never became Running");
	return 1;
}

static int teardown(void **state)
{
	(void)state;
	stow_kube_free(k);
	return 0;
}

static void test_output_and_exit_code(void **state)
{
	const char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 7",
			      NULL};
	stow_kube_exec_opts o = {.namespace = "default",
				 .pod = "hooks",
				 .argv = argv,
				 .timeout_ms = 10000};
	stow_kube_exec_result res;

	(void)state;
	CHECK(stow_kube_exec(k, &o, &res));
	assert_int_equal(res.exit_code, 7);
	assert_int_equal(res.out.len, 4);
	assert_memory_equal(res.out.data, "out\n", 4);
	assert_int_equal(res.err.len, 4);
	assert_memory_equal(res.err.data, "err\n", 4);
	assert_string_equal(res.protocol, "v5.channel.k8s.io");
	stow_kube_exec_result_free(&res);

	/* exit 0, the container named, arguments with spaces and quotes. */
	{
		const char *a2[] = {
		    "sh",    "-c", "printf '%s|' \"$@\"", "x", "a b",
		    "'q'&=", NULL};

		o.argv = a2;
		o.container = "main";
		CHECK(stow_kube_exec(k, &o, &res));
		assert_int_equal(res.exit_code, 0);
		assert_int_equal(res.out.len, strlen("a b|'q'&=|"));
		assert_memory_equal(res.out.data, "a b|'q'&=|", res.out.len);
		assert_int_equal(res.err.len, 0);
		stow_kube_exec_result_free(&res);
	}
}

static void test_stdin(void **state)
{
	const char *argv[] = {"cat", NULL};
	static char big[200000];
	stow_kube_exec_opts o = {.namespace = "default",
				 .pod = "hooks",
				 .argv = argv,
				 .timeout_ms = 10000};
	stow_kube_exec_result res;

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	o.stdin_data = big;
	o.stdin_len = sizeof(big);
	CHECK(stow_kube_exec(k, &o, &res));
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.out.len, sizeof(big));
	assert_memory_equal(res.out.data, big, sizeof(big));
	stow_kube_exec_result_free(&res);

	/* Empty stdin: cat sees EOF at once. */
	o.stdin_len = 0;
	CHECK(stow_kube_exec(k, &o, &res));
	assert_int_equal(res.exit_code, 0);
	assert_int_equal(res.out.len, 0);
	stow_kube_exec_result_free(&res);
}

static void test_timeout(void **state)
{
	const char *argv[] = {"sleep", "30", NULL};
	stow_kube_exec_opts o = {.namespace = "default",
				 .pod = "hooks",
				 .argv = argv,
				 .timeout_ms = 1000};
	stow_kube_exec_result res;
	struct timespec a, b;
	long ms;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(stow_kube_exec(k, &o, &res), STOW_ETIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 900 && ms < 3000);
	assert_int_equal(res.exit_code, -1);
	stow_kube_exec_result_free(&res);

	/* A command that never stops writing still ends at the deadline. */
	{
		const char *chatty[] = {"sh", "-c", "while :; do echo x; done",
					NULL};

		o.argv = chatty;
		o.max_output = (size_t)1 << 30;
		clock_gettime(CLOCK_MONOTONIC, &a);
		assert_int_equal(stow_kube_exec(k, &o, &res), STOW_ETIMEOUT);
		clock_gettime(CLOCK_MONOTONIC, &b);
		ms = (b.tv_sec - a.tv_sec) * 1000 +
		     (b.tv_nsec - a.tv_nsec) / 1000000;
		assert_true(ms >= 900 && ms < 3000);
		assert_true(res.out.len > 0);
		stow_kube_exec_result_free(&res);
	}
}

static void test_output_cap(void **state)
{
	const char *argv[] = {"sh", "-c", "head -c 100000 /dev/zero", NULL};
	stow_kube_exec_opts o = {.namespace = "default",
				 .pod = "hooks",
				 .argv = argv,
				 .timeout_ms = 10000,
				 .max_output = 1000};
	stow_kube_exec_result res;

	(void)state;
	assert_int_equal(stow_kube_exec(k, &o, &res), STOW_ENOMEM);
	assert_non_null(strstr(stow_err_msg(), "stdout"));
	stow_kube_exec_result_free(&res);
}

static void test_errors(void **state)
{
	const char *argv[] = {"true", NULL};
	const char *missing[] = {"no-such-binary-xyz", NULL};
	stow_kube_exec_opts o = {.namespace = "default",
				 .pod = "nope",
				 .argv = argv,
				 .timeout_ms = 5000};
	stow_kube_exec_result res;
	int rc;

	(void)state;
	assert_int_equal(stow_kube_exec(k, &o, &res), STOW_ENOTFOUND);
	assert_non_null(strstr(stow_err_msg(), "nope"));
	stow_kube_exec_result_free(&res);

	o.pod = "hooks";
	o.container = "sidecar";
	assert_int_equal(stow_kube_exec(k, &o, &res), STOW_ENOTFOUND);
	assert_non_null(strstr(stow_err_msg(), "sidecar"));
	assert_non_null(res.message);
	stow_kube_exec_result_free(&res);

	/* The command does not exist: it never ran. */
	o.container = NULL;
	o.argv = missing;
	rc = stow_kube_exec(k, &o, &res);
	assert_true(rc < 0);
	assert_int_equal(res.exit_code, -1);
	assert_non_null(strstr(stow_err_msg(), "no-such-binary-xyz"));
	stow_kube_exec_result_free(&res);

	/* Bad arguments. */
	o.argv = NULL;
	assert_int_equal(stow_kube_exec(k, &o, &res), STOW_EINVAL);
	stow_kube_exec_result_free(&res);
}

/* v4 only: the WebSocket layer negotiates it and the channels work; stdin
 * cannot be closed there, so the test uses a command without stdin. */
typedef struct v4_out {
	stow_buf out;
	bool status;
} v4_out;

static int v4_msg(void *ctx, int opcode, const uint8_t *data, size_t len)
{
	v4_out *v = ctx;

	if (opcode != STOW_WS_BINARY || len == 0)
		return 0;
	if (data[0] == 1)
		return stow_buf_append(&v->out, data + 1, len - 1);
	if (data[0] == 3)
		v->status = true;
	return 0;
}

static void test_v4_protocol(void **state)
{
	static const char *const v4[] = {"v4.channel.k8s.io", NULL};
	static const char *const v1[] = {"channel.k8s.io", NULL};
	stow_ws *ws = NULL;
	v4_out v = {0};
	int rc;

	(void)state;
	stow_buf_init(&v.out, 0);
	CHECK(stow_ws_connect(&ws, k,
			      "/api/v1/namespaces/default/pods/hooks/exec?"
			      "command=echo&command=hi&stdout=true",
			      v4, stow_kube_now_ms() + 5000));
	assert_string_equal(stow_ws_protocol(ws), "v4.channel.k8s.io");
	CHECK(stow_ws_run(ws, v4_msg, &v, stow_kube_now_ms() + 5000));
	assert_true(v.status);
	assert_int_equal(v.out.len, 3);
	assert_memory_equal(v.out.data, "hi\n", 3);
	stow_ws_free(ws);
	stow_buf_free(&v.out);

	/* stow_kube_exec itself over v4: the same channels and status. */
	{
		const char *argv[] = {"sh", "-c", "echo o; echo e >&2; exit 3",
				      NULL};
		stow_kube_exec_opts o = {.namespace = "default",
					 .pod = "hooks",
					 .argv = argv,
					 .timeout_ms = 10000};
		stow_kube_exec_result res;

		CHECK(stow_kube_exec_protocols(k, &o, v4, &res));
		assert_string_equal(res.protocol, "v4.channel.k8s.io");
		assert_int_equal(res.exit_code, 3);
		assert_int_equal(res.out.len, 2);
		assert_memory_equal(res.out.data, "o\n", 2);
		assert_int_equal(res.err.len, 2);
		assert_memory_equal(res.err.data, "e\n", 2);
		stow_kube_exec_result_free(&res);

		/* v4 cannot close stdin; a command that exits by itself
		 * still gets its input. */
		{
			const char *head[] = {"head", "-c", "5", NULL};

			o.argv = head;
			o.stdin_data = "hello world";
			o.stdin_len = 11;
			CHECK(stow_kube_exec_protocols(k, &o, v4, &res));
			assert_int_equal(res.exit_code, 0);
			assert_int_equal(res.out.len, 5);
			assert_memory_equal(res.out.data, "hello", 5);
			stow_kube_exec_result_free(&res);
		}
	}

	/* A protocol the server does not speak: refused with its Status. */
	ws = NULL;
	rc = stow_ws_connect(&ws, k,
			     "/api/v1/namespaces/default/pods/hooks/exec?"
			     "command=true&stdout=true",
			     v1, stow_kube_now_ms() + 5000);
	assert_int_equal(rc, STOW_EINVAL);
	assert_null(ws);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_output_and_exit_code),
	    cmocka_unit_test(test_stdin),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_output_cap),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_v4_protocol),
	};

	/* STOW_TEST_FILTER=test_x runs only the tests matching it. */
	if (getenv("STOW_TEST_FILTER"))
		cmocka_set_test_filter(getenv("STOW_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
