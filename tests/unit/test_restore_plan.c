/* Restore planning (src/velero/restore_plan.h): Velero's restore order,
 * namespace mapping (cluster-scoped items untouched), filters (namespace
 * globs, resources, includeClusterResources, selectors, skip rules),
 * validation messages, metadata stripping and the built-in item actions
 * checked as exact JSON, the PV decision, the merge patch and the
 * ServiceAccount merge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/err.h"
#include "velero/restore_plan.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	if (!v)
		fail_msg("bad test JSON at %d: %s", e.position, e.text);
	return v;
}

/* Compact, sorted: a canonical text to compare against. */
static void assert_json(const json_t *v, const char *want)
{
	json_t *w = J(want);
	char *a = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	char *b = json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS);

	if (strcmp(a, b) != 0)
		fail_msg("JSON differs:\n got  %s\n want %s", a, b);
	free(a);
	free(b);
	json_decref(w);
}

static stow_restore_plan *plan_of(const char *spec, json_t **errs_out)
{
	json_t *s = J(spec), *errs = json_array();
	stow_restore_plan *p = NULL;

	assert_int_equal(stow_restore_plan_new(&p, s, errs), 0);
	assert_non_null(p);
	json_decref(s);
	if (errs_out)
		*errs_out = errs;
	else {
		if (json_array_size(errs)) {
			char *t = json_dumps(errs, 0);
			fail_msg("unexpected validation errors: %s", t);
		}
		json_decref(errs);
	}
	return p;
}

/* A stand-in for discovery: short and singular names to grs. */
static int fake_resolve(void *ctx, const char *name, char *out, size_t outsz)
{
	static const char *const map[][2] = {
	    {"deploy", "deployments.apps"}, {"deployments", "deployments.apps"},
	    {"cm", "configmaps"},	    {"configmap", "configmaps"},
	    {"configmaps", "configmaps"},   {"pv", "persistentvolumes"},
	};

	(void)ctx;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i][0], name) == 0) {
			snprintf(out, outsz, "%s", map[i][1]);
			return 0;
		}
	return -1;
}

