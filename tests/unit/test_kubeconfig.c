/* Kubernetes client configuration without a network: kubeconfig merging
 * across $KUBECONFIG, context and namespace overrides, relative paths,
 * base64 data, the errors for missing pieces, exec credential plugins
 * (token used, expired token re-run, KUBERNETES_EXEC_INFO), in-cluster
 * configuration, and the pure helpers of the request core (status
 * mapping, paths, base64, RFC 3339). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "kube/kube_internal.h"
#include "util/err.h"

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/stow-kubecfg-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
						       : "/tmp");
	assert_non_null(mkdtemp(tmpdir));
	setenv("HOME", tmpdir, 1);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	stow_err_clear();
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static const char *path_in(const char *name)
{
	static char bufs[4][512];
	static int i;
	char *b = bufs[i++ % 4];

	snprintf(b, 512, "%s/%s", tmpdir, name);
	return b;
}

static void write_file(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	if (mode)
		assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static char *slurp(const char *path)
{
	char *s = NULL;
	size_t n;

	if (stow_kube_read_file(path, 1 << 20, "test", &s, &n) < 0)
		return NULL;
	return s;
}

/* "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" */
#define CA_PEM "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
#define CA_B64                                                                 \
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkFBQUEKLS0tLS1FTkQgQ0VSVElGSUNB" \
	"VEUtLS0tLQo="

static const char file_a[] = "apiVersion: v1\n"
			     "kind: Config\n"
			     "current-context: alpha\n"
			     "clusters:\n"
			     "- name: c1\n"
			     "  cluster:\n"
			     "    server: https://a.example:6443/\n"
			     "    certificate-authority-data: " CA_B64 "\n"
			     "- name: shared\n"
			     "  cluster:\n"
			     "    server: https://from-a.example\n"
			     "users:\n"
			     "- name: u1\n"
			     "  user:\n"
			     "    token: token-a\n"
			     "contexts:\n"
			     "- name: alpha\n"
			     "  context:\n"
			     "    cluster: c1\n"
			     "    user: u1\n"
			     "    namespace: ns-a\n"
			     "- name: uses-shared\n"
			     "  context: {cluster: shared, user: u1}\n";

/* In a subdirectory, with paths relative to it. */
static const char file_b[] = "apiVersion: v1\n"
			     "current-context: beta\n"
			     "clusters:\n"
			     "- name: shared\n"
			     "  cluster:\n"
			     "    server: https://from-b.example\n"
			     "- name: c2\n"
			     "  cluster:\n"
			     "    server: https://b.example:443\n"
			     "    certificate-authority: certs/ca.pem\n"
			     "    insecure-skip-tls-verify: true\n"
			     "    tls-server-name: api.b.example\n"
			     "users:\n"
			     "- name: u2\n"
			     "  user:\n"
			     "    tokenFile: token.txt\n"
			     "    client-certificate: certs/client.pem\n"
			     "    client-key: /ABSOLUTE/client.key\n"
			     "- name: u1\n"
			     "  user:\n"
			     "    token: token-b-should-lose\n"
			     "contexts:\n"
			     "- name: beta\n"
			     "  context:\n"
			     "    cluster: c2\n"
			     "    user: u2\n"
			     "- name: alpha\n"
			     "  context:\n"
			     "    cluster: c2\n"
			     "    user: u2\n";

static void write_two_files(void)
{
	char b[4096], abs_key[512];

	assert_int_equal(mkdir(path_in("sub"), 0700), 0);
	assert_int_equal(mkdir(path_in("sub/certs"), 0700), 0);
	write_file(path_in("a.yaml"), file_a, 0);
	snprintf(abs_key, sizeof(abs_key), "%s/sub/certs/client.key", tmpdir);
	/* Replace the placeholder with this run's absolute path. */
	{
		const char *ph = strstr(file_b, "/ABSOLUTE/client.key");
		int pre = (int)(ph - file_b);

		snprintf(b, sizeof(b), "%.*s%s%s", pre, file_b, abs_key,
			 ph + strlen("/ABSOLUTE/client.key"));
	}
	write_file(path_in("sub/b.yaml"), b, 0);
	write_file(path_in("sub/certs/ca.pem"), CA_PEM, 0);
	write_file(path_in("sub/certs/client.pem"), "CLIENT CERT PEM\n", 0);
	write_file(path_in("sub/certs/client.key"), "CLIENT KEY PEM\n", 0);
	write_file(path_in("sub/token.txt"), "file-token-1\n", 0);
}

