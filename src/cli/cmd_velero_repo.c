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

static const char *const repo_headers[] = {"NAME", "STATUS",
					   "LAST MAINTENANCE"};
static const stow_vcli_list_kind repo_kind = {"backuprepositories",
					      "BackupRepositoryList",
					      repo_headers,
					      3,
					      repo_row,
					      false};

static int repo_get(stow_cli *cli, int argc, char **argv)
{
	return stow_vcli_get_cmd(cli, argc, argv, &repo_kind);
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