static void test_order(void **state)
{
	const char *grs[] = {
	    "services",
	    "zebras.example.com",
	    "deployments.apps",
	    "pods",
	    "clusters.cluster.x-k8s.io",
	    "configmaps",
	    "secrets",
	    "persistentvolumeclaims",
	    "persistentvolumes",
	    "namespaces",
	    "customresourcedefinitions.apiextensions.k8s.io",
	    "apps.kappctrl.k14s.io",
	    "serviceaccounts",
	    "storageclasses.storage.k8s.io",
	    "replicasets.apps",
	    "limitranges",
	    "widgets.example.com",
	    "roles.rbac.authorization.k8s.io",
	    "clusterroles.rbac.authorization.k8s.io",
	};
	const char *want[] = {
	    "customresourcedefinitions.apiextensions.k8s.io",
	    "namespaces",
	    "storageclasses.storage.k8s.io",
	    "persistentvolumes",
	    "persistentvolumeclaims",
	    "clusterroles.rbac.authorization.k8s.io",
	    "roles.rbac.authorization.k8s.io",
	    "serviceaccounts",
	    "secrets",
	    "configmaps",
	    "limitranges",
	    "pods",
	    "replicasets.apps",
	    "services",
	    /* the rest, alphabetically */
	    "deployments.apps",
	    "widgets.example.com",
	    "zebras.example.com",
	    /* low priorities, in Velero's order */
	    "clusters.cluster.x-k8s.io",
	    "apps.kappctrl.k14s.io",
	};
	size_t n = sizeof(grs) / sizeof(grs[0]);

	(void)state;
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	stow_restore_order(grs, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(grs[i], want[i]);
	assert_int_equal(stow_restore_priority(
			     "customresourcedefinitions.apiextensions.k8s.io"),
			 0);
	assert_true(stow_restore_priority("pods") <
		    stow_restore_priority("a.example.com"));
	assert_true(
	    stow_restore_priority("a.example.com") <
	    stow_restore_priority("packageinstalls.packaging.carvel.dev"));
}

static void test_namespace_mapping(void **state)
{
	stow_restore_plan *p =
	    plan_of("{\"namespaceMapping\":{\"app1\":\"app1-copy\"}}", NULL);
	stow_restore_item_ctx c = {p, "b1", "r1", NULL};
	json_t *cm = J("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
		       "\"metadata\":{\"name\":\"cfg\",\"namespace\":\"app1\"},"
		       "\"data\":{\"k\":\"v\"}}");
	json_t *sc = J("{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":"
		       "\"StorageClass\",\"metadata\":{\"name\":\"fast\"},"
		       "\"provisioner\":\"x\"}");
	json_t *pv = J("{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolume\","
		       "\"metadata\":{\"name\":\"pv1\",\"annotations\":{"
		       "\"pv.kubernetes.io/bound-by-controller\":\"yes\","
		       "\"keep\":\"1\"}},\"spec\":{"
		       "\"persistentVolumeReclaimPolicy\":\"Retain\","
		       "\"claimRef\":{\"kind\":\"PersistentVolumeClaim\","
		       "\"namespace\":\"app1\",\"name\":\"data\",\"uid\":\"u\","
		       "\"resourceVersion\":\"5\"}},\"status\":{\"phase\":"
		       "\"Bound\"}}");

	(void)state;
	assert_string_equal(stow_restore_plan_target_namespace(p, "app1"),
			    "app1-copy");
	assert_string_equal(stow_restore_plan_target_namespace(p, "other"),
			    "other");
	assert_int_equal(
	    stow_restore_prepare(&c, "configmaps", "app1", cm, NULL, NULL), 0);
	assert_json(cm, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\","
			"\"metadata\":{\"name\":\"cfg\",\"namespace\":"
			"\"app1-copy\",\"labels\":{\"velero.io/backup-name\":"
			"\"b1\",\"velero.io/restore-name\":\"r1\"}},"
			"\"data\":{\"k\":\"v\"}}");
	/* Cluster-scoped: no namespace appears. */
	assert_int_equal(stow_restore_prepare(&c,
					      "storageclasses.storage.k8s.io",
					      NULL, sc, NULL, NULL),
			 0);
	assert_json(sc, "{\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":"
			"\"StorageClass\",\"metadata\":{\"name\":\"fast\","
			"\"labels\":{\"velero.io/backup-name\":\"b1\","
			"\"velero.io/restore-name\":\"r1\"}},\"provisioner\":"
			"\"x\"}");
	/* PV: binding reset, claimRef follows the mapping. */
	assert_int_equal(
	    stow_restore_prepare(&c, "persistentvolumes", NULL, pv, NULL, NULL),
	    0);
	assert_json(pv, "{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolume\","
			"\"metadata\":{\"name\":\"pv1\",\"annotations\":{"
			"\"keep\":\"1\"},\"labels\":{\"velero.io/backup-name\":"
			"\"b1\",\"velero.io/restore-name\":\"r1\"}},\"spec\":{"
			"\"persistentVolumeReclaimPolicy\":\"Retain\","
			"\"claimRef\":{\"kind\":\"PersistentVolumeClaim\","
			"\"namespace\":\"app1-copy\",\"name\":\"data\"}}}");
	json_decref(cm);
	json_decref(sc);
	json_decref(pv);
	stow_restore_plan_free(p);
}

static stow_restore_admit admit(const stow_restore_plan *p, const char *gr,
				const char *ns, const char *obj)
{
	json_t *o = J(obj);
	stow_restore_admit a = stow_restore_plan_admit(p, gr, ns, o, NULL);

	json_decref(o);
	return a;
}

#define CM(labels) "{\"metadata\":{\"name\":\"x\",\"labels\":" labels "}}"

static void test_filters(void **state)
{
	stow_restore_plan *p;

	(void)state;
	/* Namespace globs and excludes. */
	p = plan_of("{\"includedNamespaces\":[\"app*\",\"web\"],"
		    "\"excludedNamespaces\":[\"app-secret\"]}",
		    NULL);
	assert_true(stow_restore_plan_namespace_included(p, "app1"));
	assert_true(stow_restore_plan_namespace_included(p, "web"));
	assert_false(stow_restore_plan_namespace_included(p, "app-secret"));
	assert_false(stow_restore_plan_namespace_included(p, "kube-system"));
	assert_false(stow_restore_plan_all_namespaces(p));
	/* includeClusterResources unset and not every namespace: no
	 * cluster-scoped items, but namespaces and additional PVs yes. */
	assert_int_equal(
	    admit(p, "storageclasses.storage.k8s.io", NULL, CM("{}")),
	    STOW_RESTORE_FILTERED);
	assert_int_equal(
	    admit(p, "namespaces", NULL, "{\"metadata\":{\"name\":\"app2\"}}"),
	    STOW_RESTORE_ADMIT);
	assert_int_equal(
	    admit(p, "namespaces", NULL, "{\"metadata\":{\"name\":\"db\"}}"),
	    STOW_RESTORE_FILTERED);
	assert_true(stow_restore_plan_additional_pv(p));
	assert_int_equal(admit(p, "configmaps", "app1", CM("{}")),
			 STOW_RESTORE_ADMIT);
	assert_int_equal(admit(p, "configmaps", "db", CM("{}")),
			 STOW_RESTORE_FILTERED);
	stow_restore_plan_free(p);

	/* Everything: cluster-scoped items come along. */
	p = plan_of("{}", NULL);
	assert_true(stow_restore_plan_all_namespaces(p));
	assert_int_equal(
	    admit(p, "storageclasses.storage.k8s.io", NULL, CM("{}")),
	    STOW_RESTORE_ADMIT);
	/* Non-restorable resources are always excluded. */
	assert_int_equal(admit(p, "events", "app1", CM("{}")),
			 STOW_RESTORE_FILTERED);
	assert_int_equal(admit(p, "nodes", NULL, CM("{}")),
			 STOW_RESTORE_FILTERED);
	/* Velero's skip rules. */
	assert_int_equal(admit(p, "pods", "a",
			       "{\"metadata\":{\"name\":\"p\"},\"status\":{"
			       "\"phase\":\"Succeeded\"}}"),
			 STOW_RESTORE_SKIP);
	assert_int_equal(admit(p, "pods", "a",
			       "{\"metadata\":{\"name\":\"p\"},\"status\":{"
			       "\"phase\":\"Running\"}}"),
			 STOW_RESTORE_ADMIT);
	assert_int_equal(admit(p, "pods", "a",
			       "{\"metadata\":{\"name\":\"p\",\"annotations\":{"
			       "\"kubernetes.io/config.mirror\":\"h\"}}}"),
			 STOW_RESTORE_SKIP);
	assert_int_equal(admit(p, "jobs.batch", "a",
			       "{\"metadata\":{\"name\":\"j\"},\"status\":{"
			       "\"completionTime\":\"2026-01-01T00:00:00Z\"}}"),
			 STOW_RESTORE_SKIP);
	stow_restore_plan_free(p);

	/* includeClusterResources false: never, not even PVs of PVCs. */
	p = plan_of("{\"includeClusterResources\":false}", NULL);
	assert_int_equal(admit(p, "persistentvolumes", NULL, CM("{}")),
			 STOW_RESTORE_FILTERED);
	assert_false(stow_restore_plan_additional_pv(p));
	stow_restore_plan_free(p);

	/* Resources, resolved through "discovery"; globs on grs. */
	p = plan_of(
	    "{\"includedResources\":[\"cm\",\"deploy\",\"*.example.com\"],"
	    "\"includeClusterResources\":true}",
	    NULL);
	stow_restore_plan_resolve(p, fake_resolve, NULL);
	assert_int_equal(admit(p, "configmaps", "a", CM("{}")),
			 STOW_RESTORE_ADMIT);
	assert_int_equal(admit(p, "deployments.apps", "a", CM("{}")),
			 STOW_RESTORE_ADMIT);
	assert_int_equal(admit(p, "widgets.example.com", NULL, CM("{}")),
			 STOW_RESTORE_ADMIT);
	assert_int_equal(admit(p, "secrets", "a", CM("{}")),
			 STOW_RESTORE_FILTERED);
	/* Must-have resources bypass the filters. */
	assert_int_equal(admit(p, "datauploads.velero.io", "velero", CM("{}")),
			 STOW_RESTORE_ADMIT);
	stow_restore_plan_free(p);

	/* Label selectors, stored labels. */
	p = plan_of("{\"labelSelector\":{\"matchLabels\":{\"app\":\"web\"},"
		    "\"matchExpressions\":[{\"key\":\"tier\",\"operator\":"
		    "\"In\",\"values\":[\"a\",\"b\"]},{\"key\":\"skip\","
		    "\"operator\":\"DoesNotExist\"}]}}",
		    NULL);
	assert_int_equal(
	    admit(p, "configmaps", "a", CM("{\"app\":\"web\",\"tier\":\"b\"}")),
	    STOW_RESTORE_ADMIT);
	assert_int_equal(
	    admit(p, "configmaps", "a", CM("{\"app\":\"web\",\"tier\":\"c\"}")),
	    STOW_RESTORE_FILTERED);
	assert_int_equal(admit(p, "configmaps", "a",
			       CM("{\"app\":\"web\",\"tier\":\"a\",\"skip\":"
				  "\"1\"}")),
			 STOW_RESTORE_FILTERED);
	assert_int_equal(
	    admit(p, "configmaps", "a", "{\"metadata\":{\"name\":\"x\"}}"),
	    STOW_RESTORE_FILTERED);
	stow_restore_plan_free(p);
	p = plan_of("{\"orLabelSelectors\":[{\"matchLabels\":{\"a\":\"1\"}},"
		    "{\"matchExpressions\":[{\"key\":\"b\",\"operator\":"
		    "\"Exists\"}]}]}",
		    NULL);
	assert_int_equal(admit(p, "configmaps", "a", CM("{\"a\":\"1\"}")),
			 STOW_RESTORE_ADMIT);
	assert_int_equal(admit(p, "configmaps", "a", CM("{\"b\":\"\"}")),
			 STOW_RESTORE_ADMIT);
	assert_int_equal(admit(p, "configmaps", "a", CM("{\"a\":\"2\"}")),
			 STOW_RESTORE_FILTERED);
	stow_restore_plan_free(p);
}

static void test_validation(void **state)
{
	json_t *errs;
	stow_restore_plan *p;

	(void)state;
	p = plan_of("{\"includedResources\":[\"*\",\"pods\"],"
		    "\"excludedNamespaces\":[\"*\"],"
		    "\"labelSelector\":{\"matchLabels\":{\"a\":\"b\"}},"
		    "\"orLabelSelectors\":[{\"matchLabels\":{\"c\":\"d\"}}],"
		    "\"existingResourcePolicy\":\"merge\","
		    "\"includedNamespaces\":[\"x\"]}",
		    &errs);
	assert_json(
	    errs, "[\"Invalid included/excluded resource lists: includes "
		  "list must either contain '*' only, or a non-empty list of "
		  "items\",\"Invalid included/excluded namespace lists: "
		  "excludes list cannot contain '*'\",\"encountered "
		  "labelSelector as well as orLabelSelectors in restore spec, "
		  "only one can be specified\",\"Invalid "
		  "ExistingResourcePolicy: merge\"]");
	json_decref(errs);
	stow_restore_plan_free(p);
	p = plan_of("{\"includedResources\":[\"nodes\"],"
		    "\"labelSelector\":{\"matchExpressions\":[{\"key\":\"a\","
		    "\"operator\":\"Near\"}]}}",
		    &errs);
	assert_json(errs, "[\"nodes are non-restorable resources\","
			  "\"Invalid label selector: \\\"Near\\\" is not a "
			  "valid operator\"]");
	json_decref(errs);
	stow_restore_plan_free(p);
	p = plan_of("{\"existingResourcePolicy\":\"update\"}", NULL);
	assert_true(stow_restore_plan_update_existing(p));
	stow_restore_plan_free(p);
}

static void test_strip(void **state)
{
	stow_restore_plan *p = plan_of("{}", NULL);
	stow_restore_item_ctx c = {p, "nightly", "nightly-restore", NULL};
	json_t *o =
	    J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	      "\"metadata\":{\"name\":\"web\",\"namespace\":\"app1\","
	      "\"generateName\":\"w-\",\"selfLink\":\"/x\",\"uid\":\"u-1\","
	      "\"resourceVersion\":\"42\",\"generation\":3,"
	      "\"creationTimestamp\":\"2026-01-01T00:00:00Z\","
	      "\"deletionTimestamp\":\"2026-01-02T00:00:00Z\","
	      "\"deletionGracePeriodSeconds\":30,"
	      "\"ownerReferences\":[{\"kind\":\"X\",\"name\":\"o\"}],"
	      "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":"
	      "\"Apply\"}],\"labels\":{\"app\":\"web\"},"
	      "\"annotations\":{\"a\":\"b\"},\"finalizers\":[\"f\"]},"
	      "\"spec\":{\"replicas\":2},\"status\":{\"readyReplicas\":2}}");
	json_t *status = NULL, *managed = NULL;

	(void)state;
	assert_int_equal(stow_restore_prepare(&c, "deployments.apps", "app1", o,
					      &status, &managed),
			 0);
	assert_json(o, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
		       "\"metadata\":{\"name\":\"web\",\"namespace\":\"app1\","
		       "\"labels\":{\"app\":\"web\",\"velero.io/backup-name\":"
		       "\"nightly\",\"velero.io/restore-name\":"
		       "\"nightly-restore\"},\"annotations\":{\"a\":\"b\"},"
		       "\"finalizers\":[\"f\"]},\"spec\":{\"replicas\":2}}");
	/* No restoreStatus: status is not kept; managedFields come back
	 * for the patch after create. */
	assert_null(status);
	assert_json(managed, "[{\"manager\":\"kubectl\",\"operation\":"
			     "\"Apply\"}]");
	json_decref(managed);
	json_decref(o);
	stow_restore_plan_free(p);

	/* restoreStatus selects deployments: status handed back. */
	p = plan_of("{\"restoreStatus\":{\"includedResources\":[\"deploy\"]}}",
		    NULL);
	stow_restore_plan_resolve(p, fake_resolve, NULL);
	c.plan = p;
	o = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	      "\"metadata\":{\"name\":\"web\"},\"status\":{\"x\":1}}");
	assert_int_equal(
	    stow_restore_prepare(&c, "deployments.apps", "a", o, &status, NULL),
	    0);
	assert_json(status, "{\"x\":1}");
	assert_null(json_object_get(o, "status"));
	json_decref(status);
	json_decref(o);
	o = J("{\"metadata\":{\"name\":\"c\"},\"status\":{\"x\":1}}");
	assert_false(stow_restore_plan_restore_status(p, "configmaps", o));
	json_decref(o);
	stow_restore_plan_free(p);

	/* Long names: Velero's GetValidName. */
	{
		char v[64];
		const char *lng = "a-very-long-backup-name-that-goes-on-and-on-"
				  "and-on-past-sixty-three-characters";

		stow_restore_label_value("short", v);
		assert_string_equal(v, "short");
		stow_restore_label_value(lng, v);
		assert_int_equal(strlen(v), 63);
		assert_memory_equal(v, lng, 57);
	}
}