static void set_kubeconfig_ab(void)
{
	char env[1200];

	snprintf(env, sizeof(env), "%s::%s:%s/missing.yaml", path_in("a.yaml"),
		 path_in("sub/b.yaml"), tmpdir);
	setenv("KUBECONFIG", env, 1);
}

static void test_merge_first_file_wins(void **state)
{
	stow_kube_config *c = NULL;

	(void)state;
	write_two_files();
	set_kubeconfig_ab();
	assert_int_equal(stow_kube_config_load(&c, NULL), 0);
	/* current-context from a.yaml; "alpha" from a.yaml although b.yaml
	 * defines one too; c1 and u1 from a.yaml. */
	assert_string_equal(c->context, "alpha");
	assert_string_equal(c->server, "https://a.example:6443");
	assert_string_equal(c->namespace, "ns-a");
	assert_string_equal(c->token, "token-a");
	assert_string_equal(c->ca_pem, CA_PEM);
	assert_false(c->insecure_skip_tls_verify);
	assert_null(c->token_file);
	assert_true(c->qps > 0 && c->burst > 0 && c->timeout_ms > 0);
	stow_kube_config_free(c);

	/* A cluster defined in both: a.yaml's wins. */
	assert_int_equal(
	    stow_kube_config_load(
		&c, &(stow_kube_load_opts){.context = "uses-shared"}),
	    0);
	assert_string_equal(c->server, "https://from-a.example");
	assert_string_equal(c->namespace, "default");
	stow_kube_config_free(c);
}

static void test_context_namespace_relative_paths(void **state)
{
	stow_kube_config *c = NULL;
	char want[600];

	(void)state;
	write_two_files();
	set_kubeconfig_ab();
	assert_int_equal(
	    stow_kube_config_load(
		&c, &(stow_kube_load_opts){.context = "beta",
					   .namespace = "override-ns"}),
	    0);
	assert_string_equal(c->context, "beta");
	assert_string_equal(c->namespace, "override-ns");
	assert_string_equal(c->server, "https://b.example:443");
	assert_true(c->insecure_skip_tls_verify);
	assert_string_equal(c->tls_server_name, "api.b.example");
	/* Relative to sub/, the directory of b.yaml. */
	assert_string_equal(c->ca_pem, CA_PEM);
	assert_string_equal(c->client_cert_pem, "CLIENT CERT PEM\n");
	assert_string_equal(c->client_key_pem, "CLIENT KEY PEM\n");
	snprintf(want, sizeof(want), "%s/sub/token.txt", tmpdir);
	assert_string_equal(c->token_file, want);
	assert_null(c->token);
	stow_kube_config_free(c);

	/* --kubeconfig reads one file only, no merging. */
	assert_int_equal(stow_kube_config_load(
			     &c, &(stow_kube_load_opts){.kubeconfig = path_in(
							    "sub/b.yaml")}),
			 0);
	assert_string_equal(c->context, "beta");
	stow_kube_config_free(c);
	assert_int_equal(
	    stow_kube_config_load(
		&c, &(stow_kube_load_opts){.kubeconfig = path_in("nope.yaml")}),
	    STOW_ENOTFOUND);
	assert_non_null(strstr(stow_err_msg(), "nope.yaml"));
}

static void test_default_home_and_missing(void **state)
{
	stow_kube_config *c = NULL;

	(void)state;
	assert_int_equal(stow_kube_config_load(&c, NULL), STOW_ENOTFOUND);
	assert_null(c);
	assert_non_null(strstr(stow_err_msg(), "no kubeconfig"));
	assert_int_equal(mkdir(path_in(".kube"), 0700), 0);
	write_file(path_in(".kube/config"), file_a, 0);
	assert_int_equal(stow_kube_config_load(&c, NULL), 0);
	assert_string_equal(c->context, "alpha");
	stow_kube_config_free(c);
}

