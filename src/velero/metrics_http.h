/* The HTTP endpoint of the metrics (libmicrohttpd): `GET /metrics` renders
 * a registry (util/metrics.h) in the Prometheus text format, `GET
 * /healthz` answers 200 "ok"; HEAD works on both; other paths are 404,
 * other methods 405.
 *
 * Address syntax, as Go's net.Listen("tcp", addr) that Velero's
 * --metrics-address goes through:
 *   ":8085"            every interface (IPv6 dual-stack, else IPv4)
 *   "0.0.0.0:8085"     every IPv4 interface
 *   "127.0.0.1:0"      loopback, a port the kernel picks
 *   "[::1]:8085"       IPv6 literals in brackets
 *   "localhost:8085"   names resolved (the first address that binds)
 * The port is a decimal number 0-65535.
 *
 * Threading: the endpoint answers on its own thread (one polling thread,
 * at most 32 connections, 10 s idle timeout); the registry locks itself.
 * Start and stop from one thread. */
#ifndef STOW_VELERO_METRICS_HTTP_H
#define STOW_VELERO_METRICS_HTTP_H

#include "util/metrics.h"

typedef struct stow_metrics_http stow_metrics_http;

/* Listen on `address` and serve `reg` (borrowed: it must outlive the
 * endpoint). STOW_EINVAL for an address that does not parse or resolve,
 * STOW_EIO when it cannot be bound or listened on (in use, no
 * permission); the message names the address and the reason. */
int stow_metrics_http_start(stow_metrics_http **out, const char *address,
			    stow_metrics *reg);
/* Stop answering, close the socket and free. Accepts NULL. */
void stow_metrics_http_stop(stow_metrics_http *h);
/* The address actually bound, "127.0.0.1:43817" or "[::]:8085" (borrowed;
 * shows the port the kernel picked for port 0). */
const char *stow_metrics_http_bound(const stow_metrics_http *h);
/* Its port. */
int stow_metrics_http_port(const stow_metrics_http *h);

#endif