static void test_service(void **state)
{
	stow_restore_plan *p = plan_of("{}", NULL);
	stow_restore_item_ctx c = {p, "b", "r", NULL};
	json_t *o =
	    J("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{"
	      "\"name\":\"web\",\"namespace\":\"a\",\"annotations\":{"
	      "\"kubectl.kubernetes.io/last-applied-configuration\":"
	      "\"{\\\"spec\\\":{\\\"ports\\\":[{\\\"port\\\":443,"
	      "\\\"nodePort\\\":30443}]}}\"},\"managedFields\":[{\"manager\":"
	      "\"m\",\"fieldsV1\":{\"f:spec\":{\"f:ports\":{"
	      "\"k:{\\\"port\\\":8080,\\\"protocol\\\":\\\"TCP\\\"}\":{"
	      "\"f:nodePort\":{}}}}}}]},\"spec\":{\"type\":\"LoadBalancer\","
	      "\"clusterIP\":\"10.0.0.7\",\"clusterIPs\":[\"10.0.0.7\"],"
	      "\"healthCheckNodePort\":31000,\"ports\":["
	      "{\"port\":80,\"nodePort\":30080},"
	      "{\"port\":443,\"nodePort\":30443},"
	      "{\"port\":8080,\"nodePort\":30808}]},\"status\":{}}");
	json_t *h = J("{\"apiVersion\":\"v1\",\"kind\":\"Service\","
		      "\"metadata\":{\"name\":\"h\"},\"spec\":{\"clusterIP\":"
		      "\"None\",\"clusterIPs\":[\"None\"]}}");
	json_t *mf = NULL;

	(void)state;
	assert_int_equal(
	    stow_restore_prepare(&c, "services", "a", o, NULL, &mf), 0);
	/* clusterIP(s) cleared; the nodePort of 80 was server-assigned and
	 * goes, 443 (last-applied) and 8080 (managedFields) stay;
	 * healthCheckNodePort was not explicit. */
	assert_json(json_object_get(o, "spec"),
		    "{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":80},"
		    "{\"port\":443,\"nodePort\":30443},"
		    "{\"port\":8080,\"nodePort\":30808}]}");
	assert_null(
	    json_object_get(json_object_get(o, "metadata"), "managedFields"));
	json_decref(mf);
	/* Headless: clusterIP None stays. */
	assert_int_equal(
	    stow_restore_prepare(&c, "services", "a", h, NULL, NULL), 0);
	assert_json(json_object_get(h, "spec"),
		    "{\"clusterIP\":\"None\",\"clusterIPs\":[\"None\"]}");
	json_decref(o);
	json_decref(h);
	stow_restore_plan_free(p);

	/* preserveNodePorts keeps them all, still clears clusterIP. */
	p = plan_of("{\"preserveNodePorts\":true}", NULL);
	c.plan = p;
	o = J("{\"metadata\":{\"name\":\"s\"},\"spec\":{\"clusterIP\":\"1.2.3."
	      "4\","
	      "\"ports\":[{\"port\":80,\"nodePort\":30080}]}}");
	assert_int_equal(
	    stow_restore_prepare(&c, "services", "a", o, NULL, NULL), 0);
	assert_json(json_object_get(o, "spec"),
		    "{\"ports\":[{\"port\":80,\"nodePort\":30080}]}");
	json_decref(o);
	stow_restore_plan_free(p);
}