static void expect_error(const char *yaml, const char *context, int code,
			 const char *const *needles)
{
	stow_kube_config *c = NULL;
	int rc =
	    stow_kube_config_parse(&c, yaml, strlen(yaml), "/etc/kc/test.yaml",
				   &(stow_kube_load_opts){.context = context});

	if (rc != code)
		fail_msg("want %d got %d: %s", code, rc, stow_err_msg());
	assert_null(c);
	for (; *needles; needles++)
		if (!strstr(stow_err_msg(), *needles))
			fail_msg("message \"%s\" lacks \"%s\"", stow_err_msg(),
				 *needles);
}

static void test_errors_name_the_culprit(void **state)
{
	(void)state;
	expect_error(file_a, "nope", STOW_ENOTFOUND,
		     (const char *[]){"/etc/kc/test.yaml",
				      "context \"nope\" not found", NULL});
	expect_error("current-context: x\n"
		     "contexts:\n- name: x\n  context: {cluster: gone, user: "
		     "u}\n",
		     NULL, STOW_ENOTFOUND,
		     (const char *[]){"context \"x\"", "cluster \"gone\"",
				      "not defined", NULL});
	expect_error("current-context: x\n"
		     "clusters:\n- name: c\n  cluster: {server: https://s}\n"
		     "contexts:\n- name: x\n  context: {cluster: c, user: "
		     "ghost}\n",
		     NULL, STOW_ENOTFOUND,
		     (const char *[]){"user \"ghost\"", NULL});
	expect_error(
	    "current-context: x\n"
	    "clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify:"
	    " true}\n"
	    "contexts:\n- name: x\n  context: {cluster: c}\n",
	    NULL, STOW_EINVAL,
	    (const char *[]){"/etc/kc/test.yaml", "cluster \"c\"",
			     "server is not set", NULL});
	expect_error("clusters: []\n", NULL, STOW_EINVAL,
		     (const char *[]){"current-context is not set", NULL});
	expect_error("current-context: x\n"
		     "clusters:\n- name: c\n  cluster:\n    server: https://s\n"
		     "    certificate-authority-data: '***'\n"
		     "contexts:\n- name: x\n  context: {cluster: c}\n",
		     NULL, STOW_EINVAL,
		     (const char *[]){"certificate-authority-data",
				      "invalid base64", NULL});
	expect_error("current-context: x\nclusters: [\n", NULL, STOW_EINVAL,
		     (const char *[]){"/etc/kc/test.yaml", "invalid YAML",
				      "line", NULL});
	expect_error("a: &x [1]\nb: *x\n", NULL, STOW_EINVAL,
		     (const char *[]){"aliases", NULL});
	expect_error("current-context: x\ncurrent-context: y\n", NULL,
		     STOW_EINVAL, (const char *[]){"duplicate key", NULL});
	expect_error("- 1\n- 2\n", NULL, STOW_EINVAL,
		     (const char *[]){"mapping", NULL});
	expect_error("current-context: x\n"
		     "clusters:\n- name: c\n  cluster: {server: https://s}\n"
		     "users:\n- name: u\n  user:\n    exec:\n      command: x\n"
		     "      apiVersion: client.authentication.k8s.io/v1alpha1\n"
		     "contexts:\n- name: x\n  context: {cluster: c, user: u}\n",
		     NULL, STOW_EUNSUPPORTED,
		     (const char *[]){"user \"u\"", "v1alpha1", NULL});
	expect_error("current-context: x\n"
		     "clusters:\n- name: c\n  cluster: {server: ftp://s}\n"
		     "contexts:\n- name: x\n  context: {cluster: c}\n",
		     NULL, STOW_EINVAL, (const char *[]){"https://", NULL});
	expect_error("current-context: x\n"
		     "clusters:\n- name: c\n  cluster: {server: https://s, "
		     "certificate-authority: /dev/zero}\n"
		     "contexts:\n- name: x\n  context: {cluster: c}\n",
		     NULL, STOW_EINVAL,
		     (const char *[]){"certificate-authority",
				      "not a regular file", NULL});
}

