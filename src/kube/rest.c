/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The verbs: URL paths of resources and objects, and get, list (one page
 * or every page), create, update, patch and delete over stow_kube_request.
 * Names and namespaces are checked before they go into a path, and query
 * values are percent-encoded, so no caller input can change the URL's
 * shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_internal.h"
#include "util/err.h"

#define LIST_EACH_LIMIT 500

#define _cleanup_json_ _cleanup_(json_decrefp)

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static int append_escaped(stow_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p)) {
			STOW_TRY(stow_buf_append_u8(b, *p));
		} else {
			uint8_t e[3] = {'%', (uint8_t)hex[*p >> 4],
					(uint8_t)hex[*p & 15]};

			STOW_TRY(stow_buf_append(b, e, 3));
		}
	}
	/* Keep the buffer a C string. */
	STOW_TRY(stow_buf_append_u8(b, 0));
	b->len--;
	return 0;
}

/* A name or namespace must be one path segment. */
static int check_segment(const char *what, const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || strchr(s, '/') ||
	    strlen(s) > 253)
		return stow_err_set(
		    STOW_EINVAL, "%s \"%.64s\" is not a valid name", what, s);
	return 0;
}

int stow_kube_path(stow_buf *out, const stow_kube_resource *r, const char *ns,
		   const char *name, const char *sub)
{
	if (!out || !r || !r->version || !r->resource || !r->group)
		return stow_err_set(STOW_EINVAL, "stow_kube_path: missing "
						 "argument");
	if (*r->group)
		STOW_TRY(
		    stow_buf_printf(out, "/apis/%s/%s", r->group, r->version));
	else
		STOW_TRY(stow_buf_printf(out, "/api/%s", r->version));
	if (r->namespaced && ns) {
		STOW_TRY(check_segment("namespace", ns));
		STOW_TRY(stow_buf_append_str(out, "/namespaces/"));
		STOW_TRY(append_escaped(out, ns));
	}
	STOW_TRY(stow_buf_printf(out, "/%s", r->resource));
	if (name) {
		STOW_TRY(check_segment("name", name));
		STOW_TRY(stow_buf_append_str(out, "/"));
		STOW_TRY(append_escaped(out, name));
	}
	if (sub) {
		STOW_TRY(check_segment("subresource", sub));
		STOW_TRY(stow_buf_append_str(out, "/"));
		STOW_TRY(append_escaped(out, sub));
	}
	return 0;
}

static int add_query(stow_buf *b, const char *key, const char *value)
{
	if (!value)
		return 0;
	STOW_TRY(stow_buf_printf(
	    b, "%c%s=", strchr((char *)b->data, '?') ? '&' : '?', key));
	return append_escaped(b, value);
}

static int list_path(stow_buf *b, const stow_kube_resource *r, const char *ns,
		     const stow_kube_list_opts *o, const char *cont, long limit)
{
	char lim[32];

	STOW_TRY(stow_kube_path(b, r, ns, NULL, NULL));
	if (!o)
		return 0;
	STOW_TRY(add_query(b, "labelSelector",
			   o->label_selector && *o->label_selector
			       ? o->label_selector
			       : NULL));
	STOW_TRY(add_query(b, "fieldSelector",
			   o->field_selector && *o->field_selector
			       ? o->field_selector
			       : NULL));
	if (limit > 0) {
		snprintf(lim, sizeof(lim), "%ld", limit);
		STOW_TRY(add_query(b, "limit", lim));
	}
	STOW_TRY(add_query(b, "continue", cont && *cont ? cont : NULL));
	/* The server refuses a resourceVersion with a continue token: the
	 * token carries it. */
	if (!(cont && *cont))
		STOW_TRY(add_query(b, "resourceVersion",
				   o->resource_version && *o->resource_version
				       ? o->resource_version
				       : NULL));
	return 0;
}

/* stow_kube_request for the verbs: on failure no reply is handed out (the
 * raw call gives the Status object; the code and message say it all). */
static int call(stow_kube *k, const char *method, const char *path,
		const char *ctype, const char *body, size_t len, json_t **out)
{
	json_t *reply = NULL;
	int rc =
	    stow_kube_request(k, method, path, ctype, body, len, &reply, NULL);

	if (rc < 0) {
		json_decref(reply);
		reply = NULL;
	}
	if (out)
		*out = reply;
	else
		json_decref(reply);
	return rc;
}

static int bad_args(const char *fn)
{
	return stow_err_set(STOW_EINVAL, "%s: missing argument", fn);
}

int stow_kube_get(stow_kube *k, const stow_kube_resource *r, const char *ns,
		  const char *name, json_t **out)
{
	_cleanup_(stow_buf_freep) stow_buf p = {0};

	if (!k || !r || !name || !out)
		return bad_args("stow_kube_get");
	*out = NULL;
	if (r->namespaced && !ns)
		return stow_err_set(STOW_EINVAL,
				    "get %s %.64s: a namespace is needed",
				    r->resource, name);
	stow_buf_init(&p, 0);
	STOW_TRY(stow_kube_path(&p, r, ns, name, NULL));
	return call(k, "GET", (char *)p.data, NULL, NULL, 0, out);
}