static void test_pod_job_pvc(void **state)
{
	stow_restore_plan *p = plan_of("{}", NULL);
	json_t *prov = J("{\"pv-gone\":true}");
	stow_restore_item_ctx c = {p, "b", "r", prov};
	json_t *pod =
	    J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"nodeName\":\"n1\","
	      "\"priority\":5,\"serviceAccountName\":\"sa\",\"volumes\":["
	      "{\"name\":\"data\"},{\"name\":\"sa-token-abcde\"}],"
	      "\"containers\":[{\"name\":\"c\",\"volumeMounts\":["
	      "{\"name\":\"data\"},{\"name\":\"sa-token-abcde\"}]}]}}");
	json_t *job =
	    J("{\"metadata\":{\"name\":\"j\"},\"spec\":{\"selector\":{"
	      "\"matchLabels\":{\"controller-uid\":\"u\",\"app\":\"x\"}},"
	      "\"template\":{\"metadata\":{\"labels\":{"
	      "\"batch.kubernetes.io/controller-uid\":\"u\",\"controller-uid\":"
	      "\"u\",\"app\":\"x\"}}}}}");
	json_t *pvc =
	    J("{\"metadata\":{\"name\":\"d\",\"annotations\":{"
	      "\"pv.kubernetes.io/bind-completed\":\"yes\","
	      "\"volume.kubernetes.io/selected-node\":\"n1\",\"keep\":\"k\"}},"
	      "\"spec\":{\"volumeName\":\"pv-gone\"}}");
	json_t *pvc2 = J("{\"metadata\":{\"name\":\"e\"},\"spec\":{"
			 "\"volumeName\":\"pv-kept\"}}");
	size_t n = 9;

	(void)state;
	assert_int_equal(stow_restore_prepare(&c, "pods", "a", pod, NULL, NULL),
			 0);
	assert_json(json_object_get(pod, "spec"),
		    "{\"serviceAccountName\":\"sa\",\"volumes\":[{\"name\":"
		    "\"data\"}],\"containers\":[{\"name\":\"c\","
		    "\"volumeMounts\":[{\"name\":\"data\"}]}]}");
	/* The pod-volume seam changes nothing yet. */
	assert_int_equal(
	    stow_restore_pod_volumes_prepare(NULL, "a", "p", pod, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(
	    stow_restore_prepare(&c, "jobs.batch", "a", job, NULL, NULL), 0);
	assert_json(
	    json_object_get(job, "spec"),
	    "{\"selector\":{\"matchLabels\":{\"app\":\"x\"}},"
	    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}}}}");
	assert_int_equal(stow_restore_prepare(&c, "persistentvolumeclaims", "a",
					      pvc, NULL, NULL),
			 0);
	assert_json(pvc, "{\"metadata\":{\"name\":\"d\",\"namespace\":\"a\","
			 "\"annotations\":{\"keep\":\"k\"},\"labels\":{"
			 "\"velero.io/backup-name\":\"b\","
			 "\"velero.io/restore-name\":\"r\"}},\"spec\":{}}");
	assert_int_equal(stow_restore_prepare(&c, "persistentvolumeclaims", "a",
					      pvc2, NULL, NULL),
			 0);
	assert_json(json_object_get(pvc2, "spec"),
		    "{\"volumeName\":\"pv-kept\"}");
	json_decref(pod);
	json_decref(job);
	json_decref(pvc);
	json_decref(pvc2);
	json_decref(prov);
	stow_restore_plan_free(p);
}