static void test_base64_data_and_json_kubeconfig(void **state)
{
	/* JSON is YAML too; client data given inline as base64. */
	static const char j[] =
	    "{\"current-context\":\"x\",\"clusters\":[{\"name\":\"c\","
	    "\"cluster\":{\"server\":\"https://j.example\","
	    "\"certificate-authority-data\":\"" CA_B64 "\"}}],"
	    "\"users\":[{\"name\":\"u\",\"user\":{"
	    "\"client-certificate-data\":\"Q0VSVAo=\","
	    "\"client-key-data\":\"S0VZCg==\",\"username\":\"bob\","
	    "\"password\":\"pw\"}}],"
	    "\"contexts\":[{\"name\":\"x\",\"context\":{\"cluster\":\"c\","
	    "\"user\":\"u\"}}]}";
	stow_kube_config *c = NULL;
	stow_kube *k = NULL;
	char *h = NULL;

	(void)state;
	assert_int_equal(
	    stow_kube_config_parse(&c, j, strlen(j), "j.json", NULL), 0);
	assert_string_equal(c->ca_pem, CA_PEM);
	assert_string_equal(c->client_cert_pem, "CERT\n");
	assert_string_equal(c->client_key_pem, "KEY\n");
	assert_int_equal(stow_kube_new(&k, c), 0);
	assert_int_equal(stow_kube_auth_header(k, &h), 0);
	/* base64("bob:pw") */
	assert_string_equal(h, "Basic Ym9iOnB3");
	free(h);
	stow_kube_free(k);
	stow_kube_config_free(c);
}

static void write_plugin(const char *expiry)
{
	char script[2048];

	/* Prints an ExecCredential whose token counts the runs; records its
	 * arguments, one env variable and KUBERNETES_EXEC_INFO. */
	snprintf(script, sizeof(script),
		 "#!/bin/sh\n"
		 "n=$(cat \"%s/count\" 2>/dev/null || echo 0)\n"
		 "n=$((n + 1))\n"
		 "echo $n > \"%s/count\"\n"
		 "printf '%%s' \"$KUBERNETES_EXEC_INFO\" > \"%s/info\"\n"
		 "echo \"$1 $2 $PLUGIN_FLAVOUR\" > \"%s/args\"\n"
		 "echo 'some diagnostics' >&2\n"
		 "cat <<EOF\n"
		 "{\"apiVersion\": \"client.authentication.k8s.io/v1\",\n"
		 " \"kind\": \"ExecCredential\",\n"
		 " \"status\": {\"token\": \"plugin-token-$n\"%s%s%s}}\n"
		 "EOF\n",
		 tmpdir, tmpdir, tmpdir, tmpdir,
		 expiry ? ", \"expirationTimestamp\": \"" : "",
		 expiry ? expiry : "", expiry ? "\"" : "");
	write_file(path_in("bin/plugin.sh"), script, 0755);
}

static const char exec_kubeconfig[] =
    "current-context: x\n"
    "clusters:\n- name: c\n  cluster:\n    server: https://p.example\n"
    "    certificate-authority-data: " CA_B64 "\n"
    "users:\n- name: u\n  user:\n    exec:\n"
    "      apiVersion: client.authentication.k8s.io/v1\n"
    "      command: ./bin/plugin.sh\n" /* relative to the kubeconfig */
    "      args: [--first, second]\n"
    "      env:\n      - {name: PLUGIN_FLAVOUR, value: mint}\n"
    "      provideClusterInfo: true\n"
    "      interactiveMode: Never\n"
    "contexts:\n- name: x\n  context: {cluster: c, user: u}\n";

static void load_exec_client(stow_kube **k)
{
	stow_kube_config *c = NULL;

	write_file(path_in("kc.yaml"), exec_kubeconfig, 0);
	assert_int_equal(
	    stow_kube_config_load(
		&c, &(stow_kube_load_opts){.kubeconfig = path_in("kc.yaml")}),
	    0);
	assert_non_null(c->exec.command);
	assert_string_equal(c->exec.command, path_in("./bin/plugin.sh"));
	assert_true(c->exec.provide_cluster_info);
	assert_string_equal(c->exec.env[0], "PLUGIN_FLAVOUR=mint");
	assert_int_equal(stow_kube_new(k, c), 0);
	stow_kube_config_free(c);
}

