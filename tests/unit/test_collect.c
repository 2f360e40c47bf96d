/* Backup item collection, the pure half (src/velero/collect.c): namespace
 * globs, old- and new-style resource filters, cluster-scope rules, label
 * selectors (labelSelector, orLabelSelectors), the exclusion label,
 * Velero's validation messages and the order of resource types. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/err.h"
#include "velero/collect.h"

/* Build a filter from a spec in JSON text; errors (array) returned too. */
static json_t *build(stow_collect_filter *f, const char *spec_text)
{
	json_error_t je;
	json_t *spec = json_loads(spec_text, 0, &je);
	json_t *errors = json_array();

	assert_non_null(spec);
	assert_int_equal(stow_collect_filter_init(f, spec, NULL, NULL, errors),
			 0);
	json_decref(spec);
	return errors;
}

static bool has_error(const json_t *errors, const char *needle)
{
	size_t i;
	json_t *v;

	json_array_foreach(errors, i, v)
	{
		if (strstr(json_string_value(v), needle))
			return true;
	}
	return false;
}

static void test_namespace_globs(void **state)
{
	stow_collect_filter f;
	json_t *e;

	(void)state;
	e = build(&f, "{}");
	assert_int_equal(json_array_size(e), 0);
	assert_true(stow_collect_ns_everything(&f));
	assert_true(stow_collect_ns_included(&f, "anything"));
	stow_collect_filter_free(&f);
	json_decref(e);

	e = build(&f, "{\"includedNamespaces\":[\"app*\",\"db-?\"],"
		      "\"excludedNamespaces\":[\"app-test\"]}");
	assert_int_equal(json_array_size(e), 0);
	assert_false(stow_collect_ns_everything(&f));
	assert_false(stow_collect_ns_include_all(&f));
	assert_true(stow_collect_ns_included(&f, "app1"));
	assert_true(stow_collect_ns_included(&f, "app"));
	assert_false(stow_collect_ns_included(&f, "app-test"));
	assert_true(stow_collect_ns_included(&f, "db-1"));
	assert_false(stow_collect_ns_included(&f, "db-12"));
	assert_false(stow_collect_ns_included(&f, "kube-system"));
	stow_collect_filter_free(&f);
	json_decref(e);

	/* "*" with excludes: one list across namespaces, filtered here. */
	e = build(&f, "{\"includedNamespaces\":[\"*\"],"
		      "\"excludedNamespaces\":[\"kube-*\"]}");
	assert_true(stow_collect_ns_include_all(&f));
	assert_false(stow_collect_ns_everything(&f));
	assert_false(stow_collect_ns_included(&f, "kube-system"));
	assert_true(stow_collect_ns_included(&f, "default"));
	assert_int_equal(stow_collect_filter_exclude_ns(&f, "default"), 0);
	assert_false(stow_collect_ns_included(&f, "default"));
	stow_collect_filter_free(&f);
	json_decref(e);

	assert_true(stow_collect_glob("[ab]x", "bx"));
	assert_false(stow_collect_glob("[ab]x", "cx"));
}