static void test_pv_decide(void **state)
{
	json_t *del = J("{\"metadata\":{\"name\":\"pv1\"},\"spec\":{"
			"\"persistentVolumeReclaimPolicy\":\"Delete\"}}");
	json_t *ret = J("{\"metadata\":{\"name\":\"pv2\"},\"spec\":{"
			"\"persistentVolumeReclaimPolicy\":\"Retain\"}}");
	json_t *vi = J("[{\"pvName\":\"pv2\",\"backupMethod\":"
		       "\"PodVolumeBackup\"},{\"pvName\":\"pv3\","
		       "\"backupMethod\":\"NativeSnapshot\"}]");
	json_t *nat = J("{\"metadata\":{\"name\":\"pv3\"},\"spec\":{}}");
	const char *why;

	(void)state;
	assert_int_equal(stow_restore_pv_decide(del, NULL, &why),
			 STOW_RESTORE_PV_PROVISION);
	assert_non_null(why);
	assert_int_equal(stow_restore_pv_decide(ret, NULL, &why),
			 STOW_RESTORE_PV_RESTORE);
	assert_int_equal(stow_restore_pv_decide(ret, vi, &why),
			 STOW_RESTORE_PV_PROVISION);
	assert_int_equal(stow_restore_pv_decide(nat, vi, &why),
			 STOW_RESTORE_PV_NO_SNAPSHOTTER);
	json_decref(del);
	json_decref(ret);
	json_decref(vi);
	json_decref(nat);
}