static void test_exec_plugin_token_cached(void **state)
{
	stow_kube *k = NULL;
	char *h = NULL, *s;

	(void)state;
	assert_int_equal(mkdir(path_in("bin"), 0700), 0);
	write_plugin("2999-01-01T00:00:00Z");
	load_exec_client(&k);
	assert_int_equal(stow_kube_auth_header(k, &h), 0);
	assert_string_equal(h, "Bearer plugin-token-1");
	free(h);
	/* Not expired: no second run. */
	assert_int_equal(stow_kube_auth_header(k, &h), 0);
	assert_string_equal(h, "Bearer plugin-token-1");
	free(h);
	s = slurp(path_in("args"));
	assert_non_null(s);
	assert_string_equal(s, "--first second mint\n");
	free(s);
	s = slurp(path_in("info"));
	assert_non_null(s);
	{
		json_t *j = json_loads(s, 0, NULL);
		json_t *spec = json_object_get(j, "spec");
		json_t *cl = json_object_get(spec, "cluster");

		assert_non_null(j);
		assert_string_equal(
		    json_string_value(json_object_get(j, "kind")),
		    "ExecCredential");
		assert_string_equal(
		    json_string_value(json_object_get(j, "apiVersion")),
		    "client.authentication.k8s.io/v1");
		assert_true(
		    json_is_false(json_object_get(spec, "interactive")));
		assert_string_equal(
		    json_string_value(json_object_get(cl, "server")),
		    "https://p.example");
		assert_string_equal(json_string_value(json_object_get(
					cl, "certificate-authority-data")),
				    CA_B64);
		json_decref(j);
	}
	free(s);
	stow_kube_free(k);
}

static void test_exec_plugin_expired_reruns(void **state)
{
	stow_kube *k = NULL;
	char *h = NULL;

	(void)state;
	assert_int_equal(mkdir(path_in("bin"), 0700), 0);
	write_plugin("2001-01-01T00:00:00+02:00");
	load_exec_client(&k);
	assert_int_equal(stow_kube_auth_header(k, &h), 0);
	assert_string_equal(h, "Bearer plugin-token-1");
	free(h);
	assert_int_equal(stow_kube_auth_header(k, &h), 0);
	assert_string_equal(h, "Bearer plugin-token-2");
	free(h);
	stow_kube_free(k);
}

static void test_exec_plugin_failures(void **state)
{
	stow_kube *k = NULL;
	char *h = NULL;

	(void)state;
	assert_int_equal(mkdir(path_in("bin"), 0700), 0);
	/* Fails with a message on stderr. */
	write_file(path_in("bin/plugin.sh"),
		   "#!/bin/sh\necho 'please log in first' >&2\nexit 3\n", 0755);
	load_exec_client(&k);
	assert_int_equal(stow_kube_auth_header(k, &h), STOW_EDENIED);
	assert_null(h);
	assert_non_null(strstr(stow_err_msg(), "exit status 3"));
	assert_non_null(strstr(stow_err_msg(), "please log in first"));
	/* Wrong apiVersion in the reply. */
	write_file(path_in("bin/plugin.sh"),
		   "#!/bin/sh\necho '{\"apiVersion\":\"client.authentication."
		   "k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":"
		   "{\"token\":\"t\"}}'\n",
		   0755);
	assert_int_equal(stow_kube_auth_header(k, &h), STOW_EDENIED);
	assert_non_null(strstr(stow_err_msg(), "v1beta1"));
	/* Missing command. */
	assert_int_equal(unlink(path_in("bin/plugin.sh")), 0);
	assert_int_equal(stow_kube_auth_header(k, &h), STOW_ENOTFOUND);
	assert_non_null(strstr(stow_err_msg(), "plugin.sh"));
	stow_kube_free(k);
}

