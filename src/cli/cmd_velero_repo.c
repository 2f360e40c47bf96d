/* `repo get`: Velero's BackupRepository listing (pkg/cmd/cli/repo). */
#include <stdio.h>
#include <string.h>

#include "cli/cmd_velero.h"

static void repo_row(json_t *rows, const json_t *r)
{
	const char *phase = stow_vcli_str(r, "status.phase");
	char last[64];
	const char *cells[3];

	stow_vcli_format_time(last, sizeof(last),
			      stow_vcli_str(r, "status.lastMaintenanceTime"));
	cells[0] = stow_vcli_str(r, "metadata.name");
	cells[1] = phase && *phase ? phase : "New";
	cells[2] = strcmp(last, "<nil>") ? last : "<never>";
	stow_vcli_table_row(rows, 3, cells);
}

static int repo_get(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"selector", required_argument, NULL, 'l'},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	static const char *const headers[] = {"NAME", "STATUS",
					      "LAST MAINTENANCE"};
	const char *selector = NULL, *out_fmt = NULL;
	const stow_kube_resource *r;
	json_t *items = NULL, *rows;
	int c, ex = 0, fmt;
	stow_vcli v;
	size_t i;

	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:l:o:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		if (c == 'l')
			selector = optarg;
		else if (c == 'o')
			out_fmt = optarg;
	}
	if ((ex = stow_vcli_parse_output(cli, out_fmt, &fmt)))
		return ex;
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, "backuprepositories", &r)) ||
	    (ex = stow_vcli_get_objects(&v, r, argc, argv, selector, &items)))
		goto out;
	if (fmt != STOW_VCLI_TABLE) {
		stow_vcli_print_list("BackupRepositoryList", items, fmt);
		goto out;
	}
	rows = json_array();
	stow_vcli_table_row(rows, 3, headers);
	for (i = 0; i < json_array_size(items); i++)
		repo_row(rows, json_array_get(items, i));
	stow_vcli_print_table(rows);
	json_decref(rows);
out:
	json_decref(items);
	stow_vcli_done(&v);
	return ex;
}

/* clang-format off */
static const stow_cli_cmd repo_get_cmd = {
	.name = "get",
	.args = "[NAME...] [flags]",
	.summary = "list backup repositories",
	.about = "List the BackupRepositories (one per workload namespace, location and\n"
		 "repository type, holding pod volume data): NAME STATUS LAST MAINTENANCE,\n"
		 "or JSON / YAML.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "  -l, --selector SELECTOR   only repositories with matching labels\n"
		   "  -o, --output FORMAT       table (default), json or yaml\n",
	.example = "  velero repo get\n",
	.run = repo_get,
};

static const stow_cli_cmd *const repo_subs[] = {&repo_get_cmd, NULL};

const stow_cli_cmd stow_cli_repo_cmd = {
	.name = "repo",
	.summary = "work with backup repositories (get)",
	.about = "Velero's `repo` commands: velero.io/v1 BackupRepository objects in\n"
		 "the Velero namespace. Maintenance runs on the server's schedule\n"
		 "(maintenanceFrequency); there is no `repo maintenance` command, as in\n"
		 "Velero.\n",
	.subs = repo_subs,
};
/* clang-format on */