static void test_validation(void **state)
{
	stow_collect_filter f;
	json_t *e;

	(void)state;
	e = build(&f, "{\"includedNamespaces\":[\"a\",\"b\"],"
		      "\"excludedNamespaces\":[\"b\"]}");
	assert_true(has_error(e, "Invalid included/excluded namespace lists: "
				 "excludes list cannot contain an item in the "
				 "includes list: b"));
	stow_collect_filter_free(&f);
	json_decref(e);

	e = build(&f, "{\"includedResources\":[\"pods\"],"
		      "\"includedClusterScopedResources\":[\"nodes\"]}");
	assert_true(has_error(e, "They cannot be used together"));
	stow_collect_filter_free(&f);
	json_decref(e);

	e = build(&f, "{\"includeClusterResources\":true,"
		      "\"excludedNamespaceScopedResources\":[\"pods\"]}");
	assert_true(has_error(e, "They cannot be used together"));
	stow_collect_filter_free(&f);
	json_decref(e);

	e = build(&f,
		  "{\"labelSelector\":{\"matchLabels\":{\"a\":\"b\"}},"
		  "\"orLabelSelectors\":[{\"matchLabels\":{\"c\":\"d\"}}]}");
	assert_true(has_error(e, "encountered labelSelector as well as "
				 "orLabelSelectors in backup spec, only one "
				 "can be specified"));
	stow_collect_filter_free(&f);
	json_decref(e);

	e = build(&f, "{\"includedResources\":[\"*\",\"pods\"],"
		      "\"excludedResources\":[\"*\"]}");
	assert_true(has_error(e, "Invalid included/excluded resource lists: "
				 "includes list must either contain '*' only"));
	assert_true(has_error(e, "excludes list cannot contain '*'"));
	stow_collect_filter_free(&f);
	json_decref(e);

	e = build(&f, "{\"labelSelector\":{\"matchExpressions\":[{\"key\":"
		      "\"a\",\"operator\":\"Maybe\"}]}}");
	assert_true(has_error(e, "Invalid labelSelector"));
	stow_collect_filter_free(&f);
	json_decref(e);

	e = build(&f, "{\"includedNamespaces\":[\"Bad_NS\"]}");
	assert_true(has_error(e, "Invalid included/excluded namespace lists: "
				 "invalid namespace \"Bad_NS\": a lowercase "
				 "RFC 1123 label must consist of"));
	stow_collect_filter_free(&f);
	json_decref(e);

	/* Globs are names with their wildcards taken as letters. */
	e = build(&f,
		  "{\"includedNamespaces\":[\"app-*\",\"db-[0-9]\",\"*\"]}");
	assert_false(has_error(e, "invalid namespace"));
	stow_collect_filter_free(&f);
	json_decref(e);
	e = build(&f, "{\"excludedNamespaces\":[\"-x\"]}");
	assert_true(has_error(e, "invalid namespace \"-x\""));
	stow_collect_filter_free(&f);
	json_decref(e);
}

static void test_old_style(void **state)
{
	stow_collect_filter f;
	json_t *e;

	(void)state;
	/* Everything: cluster types too (nil + all namespaces). */
	e = build(&f, "{}");
	assert_true(stow_collect_type_included(&f, "pods", true));
	assert_true(stow_collect_type_included(&f, "persistentvolumes", false));
	assert_true(stow_collect_crds_wanted(&f));
	stow_collect_filter_free(&f);
	json_decref(e);

	/* Some namespaces, nil: no cluster types except namespaces; a PV
	 * pulled in by a PVC is still taken. */
	e = build(&f, "{\"includedNamespaces\":[\"app1\"]}");
	assert_false(
	    stow_collect_type_included(&f, "persistentvolumes", false));
	assert_false(stow_collect_type_included(
	    &f, "clusterroles.rbac.authorization.k8s.io", false));
	assert_true(stow_collect_type_included(&f, "namespaces", false));
	assert_true(
	    stow_collect_related_included(&f, "persistentvolumes", false));
	assert_true(stow_collect_type_included(&f, "configmaps", true));
	stow_collect_filter_free(&f);
	json_decref(e);

	/* false: no cluster types, not even related ones; namespaces stay. */
	e = build(&f, "{\"includeClusterResources\":false}");
	assert_false(
	    stow_collect_type_included(&f, "persistentvolumes", false));
	assert_false(
	    stow_collect_related_included(&f, "persistentvolumes", false));
	assert_true(stow_collect_type_included(&f, "namespaces", false));
	assert_false(stow_collect_crds_wanted(&f));
	stow_collect_filter_free(&f);
	json_decref(e);

	/* true with namespaces: cluster types all, minus excludes. */
	e = build(&f,
		  "{\"includedNamespaces\":[\"a\"],"
		  "\"includeClusterResources\":true,"
		  "\"excludedResources\":[\"storageclasses.storage.k8s.io\"]}");
	assert_true(stow_collect_type_included(&f, "persistentvolumes", false));
	assert_false(stow_collect_type_included(
	    &f, "storageclasses.storage.k8s.io", false));
	stow_collect_filter_free(&f);
	json_decref(e);

	/* Includes: only those types. */
	e = build(&f, "{\"includedResources\":[\"configmaps\",\"*.apps\"]}");
	assert_true(stow_collect_type_included(&f, "configmaps", true));
	assert_true(stow_collect_type_included(&f, "deployments.apps", true));
	assert_false(stow_collect_type_included(&f, "secrets", true));
	assert_false(stow_collect_type_included(&f, "namespaces", false));
	assert_false(
	    stow_collect_related_included(&f, "persistentvolumes", false));
	stow_collect_filter_free(&f);
	json_decref(e);
}