static void test_token_file_reread(void **state)
{
	static const char kc[] =
	    "current-context: x\n"
	    "clusters:\n- name: c\n  cluster: {server: https://t.example}\n"
	    "users:\n- name: u\n  user: {tokenFile: tok}\n"
	    "contexts:\n- name: x\n  context: {cluster: c, user: u}\n";
	stow_kube_config *c = NULL;
	stow_kube *k = NULL;
	char *h = NULL;

	(void)state;
	write_file(path_in("tok"), "  tok-1 \n", 0);
	write_file(path_in("kc"), kc, 0);
	assert_int_equal(
	    stow_kube_config_load(
		&c, &(stow_kube_load_opts){.kubeconfig = path_in("kc")}),
	    0);
	assert_int_equal(stow_kube_new(&k, c), 0);
	assert_int_equal(stow_kube_auth_header(k, &h), 0);
	assert_string_equal(h, "Bearer tok-1");
	free(h);
	stow_kube_free(k);
	/* A token that would smuggle in a header line is refused. */
	free(c->token_file);
	c->token_file = NULL;
	c->token = strdup("tok\r\nX-Evil: 1");
	assert_int_equal(stow_kube_new(&k, c), 0);
	assert_int_equal(stow_kube_auth_header(k, &h), STOW_EINVAL);
	assert_null(h);
	assert_non_null(strstr(stow_err_msg(), "control characters"));
	assert_int_equal(
	    stow_kube_request(k, "GET", "/api v1", NULL, NULL, 0, NULL, NULL),
	    STOW_EINVAL);
	assert_int_equal(
	    stow_kube_request(k, "GE T", "/api", NULL, NULL, 0, NULL, NULL),
	    STOW_EINVAL);
	stow_kube_free(k);
	stow_kube_config_free(c);
}

