/* stowage: one multi-call binary. Dispatch lives in src/cli/. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return stow_cli_main(argc, argv);
}