static int resolve(void *ctx, const char *name, char *out, size_t outsz)
{
	(void)ctx;
	if (!strcmp(name, "cm"))
		return snprintf(out, outsz, "configmaps") < 0;
	if (!strcmp(name, "deploy"))
		return snprintf(out, outsz, "deployments.apps") < 0;
	return 1;
}

static void test_resolution(void **state)
{
	stow_collect_filter f;
	json_t *spec = json_pack("{s:[s,s,s]}", "includedResources", "cm",
				 "deploy", "nosuch");

	(void)state;
	assert_int_equal(
	    stow_collect_filter_init(&f, spec, resolve, NULL, NULL), 0);
	assert_true(stow_collect_type_included(&f, "configmaps", true));
	assert_true(stow_collect_type_included(&f, "deployments.apps", true));
	/* An unknown name matches nothing (not "everything"). */
	assert_false(stow_collect_type_included(&f, "secrets", true));
	stow_collect_filter_free(&f);
	json_decref(spec);
}

static void test_new_style(void **state)
{
	stow_collect_filter f;
	json_t *e;

	(void)state;
	e = build(&f, "{\"excludedNamespaceScopedResources\":[\"secrets\"]}");
	assert_true(f.new_style);
	assert_false(stow_collect_type_included(&f, "secrets", true));
	assert_true(stow_collect_type_included(&f, "configmaps", true));
	/* Namespaced filter not "everything": cluster types only if
	 * included, plus namespaces. */
	assert_false(
	    stow_collect_type_included(&f, "persistentvolumes", false));
	assert_true(stow_collect_type_included(&f, "namespaces", false));
	assert_true(
	    stow_collect_related_included(&f, "persistentvolumes", false));
	stow_collect_filter_free(&f);
	json_decref(e);

	e = build(&f, "{\"includedClusterScopedResources\":[\"storageclasses."
		      "storage.k8s.io\"],\"excludedClusterScopedResources\":"
		      "[\"persistentvolumes\"],"
		      "\"includedNamespaceScopedResources\":[\"*\"]}");
	assert_true(stow_collect_type_included(
	    &f, "storageclasses.storage.k8s.io", false));
	assert_false(stow_collect_type_included(&f, "nodes", false));
	assert_false(
	    stow_collect_related_included(&f, "persistentvolumes", false));
	assert_true(stow_collect_type_included(&f, "pods", true));
	stow_collect_filter_free(&f);
	json_decref(e);

	e = build(&f, "{\"excludedClusterScopedResources\":[\"*\"],"
		      "\"includedNamespaceScopedResources\":[\"pods\"]}");
	assert_false(stow_collect_type_included(&f, "namespaces", false));
	assert_false(
	    stow_collect_related_included(&f, "persistentvolumes", false));
	assert_false(stow_collect_type_included(&f, "configmaps", true));
	assert_false(stow_collect_crds_wanted(&f));
	stow_collect_filter_free(&f);
	json_decref(e);
}