static void test_in_cluster(void **state)
{
	stow_kube_config *c = NULL;
	stow_kube *k = NULL;
	char *h = NULL;

	(void)state;
	assert_int_equal(mkdir(path_in("sa"), 0700), 0);
	write_file(path_in("sa/token"), "sa-token\n", 0);
	write_file(path_in("sa/ca.crt"), CA_PEM, 0);
	write_file(path_in("sa/namespace"), "velero\n", 0);
	assert_int_equal(stow_kube_config_in_cluster(&c, path_in("sa")),
			 STOW_ENOTFOUND);
	assert_non_null(strstr(stow_err_msg(), "KUBERNETES_SERVICE_HOST"));
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(stow_kube_config_in_cluster(&c, path_in("sa")), 0);
	assert_string_equal(c->server, "https://10.96.0.1:443");
	assert_string_equal(c->namespace, "velero");
	assert_string_equal(c->ca_pem, CA_PEM);
	assert_string_equal(c->token_file, path_in("sa/token"));
	assert_int_equal(stow_kube_new(&k, c), 0);
	assert_int_equal(stow_kube_auth_header(k, &h), 0);
	assert_string_equal(h, "Bearer sa-token");
	free(h);
	stow_kube_free(k);
	stow_kube_config_free(c);

	/* IPv6, no namespace file. */
	unlink(path_in("sa/namespace"));
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(stow_kube_config_in_cluster(&c, path_in("sa")), 0);
	assert_string_equal(c->server, "https://[fd00::1]:443");
	assert_string_equal(c->namespace, "default");
	stow_kube_config_free(c);

	/* The fallback when no kubeconfig exists. */
	assert_int_equal(mkdir(path_in("noconfig"), 0700), 0);
	setenv("HOME", path_in("noconfig"), 1);
	setenv("KUBERNETES_SERVICE_HOST", "/etc/passwd", 1);
	assert_int_equal(
	    stow_kube_config_load(
		&c, &(stow_kube_load_opts){.in_cluster_fallback = true}),
	    STOW_EINVAL);
	assert_non_null(strstr(stow_err_msg(), "KUBERNETES_SERVICE_HOST"));
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

static void test_status_mapping(void **state)
{
	static const struct {
		long st;
		const char *body;
		int code;
		const char *needle;
	} cases[] = {
	    {404,
	     "{\"kind\":\"Status\",\"message\":\"pods \\\"x\\\" not found\","
	     "\"reason\":\"NotFound\"}",
	     STOW_ENOTFOUND, "GET /p: pods \"x\" not found"},
	    {409,
	     "{\"kind\":\"Status\",\"message\":\"already there\","
	     "\"reason\":\"AlreadyExists\"}",
	     STOW_EEXIST, "already there"},
	    {409,
	     "{\"kind\":\"Status\",\"message\":\"the object has been "
	     "modified\",\"reason\":\"Conflict\"}",
	     STOW_ECONFLICT, "the object has been modified"},
	    {401, "{\"kind\":\"Status\",\"message\":\"Unauthorized\"}",
	     STOW_EDENIED, "Unauthorized"},
	    {403, "", STOW_EDENIED, "HTTP 403"},
	    {422, "{\"kind\":\"Status\",\"message\":\"bad spec\"}", STOW_EINVAL,
	     "bad spec"},
	    {400, "oops\n", STOW_EINVAL, "HTTP 400: oops"},
	    {410,
	     "{\"kind\":\"Status\",\"message\":\"too old resource "
	     "version\"}",
	     STOW_ENOTFOUND, "expired"},
	    {500, "{\"kind\":\"Status\",\"message\":\"etcd down\"}", STOW_EIO,
	     "etcd down"},
	    {429, "", STOW_EIO, "HTTP 429"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc =
		    stow_kube_status_error(cases[i].st, "GET /p", cases[i].body,
					   strlen(cases[i].body));

		assert_int_equal(rc, cases[i].code);
		if (!strstr(stow_err_msg(), cases[i].needle))
			fail_msg("%ld: \"%s\" lacks \"%s\"", cases[i].st,
				 stow_err_msg(), cases[i].needle);
	}
}

static void test_paths(void **state)
{
	const char *const none[] = {NULL};
	stow_kube_resource pods = {"",	 "v1", "pods", "Pod", "pod",
				   true, true, none,   none,  true};
	stow_kube_resource deploy = {
	    "apps", "v1", "deployments", "Deployment", "deployment",
	    true,   true, none,		 none,	       true};
	stow_kube_resource nodes = {"",	   "v1", "nodes", "Node", "node",
				    false, true, none,	  none,	  true};
	stow_buf b;

	(void)state;
	stow_buf_init(&b, 0);
	assert_int_equal(stow_kube_path(&b, &pods, "ns1", "p 1", "log"), 0);
	assert_string_equal((char *)b.data,
			    "/api/v1/namespaces/ns1/pods/p%201/log");
	stow_buf_reset(&b);
	assert_int_equal(stow_kube_path(&b, &pods, NULL, NULL, NULL), 0);
	assert_string_equal((char *)b.data, "/api/v1/pods");
	stow_buf_reset(&b);
	assert_int_equal(stow_kube_path(&b, &deploy, "x", "d", NULL), 0);
	assert_string_equal((char *)b.data,
			    "/apis/apps/v1/namespaces/x/deployments/d");
	stow_buf_reset(&b);
	assert_int_equal(stow_kube_path(&b, &nodes, "ignored", "n1", "status"),
			 0);
	assert_string_equal((char *)b.data, "/api/v1/nodes/n1/status");
	stow_buf_reset(&b);
	assert_int_equal(stow_kube_path(&b, &pods, "ns", "../x", NULL),
			 STOW_EINVAL);
	assert_int_equal(stow_kube_path(&b, &pods, "..", "x", NULL),
			 STOW_EINVAL);
	stow_buf_free(&b);
}

static void test_helpers(void **state)
{
	char *s = NULL;
	size_t n;
	time_t t;

	(void)state;
	assert_int_equal(stow_kube_b64_encode("any carnal pleas", 16, &s), 0);
	assert_string_equal(s, "YW55IGNhcm5hbCBwbGVhcw==");
	free(s);
	assert_int_equal(
	    stow_kube_b64_decode("YW55IGNhcm5hbCBwbGVhcw", 22, &s, &n), 0);
	assert_int_equal(n, 16);
	assert_memory_equal(s, "any carnal pleas", 16);
	free(s);
	assert_int_equal(stow_kube_b64_decode("YW5=5", 5, &s, &n), STOW_EINVAL);
	assert_int_equal(stow_kube_b64_decode("Y", 1, &s, &n), STOW_EINVAL);
	assert_int_equal(stow_kube_parse_time("1970-01-02T00:00:01Z", &t), 0);
	assert_int_equal((long long)t, 86401);
	assert_int_equal(
	    stow_kube_parse_time("1970-01-02T01:00:01.25+01:00", &t), 0);
	assert_int_equal((long long)t, 86401);
	assert_int_equal(stow_kube_parse_time("1970-01-02", &t), STOW_EINVAL);
	assert_int_equal(stow_kube_parse_time("1970-13-02T00:00:00Z", &t),
			 STOW_EINVAL);
}

static void test_tls_server_name_url(void **state)
{
	stow_kube_config *c = NULL;
	stow_kube *k = NULL;
	stow_buf b;
	static const char kc[] =
	    "current-context: x\n"
	    "clusters:\n- name: c\n  cluster: {server: 'https://10.1.2.3:6443/"
	    "prefix', tls-server-name: kubernetes.default}\n"
	    "contexts:\n- name: x\n  context: {cluster: c}\n";

	(void)state;
	assert_int_equal(stow_kube_config_parse(&c, kc, strlen(kc), "kc", NULL),
			 0);
	assert_int_equal(stow_kube_new(&k, c), 0);
	stow_buf_init(&b, 0);
	assert_int_equal(stow_kube_url(k, "/api", &b), 0);
	assert_string_equal((char *)b.data,
			    "https://kubernetes.default:6443/prefix/api");
	stow_buf_free(&b);
	assert_string_equal(stow_kube_config_of(k)->user_agent,
			    "stowage/" STOW_VERSION " (linux/amd64)");
	stow_kube_free(k);
	stow_kube_config_free(c);
}

/* A refused connection is retried until the deadline, then STOW_EIO. */
static void test_unreachable_server_retries(void **state)
{
	stow_kube_config *c = NULL;
	stow_kube *k = NULL;
	static const char kc[] =
	    "current-context: x\n"
	    "clusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\n"
	    "contexts:\n- name: x\n  context: {cluster: c}\n";
	json_t *j = NULL;
	struct timespec a, b;
	double took;

	(void)state;
	assert_int_equal(stow_kube_config_parse(&c, kc, strlen(kc), "kc", NULL),
			 0);
	c->timeout_ms = 1500;
	assert_int_equal(stow_kube_new(&k, c), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(
	    stow_kube_request(k, "GET", "/api", NULL, NULL, 0, &j, NULL),
	    STOW_EIO);
	clock_gettime(CLOCK_MONOTONIC, &b);
	took = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	assert_null(j);
	assert_non_null(strstr(stow_err_msg(), "gave up after"));
	assert_non_null(strstr(stow_err_msg(), "127.0.0.1:1"));
	assert_true(took < 3.0);
	stow_kube_free(k);
	stow_kube_config_free(c);
}

/* A server that accepts connections but never answers: the deadline ends
 * the call with STOW_ETIMEOUT, in about the configured time. */
static void test_silent_server_times_out(void **state)
{
	struct sockaddr_in sa = {0};
	socklen_t sl = sizeof(sa);
	stow_kube_config *c = NULL;
	stow_kube *k = NULL;
	char kc[512];
	struct timespec a, b;
	double took;
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(kc, sizeof(kc),
		 "current-context: x\n"
		 "clusters:\n- name: c\n  cluster: {server: "
		 "'http://127.0.0.1:%d'}\n"
		 "contexts:\n- name: x\n  context: {cluster: c}\n",
		 ntohs(sa.sin_port));
	assert_int_equal(stow_kube_config_parse(&c, kc, strlen(kc), "kc", NULL),
			 0);
	c->timeout_ms = 1200;
	assert_int_equal(stow_kube_new(&k, c), 0);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(
	    stow_kube_request(k, "GET", "/api", NULL, NULL, 0, NULL, NULL),
	    STOW_ETIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	took = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	assert_non_null(strstr(stow_err_msg(), "timed out"));
	assert_true(took > 1.0 && took < 2.5);
	stow_kube_free(k);
	stow_kube_config_free(c);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_merge_first_file_wins, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_context_namespace_relative_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_default_home_and_missing,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors_name_the_culprit, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_base64_data_and_json_kubeconfig, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exec_plugin_token_cached,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exec_plugin_expired_reruns,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_exec_plugin_failures, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_token_file_reread, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
	    cmocka_unit_test(test_status_mapping),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_helpers),
	    cmocka_unit_test(test_tls_server_name_url),
	    cmocka_unit_test(test_unreachable_server_retries),
	    cmocka_unit_test(test_silent_server_times_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
