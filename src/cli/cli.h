/* The command-line interface: `stowage <command> ...`. */
#ifndef STOW_CLI_H
#define STOW_CLI_H

/* Exit codes (docs/cli.md). */
enum {
	STOW_EXIT_OK = 0,
	STOW_EXIT_ERROR = 1,
	STOW_EXIT_USAGE = 2,
	STOW_EXIT_PARTIAL = 3,
	STOW_EXIT_AUTH = 4,
	STOW_EXIT_NOTFOUND = 5,
	STOW_EXIT_DAMAGED = 6,
	STOW_EXIT_LOCKED = 7,
	STOW_EXIT_INTERRUPTED = 130,
};

int stow_cli_main(int argc, char **argv);

#endif
