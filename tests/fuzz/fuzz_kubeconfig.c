/* Fuzz target for kubeconfig files (src/kube/config.c): YAML through
 * libyaml into a tree, then the context, cluster and user resolved.
 *
 * Any input: parsing returns cleanly (0 or a STOW_E* code with a message).
 * A config that resolves has a server URL and a namespace, and survives a
 * deep copy unchanged. Relative file references point into a directory
 * that does not exist, and references to devices or FIFOs are refused, so
 * no input makes the target block. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_internal.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_config(const stow_kube_config *c)
{
	stow_kube_config *d = NULL;

	check(c->server && (!strncmp(c->server, "https://", 8) ||
			    !strncmp(c->server, "http://", 7)));
	check(c->namespace && *c->namespace);
	check(!c->client_cert_pem == !c->client_key_pem);
	check(!c->exec.command ||
	      (c->exec.api_version && c->exec.args && c->exec.env));
	check(stow_kube_config_dup(&d, c) == 0);
	check(same(c->server, d->server) && same(c->namespace, d->namespace) &&
	      same(c->context, d->context) && same(c->ca_pem, d->ca_pem) &&
	      same(c->token, d->token) && same(c->token_file, d->token_file) &&
	      same(c->exec.command, d->exec.command) &&
	      c->insecure_skip_tls_verify == d->insecure_skip_tls_verify);
	stow_kube_config_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = "/nonexistent-stow-fuzz/kubeconfig";
	stow_kube_config *c = NULL;
	int rc;

	rc = stow_kube_config_parse(&c, (const char *)data, size, name, NULL);
	check((rc == 0) == (c != NULL));
	check(rc <= 0);
	if (rc < 0)
		check(stow_err_msg()[0] != '\0');
	if (c)
		check_config(c);
	stow_kube_config_free(c);

	/* The same bytes with an explicit context and namespace. */
	c = NULL;
	rc = stow_kube_config_parse(
	    &c, (const char *)data, size, name,
	    &(stow_kube_load_opts){.context = "dev", .namespace = "ns1"});
	check((rc == 0) == (c != NULL));
	if (c) {
		check(!strcmp(c->context, "dev") &&
		      !strcmp(c->namespace, "ns1"));
		check_config(c);
	}
	stow_kube_config_free(c);
	return 0;
}
