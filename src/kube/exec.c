/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod exec over WebSocket, the channel protocol of kubectl exec: every
 * binary message starts with a stream byte (0 stdin, 1 stdout, 2 stderr,
 * 3 the final Status as JSON, 4 terminal resize). v5.channel.k8s.io adds
 * one message, [255, 0], that closes stdin; with v4 the server cannot be
 * told that stdin ended, so a command reading stdin to its end (cat) only
 * ends at the deadline there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_internal.h"
#include "kube/ws.h"
#include "util/err.h"

#define CH_STDIN 0
#define CH_STDOUT 1
#define CH_STDERR 2
#define CH_STATUS 3
#define CH_CLOSE 255 /* v5: [255, channel] closes that stream */
#define OUTPUT_MAX_DEFAULT ((size_t)16 << 20)
#define STATUS_MAX ((size_t)1 << 20)
#define STDIN_CHUNK ((size_t)32 << 10)
#define PROTO_V5 "v5.channel.k8s.io"
#define PROTO_V4 "v4.channel.k8s.io"
#define EXEC_DONE 1 /* on_message: stop reading, the status is in */

int stow_kube_exec_status_parse(const void *p, size_t n, int *exit_code,
				char **message)
{
	json_t *st, *causes, *c;
	const char *status, *reason, *msg;
	size_t i;
	int rc = 0;

	*exit_code = -1;
	*message = NULL;
	st = json_loadb(p, n, 0, NULL);
	if (!json_is_object(st)) {
		json_decref(st);
		return stow_err_set(
		    STOW_ECORRUPT, "exec: the status channel carried no Status "
				   "object");
	}
	status = json_string_value(json_object_get(st, "status"));
	reason = json_string_value(json_object_get(st, "reason"));
	msg = json_string_value(json_object_get(st, "message"));
	if (status && strcmp(status, "Success") == 0) {
		*exit_code = 0;
		goto out;
	}
	if (!status || strcmp(status, "Failure") != 0) {
		rc = stow_err_set(STOW_ECORRUPT,
				  "exec: Status \"%.32s\" is neither Success "
				  "nor Failure",
				  status ? status : "");
		goto out;
	}
	if (reason && strcmp(reason, "NonZeroExitCode") == 0) {
		causes =
		    json_object_get(json_object_get(st, "details"), "causes");
		json_array_foreach(causes, i, c)
		{
			const char *cr =
			    json_string_value(json_object_get(c, "reason"));
			const char *cm =
			    json_string_value(json_object_get(c, "message"));
			char *end = NULL;
			long v;

			if (!cr || strcmp(cr, "ExitCode") != 0 || !cm)
				continue;
			v = strtol(cm, &end, 10);
			if (end == cm || *end || v < 0 || v > 255) {
				rc = stow_err_set(
				    STOW_ECORRUPT,
				    "exec: bad exit code \"%.32s\"", cm);
				goto out;
			}
			*exit_code = (int)v;
			goto out;
		}
	}
	/* A failure without an exit code: the command never ran (no such
	 * executable, container not running) or the stream broke. */
	*message = strdup(msg && *msg ? msg : reason ? reason : "Failure");
	if (!*message)
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
out:
	json_decref(st);
	return rc;
}

typedef struct exec_run {
	stow_kube_exec_result *res;
	size_t max_output;
	stow_buf status; /* channel 3 bytes (may come in pieces) */
	bool got_status;
	int rc;
} exec_run;

static int on_message(void *ctx, int opcode, const uint8_t *data, size_t len)
{
	exec_run *x = ctx;
	stow_buf *dst;
	const char *name;

	if (opcode != STOW_WS_BINARY || len == 0)
		return 0; /* the channel protocols are binary only */
	switch (data[0]) {
	case CH_STDOUT:
		dst = &x->res->out;
		name = "stdout";
		break;
	case CH_STDERR:
		dst = &x->res->err;
		name = "stderr";
		break;
	case CH_STATUS:
		if (stow_buf_append(&x->status, data + 1, len - 1))
			return stow_err_set(STOW_ECORRUPT,
					    "exec: status over %zu bytes",
					    STATUS_MAX);
		x->got_status = true;
		/* The status is the server's last word (it is written after
		 * the output streams were drained): done, even if the server
		 * were slow to close. */
		return EXEC_DONE;
	default: return 0; /* stdin/resize echoes and unknown channels */
	}
	if (len - 1 > x->max_output - dst->len)
		return stow_err_set(STOW_ENOMEM, "exec: %s over %zu bytes",
				    name, x->max_output);
	return stow_buf_append(dst, data + 1, len - 1);
}

static int send_stdin(stow_ws *ws, const stow_kube_exec_opts *o, bool v5)
{
	_cleanup_(stow_buf_freep) stow_buf msg = {0};
	const uint8_t *p = o->stdin_data;
	size_t left = o->stdin_len;

	stow_buf_init(&msg, STDIN_CHUNK + 1);
	while (left > 0) {
		size_t n = left < STDIN_CHUNK ? left : STDIN_CHUNK;

		stow_buf_reset(&msg);
		STOW_TRY(stow_buf_append_u8(&msg, CH_STDIN));
		STOW_TRY(stow_buf_append(&msg, p, n));
		STOW_TRY(stow_ws_send(ws, STOW_WS_BINARY, msg.data, msg.len));
		p += n;
		left -= n;
	}
	if (v5) {
		const uint8_t close_stdin[2] = {CH_CLOSE, CH_STDIN};

		STOW_TRY(stow_ws_send(ws, STOW_WS_BINARY, close_stdin,
				      sizeof(close_stdin)));
	}
	return 0;
}