static void test_selectors(void **state)
{
	stow_collect_filter f;
	json_t *e, *l1 = json_pack("{s:s,s:s}", "app", "web", "tier", "fe");
	json_t *l2 = json_pack("{s:s}", "app", "db");
	json_t *l3 = json_pack("{s:s}", STOW_EXCLUDE_LABEL, "true");
	stow_buf b;

	(void)state;
	e = build(&f, "{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"},"
		      "\"matchExpressions\":[{\"key\":\"tier\",\"operator\":"
		      "\"In\",\"values\":[\"fe\",\"be\"]},{\"key\":\"x\","
		      "\"operator\":\"DoesNotExist\"}]}}");
	assert_int_equal(json_array_size(e), 0);
	assert_true(stow_collect_labels_selected(&f, l1));
	assert_false(stow_collect_labels_selected(&f, l2));
	assert_false(stow_collect_labels_selected(&f, NULL));
	stow_buf_init(&b, 0);
	assert_int_equal(stow_collect_selector_string(f.label_selector, &b), 0);
	assert_string_equal((char *)b.data, "app=web,tier in (fe,be),!x");
	stow_buf_free(&b);
	stow_collect_filter_free(&f);
	json_decref(e);

	e = build(&f, "{\"orLabelSelectors\":[{\"matchLabels\":{\"app\":"
		      "\"db\"}},{\"matchExpressions\":[{\"key\":\"tier\","
		      "\"operator\":\"Exists\"}]}]}");
	assert_true(stow_collect_labels_selected(&f, l1));
	assert_true(stow_collect_labels_selected(&f, l2));
	assert_false(stow_collect_labels_selected(&f, l3));
	stow_buf_init(&b, 0);
	assert_int_equal(
	    stow_collect_selector_string(json_array_get(f.or_selectors, 1), &b),
	    0);
	assert_string_equal((char *)b.data, "tier");
	stow_buf_free(&b);
	stow_collect_filter_free(&f);
	json_decref(e);

	/* NotIn matches a missing label; an empty selector matches all. */
	{
		json_t *s =
		    json_loads("{\"matchExpressions\":[{\"key\":\"app\","
			       "\"operator\":\"NotIn\",\"values\":"
			       "[\"web\"]}]}",
			       0, NULL);
		json_t *empty = json_object();

		assert_false(stow_collect_selector_match(s, l1));
		assert_true(stow_collect_selector_match(s, l2));
		assert_true(stow_collect_selector_match(s, NULL));
		assert_true(stow_collect_selector_match(empty, NULL));
		stow_buf_init(&b, 0);
		assert_int_equal(stow_collect_selector_string(s, &b), 0);
		assert_string_equal((char *)b.data, "app notin (web)");
		stow_buf_free(&b);
		json_decref(s);
		json_decref(empty);
	}
	assert_true(stow_collect_excluded_by_label(l3));
	assert_false(stow_collect_excluded_by_label(l1));
	json_decref(l1);
	json_decref(l2);
	json_decref(l3);
}

static const char *const all_verbs[] = {"create", "delete", "get",   "list",
					"patch",  "update", "watch", NULL};
static const char *const ro_verbs[] = {"get", "list", NULL};

#define RES(g, r, ns, v)                                                       \
	{                                                                      \
		g, "v1", r, r, r, ns, true, v, NULL, false                     \
	}

static void test_order(void **state)
{
	static const stow_kube_resource in[] = {
	    RES("", "configmaps", true, all_verbs),
	    RES("", "events", true, all_verbs),
	    RES("", "namespaces", false, all_verbs),
	    RES("", "persistentvolumes", false, all_verbs),
	    RES("", "pods", true, all_verbs),
	    RES("", "pods/log", true, all_verbs),
	    RES("", "persistentvolumeclaims", true, all_verbs),
	    RES("", "componentstatuses", false, ro_verbs),
	    RES("extensions", "deployments", true, all_verbs),
	    RES("apps", "deployments", true, all_verbs),
	    RES("events.k8s.io", "events", true, all_verbs),
	    RES("snapshot.storage.k8s.io", "volumesnapshots", true, all_verbs),
	    RES("example.com", "widgets", true, all_verbs),
	};
	const stow_kube_resource *ptrs[sizeof(in) / sizeof(in[0])];
	const stow_kube_resource *out[sizeof(in) / sizeof(in[0])];
	size_t n = sizeof(in) / sizeof(in[0]), m;
	char gr[128];
	static const char *const want[] = {
	    "pods",
	    "persistentvolumeclaims",
	    "persistentvolumes",
	    "configmaps",
	    "events",
	    "namespaces",
	    "deployments.apps",
	    "widgets.example.com",
	};

	(void)state;
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &in[i];
	m = stow_collect_order(ptrs, n, out);
	assert_int_equal(m, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < m; i++) {
		assert_int_equal(stow_collect_gr(out[i], gr, sizeof(gr)), 0);
		assert_string_equal(gr, want[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_namespace_globs),
	    cmocka_unit_test(test_validation),
	    cmocka_unit_test(test_old_style),
	    cmocka_unit_test(test_resolution),
	    cmocka_unit_test(test_new_style),
	    cmocka_unit_test(test_selectors),
	    cmocka_unit_test(test_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
