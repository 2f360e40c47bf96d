/* stowage: one multi-call binary. Dispatch lives in src/cli/. */
#include <malloc.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
	/* Allocations of 1 MiB and more (chunk, pack and compression
	 * buffers, the KDF's 16-32 MiB) get their own mappings and go back
	 * to the kernel when freed. glibc's default threshold adapts
	 * upwards to the largest block freed so far: after the KDF freed its
	 * memory, every later chunk buffer came from the heap and stayed
	 * resident after use, 15 MiB more peak RSS on the 2 GiB benchmark
	 * for no speed (the buffers that matter are pooled). Fixing the
	 * threshold also fixes the trim threshold at twice it. */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	return stow_cli_main(argc, argv);
}