/* List items come without apiVersion and kind; set them as client-go's
 * unstructured decoding does, so each item stands on its own. */
static int fill_items(const stow_kube_resource *r, json_t *list)
{
	json_t *items = json_object_get(list, "items"), *it;
	char av[300];
	size_t i;

	if (!json_is_array(items))
		return stow_err_set(STOW_ECORRUPT,
				    "list %s: the reply has no items array",
				    r->resource);
	snprintf(av, sizeof(av), "%s%s%s", r->group, *r->group ? "/" : "",
		 r->version);
	json_array_foreach(items, i, it)
	{
		if (!json_is_object(it))
			return stow_err_set(STOW_ECORRUPT,
					    "list %s: item %zu is not an "
					    "object",
					    r->resource, i);
		if (!json_object_get(it, "apiVersion"))
			json_object_set_new(it, "apiVersion", json_string(av));
		if (!json_object_get(it, "kind"))
			json_object_set_new(it, "kind", json_string(r->kind));
	}
	return 0;
}

static int list_page(stow_kube *k, const stow_kube_resource *r, const char *ns,
		     const stow_kube_list_opts *o, const char *cont, long limit,
		     json_t **out)
{
	_cleanup_(stow_buf_freep) stow_buf p = {0};
	json_t *j = NULL;
	int rc;

	stow_buf_init(&p, 0);
	STOW_TRY(list_path(&p, r, ns, o, cont, limit));
	STOW_TRY(call(k, "GET", (char *)p.data, NULL, NULL, 0, &j));
	if (!json_is_object(j)) {
		json_decref(j);
		return stow_err_set(STOW_ECORRUPT,
				    "GET %s: the reply is not a list",
				    (char *)p.data);
	}
	rc = fill_items(r, j);
	if (rc < 0) {
		json_decref(j);
		return rc;
	}
	*out = j;
	return 0;
}

int stow_kube_list(stow_kube *k, const stow_kube_resource *r, const char *ns,
		   const stow_kube_list_opts *opts, json_t **out)
{
	if (!k || !r || !out)
		return bad_args("stow_kube_list");
	*out = NULL;
	return list_page(k, r, ns, opts, opts ? opts->continue_token : NULL,
			 opts ? opts->limit : 0, out);
}