static int build_path(stow_buf *out, const char *ns,
		      const stow_kube_exec_opts *o)
{
	STOW_TRY(stow_buf_append_str(out, "/api/v1/namespaces/"));
	STOW_TRY(stow_kube_query_escape(out, ns));
	STOW_TRY(stow_buf_append_str(out, "/pods/"));
	STOW_TRY(stow_kube_query_escape(out, o->pod));
	STOW_TRY(stow_buf_append_str(out, "/exec?"));
	for (size_t i = 0; o->argv[i]; i++) {
		STOW_TRY(stow_buf_append_str(out, "command="));
		STOW_TRY(stow_kube_query_escape(out, o->argv[i]));
		STOW_TRY(stow_buf_append_str(out, "&"));
	}
	if (o->container && *o->container) {
		STOW_TRY(stow_buf_append_str(out, "container="));
		STOW_TRY(stow_kube_query_escape(out, o->container));
		STOW_TRY(stow_buf_append_str(out, "&"));
	}
	if (o->stdin_data)
		STOW_TRY(stow_buf_append_str(out, "stdin=true&"));
	return stow_buf_append_str(out, "stdout=true&stderr=true");
}

void stow_kube_exec_result_free(stow_kube_exec_result *res)
{
	if (!res)
		return;
	stow_buf_free(&res->out);
	stow_buf_free(&res->err);
	free(res->message);
	res->message = NULL;
}

static void ws_freep(stow_ws **ws)
{
	stow_ws_free(*ws);
}

int stow_kube_exec(stow_kube *k, const stow_kube_exec_opts *opts,
		   stow_kube_exec_result *res)
{
	static const char *const protocols[] = {PROTO_V5, PROTO_V4, NULL};

	return stow_kube_exec_protocols(k, opts, protocols, res);
}

int stow_kube_exec_protocols(stow_kube *k, const stow_kube_exec_opts *opts,
			     const char *const *protocols,
			     stow_kube_exec_result *res)
{
	_cleanup_(ws_freep) stow_ws *ws = NULL;
	_cleanup_(stow_buf_freep) stow_buf path = {0};
	const stow_kube_config *cfg;
	const char *ns;
	exec_run x = {0};
	long timeout_ms;
	int64_t deadline;
	int rc;

	if (res) {
		memset(res, 0, sizeof(*res));
		res->exit_code = -1;
	}
	if (!k || !opts || !res || !opts->pod || !*opts->pod || !opts->argv ||
	    !opts->argv[0] || (!opts->stdin_data && opts->stdin_len) ||
	    !protocols || !protocols[0])
		return stow_err_set(STOW_EINVAL,
				    "exec: a pod and a command are required");
	cfg = stow_kube_config_of(k);
	ns = opts->namespace && *opts->namespace ? opts->namespace
	     : cfg && cfg->namespace		 ? cfg->namespace
						 : "default";
	timeout_ms = opts->timeout_ms > 0	  ? opts->timeout_ms
		     : cfg && cfg->timeout_ms > 0 ? cfg->timeout_ms
						  : 30000;
	deadline = stow_kube_now_ms() + timeout_ms;
	x.res = res;
	x.max_output = opts->max_output ? opts->max_output : OUTPUT_MAX_DEFAULT;
	stow_buf_init(&res->out, x.max_output);
	stow_buf_init(&res->err, x.max_output);
	stow_buf_init(&x.status, STATUS_MAX);
	stow_buf_init(&path, 0);

	rc = build_path(&path, ns, opts);
	if (rc == 0)
		rc = stow_buf_append_str(&path, "");
	if (rc == 0)
		rc = stow_ws_connect(&ws, k, (const char *)path.data, protocols,
				     deadline);
	if (rc) {
		/* The API server answers 400 "container x is not valid for
		 * pod y" for a wrong container: kube.h promises not found. */
		if (rc == STOW_EINVAL && opts->container &&
		    strstr(stow_err_msg(), opts->container) &&
		    strstr(stow_err_msg(), "container"))
			rc = STOW_ENOTFOUND;
		goto fail;
	}
	snprintf(res->protocol, sizeof(res->protocol), "%s",
		 stow_ws_protocol(ws));
	if (opts->stdin_data) {
		rc = send_stdin(ws, opts, strcmp(res->protocol, PROTO_V5) == 0);
		if (rc)
			goto fail;
	}
	rc = stow_ws_run(ws, on_message, &x, deadline);
	if (rc == EXEC_DONE)
		rc = 0;
	if (rc == STOW_ETIMEOUT) {
		(void)stow_ws_close(ws, 1000);
		rc = stow_err_set(STOW_ETIMEOUT,
				  "exec in pod %s/%s: no exit status after "
				  "%ld ms",
				  ns, opts->pod, timeout_ms);
		goto fail;
	}
	if (rc)
		goto fail;
	(void)stow_ws_close(ws, 1000);
	if (!x.got_status) {
		rc = stow_err_set(STOW_EIO,
				  "exec in pod %s/%s: the stream ended without "
				  "an exit status",
				  ns, opts->pod);
		goto fail;
	}
	rc = stow_kube_exec_status_parse(x.status.data, x.status.len,
					 &res->exit_code, &res->message);
	if (rc)
		goto fail;
	if (res->exit_code < 0) {
		rc = stow_err_set(STOW_EIO, "exec in pod %s/%s: %s", ns,
				  opts->pod, res->message);
		goto fail;
	}
	stow_buf_free(&x.status);
	return 0;
fail:
	stow_buf_free(&x.status);
	if (rc != STOW_ETIMEOUT && !strstr(stow_err_msg(), opts->pod))
		stow_err_wrap(rc, "exec in pod %s/%s", ns, opts->pod);
	if (!res->message && stow_err_msg()[0])
		res->message = strdup(stow_err_msg());
	return rc;
}
