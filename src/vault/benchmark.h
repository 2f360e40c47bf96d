/* `stowage vault benchmark`: this machine's single-thread speed for each
 * building block of the backup pipeline, so a user can pick a hash, cipher
 * and compression for their CPU (and we can see what bounds throughput).
 *
 * Lines, each timed for about 0.25 s of this thread's CPU time (the whole
 * run takes a few seconds on an idle machine; a busy one makes it slower
 * but not the numbers lower) on 1 MiB messages, about the average chunk:
 *   hash      hmac-sha256, blake2b-256 (stow_hasher_digest), random data
 *   seal/open aes-256-gcm, chacha20-poly1305 (stow_aead), random data
 *   chunk     the default chunker over random data
 *   compress  auto on random data: what the incompressibility probe costs
 *             (it stores such data raw)
 *   compress  zstd:1, zstd:3, lz4, gzip:6 on synthetic log lines, with the
 *             ratio (raw / compressed) and the decompression speed
 * MB/s are 10^6 bytes of input (plaintext, raw data) per second.
 *
 * Output goes to `out`: an aligned table, or with json = 1 one JSON object
 * per line, e.g.
 *   {"op":"compress","alg":"zstd:1","data":"log","mb_per_s":412.3,
 *    "ratio":3.912,"decompress_mb_per_s":1520.0}
 * where "data" is "random" or "log", and "ratio" and "decompress_mb_per_s"
 * appear only on the compress lines for log data. An algorithm this
 * libcrypto lacks is reported as unsupported ("n/a" in the table,
 * "unsupported":true in JSON) and the run goes on.
 *
 * Returns 0, STOW_ENOMEM, or the first other error of a building block
 * (lines printed so far stay printed). Single-threaded; uses ~35 MiB. */
#ifndef STOW_VAULT_BENCHMARK_H
#define STOW_VAULT_BENCHMARK_H

#include <stdio.h>

int stow_vault_benchmark(FILE *out, int json);

#endif