static void test_merge_patch(void **state)
{
	json_t *from = J("{\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":"
			 "\"1\",\"gone\":\"g\"}},\"data\":{\"k\":\"old\"},"
			 "\"extra\":[1,2]}");
	json_t *to = J("{\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"1\","
		       "\"new\":\"n\"}},\"data\":{\"k\":\"new\"}}");
	json_t *patch = stow_restore_merge_patch(from, to);

	(void)state;
	assert_json(patch, "{\"metadata\":{\"labels\":{\"gone\":null,\"new\":"
			   "\"n\"}},\"data\":{\"k\":\"new\"},\"extra\":null}");
	json_decref(patch);
	patch = stow_restore_merge_patch(to, to);
	assert_json(patch, "{}");
	json_decref(patch);
	json_decref(from);
	json_decref(to);
}

static void test_service_account(void **state)
{
	stow_restore_plan *p = plan_of("{}", NULL);
	stow_restore_item_ctx c = {p, "b", "r", NULL};
	json_t *sa = J("{\"metadata\":{\"name\":\"builder\",\"labels\":{"
		       "\"team\":\"x\"}},\"secrets\":[{\"name\":"
		       "\"builder-token-abcde\"},{\"name\":\"extra\"}],"
		       "\"imagePullSecrets\":[{\"name\":\"reg-a\"}]}");
	json_t *cluster = J("{\"metadata\":{\"name\":\"builder\","
			    "\"namespace\":\"a\",\"labels\":{\"team\":"
			    "\"y\"}},\"secrets\":[{\"name\":"
			    "\"builder-token-zzzzz\"}],\"imagePullSecrets\":["
			    "{\"name\":\"reg-b\"}]}");
	json_t *merged, *patch;

	(void)state;
	assert_int_equal(
	    stow_restore_prepare(&c, "serviceaccounts", "a", sa, NULL, NULL),
	    0);
	/* The token secret reference goes. */
	assert_json(json_object_get(sa, "secrets"), "[{\"name\":\"extra\"}]");
	merged = stow_restore_merge_service_account(cluster, sa);
	/* Cluster values win; what it lacks is added. */
	assert_json(merged,
		    "{\"metadata\":{\"name\":\"builder\",\"namespace\":"
		    "\"a\",\"labels\":{\"team\":\"y\","
		    "\"velero.io/backup-name\":\"b\","
		    "\"velero.io/restore-name\":\"r\"}},\"secrets\":["
		    "{\"name\":\"builder-token-zzzzz\"},{\"name\":"
		    "\"extra\"}],\"imagePullSecrets\":[{\"name\":\"reg-b\"},"
		    "{\"name\":\"reg-a\"}]}");
	patch = stow_restore_merge_patch(cluster, merged);
	assert_json(patch,
		    "{\"metadata\":{\"labels\":{\"velero.io/backup-name\":"
		    "\"b\",\"velero.io/restore-name\":\"r\"}},\"secrets\":["
		    "{\"name\":\"builder-token-zzzzz\"},{\"name\":"
		    "\"extra\"}],\"imagePullSecrets\":[{\"name\":\"reg-b\"},"
		    "{\"name\":\"reg-a\"}]}");
	json_decref(patch);
	json_decref(merged);
	json_decref(cluster);
	json_decref(sa);
	stow_restore_plan_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_namespace_mapping),
	    cmocka_unit_test(test_filters),
	    cmocka_unit_test(test_validation),
	    cmocka_unit_test(test_strip),
	    cmocka_unit_test(test_service),
	    cmocka_unit_test(test_pod_job_pvc),
	    cmocka_unit_test(test_pv_decide),
	    cmocka_unit_test(test_merge_patch),
	    cmocka_unit_test(test_service_account),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
