/* The metrics HTTP endpoint on libmicrohttpd (metrics_http.h). We open the
 * listening socket ourselves and hand it to libmicrohttpd: that is how a
 * bad or busy address gets a precise error (errno, resolver message)
 * instead of MHD_start_daemon's bare NULL. */
#include "velero/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/err.h"

#define RENDER_MAX ((size_t)64 << 20) /* a runaway registry, not a DoS */
#define MAX_CONNECTIONS 32u
#define IDLE_TIMEOUT_S 10u

struct stow_metrics_http {
	struct MHD_Daemon *d;
	stow_metrics *reg;
	int port;
	char bound[80];
};

/* --- address ------------------------------------------------------------- */

/* Split "host:port" / "[v6]:port" / ":port" into host (may be "") and
 * port. */
static int split_address(const char *addr, char *host, size_t hostsz,
			 char port[8])
{
	const char *colon, *h = addr, *hend;
	char *end;
	unsigned long p;
	size_t n;

	if (addr[0] == '[') {
		hend = strchr(addr, ']');
		if (!hend || hend[1] != ':')
			return stow_err_set(STOW_EINVAL,
					    "metrics address '%s': an IPv6 "
					    "address is written [addr]:port",
					    addr);
		h = addr + 1;
		colon = hend + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return stow_err_set(STOW_EINVAL,
					    "metrics address '%s': missing "
					    "port (like :8085 or "
					    "127.0.0.1:8085)",
					    addr);
		hend = colon;
		if (memchr(addr, ':', (size_t)(colon - addr)))
			return stow_err_set(STOW_EINVAL,
					    "metrics address '%s': an IPv6 "
					    "address is written [addr]:port",
					    addr);
	}
	n = (size_t)(hend - h);
	if (n >= hostsz)
		return stow_err_set(
		    STOW_EINVAL, "metrics address '%s': host too long", addr);
	memcpy(host, h, n);
	host[n] = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || p > 65535 ||
	    strlen(colon + 1) > 5)
		return stow_err_set(STOW_EINVAL,
				    "metrics address '%s': port '%s' is not a "
				    "number from 0 to 65535",
				    addr, colon + 1);
	snprintf(port, 8, "%lu", p);
	return 0;
}

static int listen_on(const struct sockaddr *sa, socklen_t len, bool dual)
{
	int one = 1, zero = 0, saved;
	int fd = socket(sa->sa_family,
			SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	/* A restarted server rebinds at once despite TIME_WAIT. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
				 dual ? &zero : &one, sizeof(int));
	if (bind(fd, sa, len) == 0 && listen(fd, 64) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static int open_listener(const char *addr, int *out)
{
	char host[256], port[8];
	struct addrinfo hints = {0}, *ai = NULL;
	int fd = -1, err = 0, gai;

	STOW_TRY(split_address(addr, host, sizeof(host), port));
	if (!*host) {
		/* ":port": every interface, as Go listens for ":8085". */
		struct sockaddr_in6 any6 = {.sin6_family = AF_INET6,
					    .sin6_addr = IN6ADDR_ANY_INIT};
		struct sockaddr_in any4 = {.sin_family = AF_INET,
					   .sin_addr.s_addr =
					       htonl(INADDR_ANY)};
		uint16_t p = (uint16_t)strtoul(port, NULL, 10);

		any6.sin6_port = htons(p);
		any4.sin_port = htons(p);
		fd = listen_on((struct sockaddr *)&any6, sizeof(any6), true);
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
			fd = listen_on((struct sockaddr *)&any4, sizeof(any4),
				       false);
		err = errno;
	} else {
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_NUMERICSERV;
		gai = getaddrinfo(host, port, &hints, &ai);
		if (gai != 0)
			return stow_err_set(STOW_EINVAL,
					    "metrics address '%s': cannot "
					    "resolve '%s': %s",
					    addr, host, gai_strerror(gai));
		for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
			fd = listen_on(a->ai_addr, a->ai_addrlen, false);
			if (fd < 0)
				err = errno;
		}
		freeaddrinfo(ai);
	}
	if (fd < 0) {
		errno = err;
		return stow_err_set(STOW_EIO,
				    "metrics address '%s': cannot listen: %s",
				    addr, strerror(err));
	}
	*out = fd;
	return 0;
}

static void describe_bound(stow_metrics_http *h, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		h->port = ntohs(s6->sin6_port);
		snprintf(h->bound, sizeof(h->bound), "[%s]:%d", ip, h->port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		h->port = ntohs(s4->sin_port);
		snprintf(h->bound, sizeof(h->bound), "%s:%d", ip, h->port);
	}
}

/* --- requests ------------------------------------------------------------ */

static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned status,
				    const char *body, bool allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_metrics(stow_metrics_http *h,
				     struct MHD_Connection *c)
{
	stow_buf b;
	struct MHD_Response *r;
	enum MHD_Result ret;
	uint8_t *data;
	size_t len;

	stow_buf_init(&b, RENDER_MAX);
	if (stow_metrics_render(h->reg, &b) < 0) {
		stow_buf_free(&b);
		return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "cannot render the metrics\n", false);
	}
	data = stow_buf_steal(&b, &len);
	/* MHD frees the rendered text with free() when it is sent. */
	r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(data);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				STOW_METRICS_CONTENT_TYPE);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	stow_metrics_http *h = cls;
	bool metrics = strcmp(url, "/metrics") == 0;
	bool healthz = strcmp(url, "/healthz") == 0;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	/* Answered on the first call, with the headers: no route reads a
	 * body, and one sent anyway is discarded by MHD. */
	if (!metrics && !healthz)
		return reply_static(c, MHD_HTTP_NOT_FOUND,
				    "404 page not found\n", false);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_static(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "method not allowed\n", true);
	if (healthz)
		return reply_static(c, MHD_HTTP_OK, "ok", false);
	return reply_metrics(h, c);
}

/* --- lifecycle ----------------------------------------------------------- */

int stow_metrics_http_start(stow_metrics_http **out, const char *address,
			    stow_metrics *reg)
{
	stow_metrics_http *h;
	int fd, rc;

	*out = NULL;
	if (!address || !*address || !reg)
		return stow_err_set(STOW_EINVAL, "no metrics address");
	h = calloc(1, sizeof(*h));
	if (!h)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	h->reg = reg;
	rc = open_listener(address, &fd);
	if (rc < 0) {
		free(h);
		return rc;
	}
	describe_bound(h, fd);
	/* MHD owns fd from here and closes it in MHD_stop_daemon. */
	h->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL,
				on_request, h, MHD_OPTION_LISTEN_SOCKET,
				(MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT,
				MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
				IDLE_TIMEOUT_S, MHD_OPTION_END);
	if (!h->d) {
		/* Not closed here: MHD may already have closed the socket it
		 * was given, and a double close could hit another thread's
		 * new descriptor. At worst one socket leaks on a failure
		 * that only a broken MHD build gives. */
		free(h);
		return stow_err_set(STOW_EIO,
				    "metrics address '%s': cannot start the "
				    "HTTP server",
				    address);
	}
	*out = h;
	return 0;
}

void stow_metrics_http_stop(stow_metrics_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}

const char *stow_metrics_http_bound(const stow_metrics_http *h)
{
	return h ? h->bound : "";
}

int stow_metrics_http_port(const stow_metrics_http *h)
{
	return h ? h->port : 0;
}
