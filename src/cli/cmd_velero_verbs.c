/* Velero's verb-first aliases: `velero get backups`, `velero create
 * backup NAME ...`, `velero describe schedules`, `velero delete restore
 * NAME` run the same commands as `velero backup get` and friends. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd_velero.h"

/* A noun as typed (singular or plural) -> its command group. */
static const stow_cli_cmd *noun_group(const char *noun)
{
	static const struct {
		const char *singular;
		const stow_cli_cmd *group;
	} nouns[] = {
	    {"backup", &stow_cli_backup_cmd},
	    {"restore", &stow_cli_restore_cmd},
	    {"schedule", &stow_cli_schedule_cmd},
	    {"backup-location", &stow_cli_backup_location_cmd},
	    {"snapshot-location", &stow_cli_snapshot_location_cmd},
	};
	size_t i, l;

	for (i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++) {
		l = strlen(nouns[i].singular);
		if (strncmp(noun, nouns[i].singular, l) == 0 &&
		    (noun[l] == 0 || (noun[l] == 's' && noun[l + 1] == 0)))
			return nouns[i].group;
	}
	return NULL;
}

/* argv[0] is the verb, argv[1] the noun: run <noun> <verb> with the
 * rest. */
static int verb_first(stow_cli *cli, int argc, char **argv)
{
	const stow_cli_cmd *group, *const *s;
	const char *verb = argv[0];
	size_t l;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
				  strcmp(argv[1], "--help") == 0)) {
			printf("Usage: %s NOUN [arguments] [flags]\n\n"
			       "The same as `%s NOUN %s ...`; NOUN is backup, "
			       "restore, schedule,\nbackup-location or "
			       "snapshot-location "
			       "(singular or plural).\n",
			       cli->path, cli->prog, verb);
			return STOW_EXIT_OK;
		}
		return stow_cli_usage_error(
		    cli,
		    "what to %s? (backups, restores, schedules or "
		    "backup-locations)",
		    verb);
	}
	group = noun_group(argv[1]);
	for (s = group ? group->subs : NULL; s && *s; s++)
		if (strcmp((*s)->name, verb) == 0)
			break;
	if (s == NULL || *s == NULL)
		return stow_cli_usage_error(cli, "cannot %s '%s'", verb,
					    argv[1]);
	cli->cmd = *s;
	l = strlen(cli->path);
	snprintf(cli->path + l, sizeof(cli->path) - l, " %s", argv[1]);
	return (*s)->run(cli, argc - 1, argv + 1);
}

/* clang-format off */
const stow_cli_cmd stow_cli_get_cmd = {
	.name = "get",
	.args = "NOUN [NAME...] [flags]",
	.summary = "same as <noun> get (backups, restores, schedules, backup-locations)",
	.run = verb_first,
};

const stow_cli_cmd stow_cli_create_cmd = {
	.name = "create",
	.args = "NOUN [NAME] [flags]",
	.summary = "same as <noun> create (backup, restore, schedule, backup-location)",
	.run = verb_first,
};

const stow_cli_cmd stow_cli_describe_cmd = {
	.name = "describe",
	.args = "NOUN [NAME...] [flags]",
	.summary = "same as <noun> describe (backups, restores, schedules)",
	.run = verb_first,
};

const stow_cli_cmd stow_cli_delete_cmd = {
	.name = "delete",
	.args = "NOUN [NAME...] [flags]",
	.summary = "same as <noun> delete (backup, restore, schedule, backup-location)",
	.run = verb_first,
};
/* clang-format on */
