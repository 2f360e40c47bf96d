/* `client config get|set`: Velero's client configuration,
 * $HOME/.config/velero/config.json, whose "namespace" the other commands
 * use when neither -n nor $VELERO_NAMESPACE is given. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmd_velero.h"
#include "util/err.h"

static const char *const config_keys[] = {"namespace", "features", "colorized",
					  "cacert"};

static int config_path(stow_cli *cli, char *dir, size_t dn, char *file,
		       size_t fn)
{
	const char *home = getenv("HOME");

	if (home == NULL || *home == 0) {
		fprintf(stderr, "%s: $HOME is not set\n", cli->prog);
		return STOW_EXIT_ERROR;
	}
	snprintf(dir, dn, "%s/.config/velero", home);
	snprintf(file, fn, "%s/config.json", dir);
	return 0;
}

/* The file's object (an empty one when there is no file). */
static int load_config(const char *file, json_t **out)
{
	json_error_t err;

	if (access(file, F_OK) != 0) {
		*out = json_object();
		return 0;
	}
	*out = json_load_file(file, 0, &err);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		fprintf(stderr,
			"An error occurred: %s: not a JSON object (%s)\n", file,
			err.text);
		return STOW_EXIT_ERROR;
	}
	return 0;
}

static int client_config_get(stow_cli *cli, int argc, char **argv)
{
	char dir[4096], file[4200];
	const char *keys[64], *key;
	json_t *cfg = NULL, *val;
	size_t nk = 0, i;
	int c, ex = 0;

	stow_cli_opts_begin(cli, "", NULL);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
	}
	if ((ex = config_path(cli, dir, sizeof(dir), file, sizeof(file))) ||
	    (ex = load_config(file, &cfg)))
		return ex;
	if (optind < argc) {
		for (; optind < argc; optind++) {
			val = json_object_get(cfg, argv[optind]);
			printf("%s: %s\n", argv[optind],
			       json_is_string(val) ? json_string_value(val)
						   : "<NOT SET>");
		}
	} else {
		json_object_foreach(cfg, key, val)
		{
			if (nk < 64 && json_is_string(val))
				keys[nk++] = key;
		}
		for (i = 1; i < nk; i++) /* few keys: insertion sort */
			for (size_t j = i;
			     j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
				const char *t = keys[j];

				keys[j] = keys[j - 1];
				keys[j - 1] = t;
			}
		for (i = 0; i < nk; i++)
			printf(
			    "%s: %s\n", keys[i],
			    json_string_value(json_object_get(cfg, keys[i])));
	}
	json_decref(cfg);
	return 0;
}

static int client_config_set(stow_cli *cli, int argc, char **argv)
{
	char dir[4096], file[4200], tmp[4300];
	json_t *cfg = NULL;
	int c, ex = 0, a;
	size_t k;

	stow_cli_opts_begin(cli, "", NULL);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, -1)))
		return ex;
	if ((ex = config_path(cli, dir, sizeof(dir), file, sizeof(file))) ||
	    (ex = load_config(file, &cfg)))
		return ex;
	for (a = optind; a < argc; a++) {
		const char *eq = strchr(argv[a], '=');
		char key[64];
		bool known = false;

		if (eq == NULL || eq == argv[a] ||
		    (size_t)(eq - argv[a]) >= sizeof(key)) {
			json_decref(cfg);
			return stow_cli_usage_error(
			    cli, "'%s' is not KEY=VALUE", argv[a]);
		}
		memcpy(key, argv[a], (size_t)(eq - argv[a]));
		key[eq - argv[a]] = 0;
		for (k = 0; k < sizeof(config_keys) / sizeof(config_keys[0]);
		     k++)
			known |= strcmp(key, config_keys[k]) == 0;
		if (!known) {
			json_decref(cfg);
			return stow_cli_usage_error(
			    cli,
			    "unknown key '%s' (namespace, features, colorized "
			    "or cacert)",
			    key);
		}
		/* An empty value removes the key, as Velero. */
		if (eq[1] == 0)
			json_object_del(cfg, key);
		else
			json_object_set_new(cfg, key, json_string(eq + 1));
	}
	snprintf(tmp, sizeof(tmp), "%s", dir);
	*strrchr(tmp, '/') = 0; /* $HOME/.config may not exist yet */
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		tmp[0] = 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    json_dump_file(cfg, tmp, JSON_INDENT(2) | JSON_SORT_KEYS) < 0 ||
	    rename(tmp, file) < 0) {
		fprintf(stderr, "An error occurred: writing %s: %s\n", file,
			strerror(errno));
		unlink(tmp);
		json_decref(cfg);
		return STOW_EXIT_ERROR;
	}
	json_decref(cfg);
	return 0;
}

/* clang-format off */
static const stow_cli_cmd client_config_get_cmd = {
	.name = "get",
	.args = "[KEY...]",
	.summary = "print the client configuration",
	.about = "Print KEY: VALUE for the given keys (<NOT SET> when unset), or every\n"
		 "key set, from $HOME/.config/velero/config.json.\n",
	.example = "  velero client config get namespace\n",
	.run = client_config_get,
};

static const stow_cli_cmd client_config_set_cmd = {
	.name = "set",
	.args = "KEY=VALUE...",
	.summary = "set client configuration values",
	.about = "Set keys of $HOME/.config/velero/config.json: namespace (the default\n"
		 "Velero namespace of every command), features, colorized, cacert. An\n"
		 "empty value removes the key.\n",
	.example = "  velero client config set namespace=backups\n",
	.run = client_config_set,
};

static const stow_cli_cmd *const client_config_subs[] = {
	&client_config_get_cmd, &client_config_set_cmd, NULL,
};

static const stow_cli_cmd client_config_cmd = {
	.name = "config",
	.summary = "get and set the client configuration",
	.about = "Velero's client configuration file, $HOME/.config/velero/config.json.\n",
	.subs = client_config_subs,
};

static const stow_cli_cmd *const client_subs[] = {&client_config_cmd, NULL};

const stow_cli_cmd stow_cli_client_cmd = {
	.name = "client",
	.summary = "Velero client settings (config get, config set)",
	.about = "Velero's `client` commands.\n",
	.subs = client_subs,
};
/* clang-format on */