int stow_kube_list_each(stow_kube *k, const stow_kube_resource *r,
			const char *ns, const stow_kube_list_opts *opts,
			int (*each)(void *ctx, json_t *item), void *ctx,
			char **out_resource_version)
{
	_cleanup_free_ char *cont = NULL, *rv = NULL;
	long limit = opts && opts->limit > 0 ? opts->limit : LIST_EACH_LIMIT;

	if (!k || !r || !each)
		return bad_args("stow_kube_list_each");
	if (out_resource_version)
		*out_resource_version = NULL;
	if (opts && opts->continue_token &&
	    !(cont = strdup(opts->continue_token)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	do {
		_cleanup_json_ json_t *page = NULL;
		json_t *items, *it, *meta;
		const char *c, *v;
		size_t i;

		STOW_TRY(list_page(k, r, ns, opts, cont, limit, &page));
		items = json_object_get(page, "items");
		json_array_foreach(items, i, it)
		{
			int rc = each(ctx, it);

			if (rc != 0)
				return rc;
		}
		meta = json_object_get(page, "metadata");
		v = json_string_value(json_object_get(meta, "resourceVersion"));
		if (v && !rv && !(rv = strdup(v)))
			return stow_err_set(STOW_ENOMEM, "out of memory");
		c = json_string_value(json_object_get(meta, "continue"));
		free(cont);
		cont = NULL;
		if (c && *c && !(cont = strdup(c)))
			return stow_err_set(STOW_ENOMEM, "out of memory");
	} while (cont);
	if (out_resource_version)
		*out_resource_version = STOW_TAKE_PTR(rv);
	return 0;
}

static const char *meta_str(json_t *obj, const char *key)
{
	return json_string_value(
	    json_object_get(json_object_get(obj, "metadata"), key));
}

/* The namespace to write an object in: the argument, else the object's. */
static int object_ns(const stow_kube_resource *r, const char *ns, json_t *obj,
		     const char *verb, const char **out)
{
	const char *own = meta_str(obj, "namespace");

	*out = NULL;
	if (!r->namespaced)
		return 0;
	if (ns && own && *own && strcmp(ns, own) != 0)
		return stow_err_set(STOW_EINVAL,
				    "%s %s: the object's namespace \"%.64s\" "
				    "differs from \"%.64s\"",
				    verb, r->resource, own, ns);
	*out = ns ? ns : (own && *own ? own : NULL);
	if (!*out)
		return stow_err_set(STOW_EINVAL, "%s %s: a namespace is needed",
				    verb, r->resource);
	return 0;
}

static int send_object(stow_kube *k, const char *method, const char *path,
		       const char *ctype, json_t *obj, json_t **out)
{
	_cleanup_free_ char *body = json_dumps(obj, JSON_COMPACT);

	if (!body)
		return stow_err_set(STOW_ENOMEM, "cannot encode the object");
	return call(k, method, path, ctype, body, strlen(body), out);
}

static void drop_out(json_t **out, json_t **tmp)
{
	if (out)
		*out = *tmp;
	else
		json_decref(*tmp);
	*tmp = NULL;
}

int stow_kube_create(stow_kube *k, const stow_kube_resource *r, const char *ns,
		     json_t *obj, json_t **out)
{
	_cleanup_(stow_buf_freep) stow_buf p = {0};
	json_t *reply = NULL;
	const char *where;

	if (out)
		*out = NULL;
	if (!k || !r || !json_is_object(obj))
		return bad_args("stow_kube_create");
	STOW_TRY(object_ns(r, ns, obj, "create", &where));
	stow_buf_init(&p, 0);
	STOW_TRY(stow_kube_path(&p, r, where, NULL, NULL));
	STOW_TRY(send_object(k, "POST", (char *)p.data, "application/json", obj,
			     &reply));
	drop_out(out, &reply);
	return 0;
}

int stow_kube_update(stow_kube *k, const stow_kube_resource *r, const char *ns,
		     json_t *obj, bool status, json_t **out)
{
	_cleanup_(stow_buf_freep) stow_buf p = {0};
	json_t *reply = NULL;
	const char *where, *name;

	if (out)
		*out = NULL;
	if (!k || !r || !json_is_object(obj))
		return bad_args("stow_kube_update");
	name = meta_str(obj, "name");
	if (!name || !*name)
		return stow_err_set(STOW_EINVAL,
				    "update %s: the object has no "
				    "metadata.name",
				    r->resource);
	STOW_TRY(object_ns(r, ns, obj, "update", &where));
	stow_buf_init(&p, 0);
	STOW_TRY(stow_kube_path(&p, r, where, name, status ? "status" : NULL));
	STOW_TRY(send_object(k, "PUT", (char *)p.data, "application/json", obj,
			     &reply));
	drop_out(out, &reply);
	return 0;
}

int stow_kube_patch(stow_kube *k, const stow_kube_resource *r, const char *ns,
		    const char *name, stow_kube_patch_type type,
		    const char *patch, bool status, json_t **out)
{
	_cleanup_(stow_buf_freep) stow_buf p = {0};
	json_t *reply = NULL;
	const char *ctype;

	if (out)
		*out = NULL;
	if (!k || !r || !name || !patch)
		return bad_args("stow_kube_patch");
	switch (type) {
	case STOW_KUBE_PATCH_MERGE:
		ctype = "application/merge-patch+json";
		break;
	case STOW_KUBE_PATCH_JSON: ctype = "application/json-patch+json"; break;
	case STOW_KUBE_PATCH_STRATEGIC:
		ctype = "application/strategic-merge-patch+json";
		break;
	default:
		return stow_err_set(STOW_EINVAL, "patch: unknown patch type %d",
				    (int)type);
	}
	if (r->namespaced && !ns)
		return stow_err_set(STOW_EINVAL,
				    "patch %s %.64s: a namespace is needed",
				    r->resource, name);
	stow_buf_init(&p, 0);
	STOW_TRY(stow_kube_path(&p, r, ns, name, status ? "status" : NULL));
	STOW_TRY(call(k, "PATCH", (char *)p.data, ctype, patch, strlen(patch),
		      &reply));
	drop_out(out, &reply);
	return 0;
}

int stow_kube_delete(stow_kube *k, const stow_kube_resource *r, const char *ns,
		     const char *name, const char *propagation, json_t **out)
{
	_cleanup_(stow_buf_freep) stow_buf p = {0};
	_cleanup_json_ json_t *opts = NULL;
	json_t *reply = NULL;

	if (out)
		*out = NULL;
	if (!k || !r || !name)
		return bad_args("stow_kube_delete");
	if (r->namespaced && !ns)
		return stow_err_set(STOW_EINVAL,
				    "delete %s %.64s: a namespace is needed",
				    r->resource, name);
	if (propagation && strcmp(propagation, "Orphan") != 0 &&
	    strcmp(propagation, "Background") != 0 &&
	    strcmp(propagation, "Foreground") != 0)
		return stow_err_set(STOW_EINVAL,
				    "delete: propagation policy \"%.32s\" is "
				    "not Orphan, Background or Foreground",
				    propagation);
	stow_buf_init(&p, 0);
	STOW_TRY(stow_kube_path(&p, r, ns, name, NULL));
	/* Both as a DeleteOptions body (what kubectl sends) and as a query
	 * parameter: the server reads the body when there is one. */
	STOW_TRY(add_query(&p, "propagationPolicy", propagation));
	opts =
	    json_pack("{s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
	if (!opts)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (propagation)
		json_object_set_new(opts, "propagationPolicy",
				    json_string(propagation));
	STOW_TRY(send_object(k, "DELETE", (char *)p.data, "application/json",
			     opts, &reply));
	drop_out(out, &reply);
	return 0;
}
