#include "vault/treewalk.h"

#include <string.h>

#include "util/err.h"

int stow_treewalk_load(stow_vault_ctx *c, stow_buf *buf,
		       const uint8_t id[STOW_ID_LEN], stow_tree *t)
{
	STOW_TRY(stow_repo_read_blob(c, id, buf));
	return stow_tree_decode(t, buf->data, buf->len);
}

int stow_treewalk_path_push(stow_buf *path, const void *name, size_t len)
{
	if (path->len)
		STOW_TRY(stow_buf_append_u8(path, '/'));
	STOW_TRY(stow_buf_append(path, name, len));
	return stow_buf_append_str(path, "");
}

void stow_treewalk_path_cut(stow_buf *path, size_t len)
{
	path->len = len;
	if (path->data)
		path->data[len] = '\0';
}

int stow_treewalk_resolve(stow_vault_ctx *c, stow_buf *buf,
			  const uint8_t root[STOW_ID_LEN], const char *path,
			  stow_tree *t, const stow_node **n, stow_buf *norm,
			  const uint8_t **unreadable)
{
	const char *p = path ? path : "";
	int rc;

	*n = NULL;
	*unreadable = NULL;
	rc = stow_treewalk_load(c, buf, root, t);
	if (rc < 0) {
		*unreadable = root;
		return rc;
	}
	while (*p) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == 0 || (len == 1 && *p == '.')) {
			p += len + (e ? 1 : 0);
			continue;
		}
		if (*n) {
			stow_tree sub = {0};

			if ((*n)->type != STOW_NODE_DIR)
				return stow_err_set(
				    STOW_ENOTFOUND,
				    "no such path in snapshot: "
				    "%s (%s is not a directory)",
				    path, (const char *)norm->data);
			rc = stow_treewalk_load(c, buf, (*n)->subtree, &sub);
			if (rc < 0) {
				*unreadable = (*n)->subtree;
				return rc;
			}
			stow_tree_free(t);
			*t = sub;
		}
		*n = stow_tree_find(t, (const uint8_t *)p, len);
		if (!*n)
			return stow_err_set(STOW_ENOTFOUND,
					    "no such path in snapshot: %s",
					    path);
		STOW_TRY(stow_treewalk_path_push(norm, p, len));
		p += len + (e ? 1 : 0);
	}
	return 0;
}
