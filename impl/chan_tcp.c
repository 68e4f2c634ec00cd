/*
 * tcp: a TCP connection over loopback (127.0.0.1, or ::1 with opts->ipv6).
 * Duplex: each end sends and receives.
 *
 * Sockets are non-blocking and close-on-exec from the start, and both ends
 * set TCP_NODELAY: a message's last frame goes out at once instead of
 * waiting for the peer's acknowledgement. Connecting is non-blocking too,
 * bounded by the caller's timeout (poll for writability, then SO_ERROR).
 * A stream socket has no atomic-write size to respect, so a message travels
 * as one frame up to the message limit.
 *
 * Addresses: "tcp:HOST:PORT", HOST a numeric IPv4 address, "[IPv6]" in
 * brackets, or "localhost" (127.0.0.1, or ::1 with opts->ipv6). Listening
 * on port 0 binds a free port, which ipc_listener_address then shows.
 */
#include "channel_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"

/* A pair connects over loopback, which completes at once; the bound only
 * keeps a broken network stack from hanging the caller. */
#define TCP_PAIR_TIMEOUT_MS 10000
#define TCP_BACKLOG 16
#define TCP_SOCK_FLAGS (SOCK_CLOEXEC | SOCK_NONBLOCK)

extern const struct ipc_backend ipc_backend_tcp;

union tcp_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

static socklen_t addr_len(const union tcp_addr *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof a->in6 : sizeof a->in4;
}

static void loopback(union tcp_addr *a, int ipv6, uint16_t port)
{
	memset(a, 0, sizeof *a);
	if (ipv6) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_addr = in6addr_loopback;
		a->in6.sin6_port = htons(port);
	} else {
		a->in4.sin_family = AF_INET;
		a->in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->in4.sin_port = htons(port);
	}
}

static uint16_t addr_port(const union tcp_addr *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port
						 : a->in4.sin_port);
}

static int same_endpoint(const union tcp_addr *x, const union tcp_addr *y)
{
	if (x->sa.sa_family != y->sa.sa_family || addr_port(x) != addr_port(y))
		return 0;
	if (x->sa.sa_family == AF_INET6)
		return memcmp(&x->in6.sin6_addr, &y->in6.sin6_addr,
			      sizeof x->in6.sin6_addr) == 0;
	return x->in4.sin_addr.s_addr == y->in4.sin_addr.s_addr;
}

/* ---- parsing "HOST:PORT" ------------------------------------------------- */

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int parse_host(const char *host, int ipv6_localhost, int bracketed,
		      uint16_t port, union tcp_addr *a)
{
	if (!bracketed && strcmp(host, "localhost") == 0) {
		loopback(a, ipv6_localhost, port);
		return 0;
	}
	memset(a, 0, sizeof *a);
	if (bracketed) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(port);
		return inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1 ? 0 : -1;
	}
	a->in4.sin_family = AF_INET;
	a->in4.sin_port = htons(port);
	return inet_pton(AF_INET, host, &a->in4.sin_addr) == 1 ? 0 : -1;
}

/* "127.0.0.1:80", "[::1]:80", "localhost:80"; -1 with errno EINVAL if the
 * text is not one of those forms. */
static int parse_address(const char *where, int ipv6_localhost,
			 union tcp_addr *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *end, *colon;
	int bracketed = where[0] == '[';
	uint16_t port;
	size_t n;

	if (bracketed) {
		where++;
		end = strchr(where, ']');
		colon = end != NULL && end[1] == ':' ? end + 1 : NULL;
	} else {
		end = colon = strrchr(where, ':');
	}
	errno = EINVAL;
	if (colon == NULL || (n = (size_t)(end - where)) == 0 || n >= sizeof host)
		return -1;
	memcpy(host, where, n);
	host[n] = '\0';
	if (parse_port(colon + 1, &port) != 0 ||
	    parse_host(host, ipv6_localhost, bracketed, port, a) != 0)
		return -1;
	return 0;
}

static void format_address(const union tcp_addr *a, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, host, sizeof host);
		snprintf(out, len, "tcp:[%s]:%u", host, addr_port(a));
	} else {
		inet_ntop(AF_INET, &a->in4.sin_addr, host, sizeof host);
		snprintf(out, len, "tcp:%s:%u", host, addr_port(a));
	}
}

/* ---- sockets ------------------------------------------------------------- */

static int set_nodelay(int fd)
{
	int one = 1;

	return sys_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A listening socket at *a; a port of 0 in *a becomes the bound one. */
static int listen_socket(union tcp_addr *a)
{
	socklen_t len = sizeof *a;
	int one = 1;
	int fd = sys_socket(a->sa.sa_family, SOCK_STREAM | TCP_SOCK_FLAGS, 0);

	if (fd < 0)
		return -1;
	/* A restarted listener may bind its port while old connections to
	 * it linger in TIME_WAIT. */
	if (sys_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    sys_bind(fd, &a->sa, addr_len(a)) != 0 ||
	    sys_listen(fd, TCP_BACKLOG) != 0 ||
	    sys_getsockname(fd, &a->sa, &len) != 0) {
		ipc_close_quietly(fd);
		return -1;
	}
	return fd;
}

/* Starts connecting fd to *a: 0 when connected or under way, else -1. */
static int start_connect(int fd, const union tcp_addr *a,
			 const struct ipc_deadline *d)
{
	for (;;) {
		if (sys_connect(fd, &a->sa, addr_len(a)) == 0)
			return 0;
		switch (errno) {
		case EINPROGRESS:
		case EALREADY:
		case EISCONN:
			return 0;
		case EINTR: /* asking again reports how far it got */
			continue;
		case EAGAIN: /* no local port free for now */
			if (ipc_deadline_ms(d) == 0)
				return -1;
			ipc_pause_briefly(d);
			continue;
		default:
			return -1;
		}
	}
}

static enum ipc_status connect_status(int err)
{
	errno = err;
	return err == ECONNREFUSED ? IPC_REFUSED : IPC_SYSTEM;
}

/* Waits until the connection is made; its outcome is SO_ERROR. */
static enum ipc_status finish_connect(int fd, const struct ipc_deadline *d)
{
	int err = 0;
	socklen_t len = sizeof err;
	enum ipc_status st = ipc_wait_fd(fd, POLLOUT, d, &err);

	if (st != IPC_OK) {
		errno = st == IPC_TIMEOUT ? ETIMEDOUT : err;
		return st;
	}
	if (sys_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return IPC_SYSTEM;
	return err == 0 ? IPC_OK : connect_status(err);
}

/* A connected socket to *a, TCP_NODELAY set, or -1 with *st and errno. */
static int connect_socket(const union tcp_addr *a, const struct ipc_deadline *d,
			  enum ipc_status *st)
{
	int fd = sys_socket(a->sa.sa_family, SOCK_STREAM | TCP_SOCK_FLAGS, 0);

	*st = IPC_SYSTEM;
	if (fd < 0)
		return -1;
	if (start_connect(fd, a, d) != 0) {
		*st = connect_status(errno);
	} else if ((*st = finish_connect(fd, d)) == IPC_OK) {
		if (set_nodelay(fd) == 0)
			return fd;
		*st = IPC_SYSTEM;
	}
	ipc_close_quietly(fd);
	return -1;
}

/*
 * Accepts one connection on lfd, waiting until d; if want is not NULL,
 * only one from that endpoint (others are closed and the wait goes on).
 * Returns the socket with TCP_NODELAY set, or -1 with *st and *err.
 */
static int accept_socket(int lfd, const union tcp_addr *want,
			 const struct ipc_deadline *d, enum ipc_status *st,
			 int *err)
{
	for (;;) {
		union tcp_addr peer;
		socklen_t len = sizeof peer;
		int fd = sys_accept4(lfd, &peer.sa, &len, TCP_SOCK_FLAGS);

		if (fd >= 0 && want != NULL && !same_endpoint(&peer, want)) {
			sys_close(fd);
			continue;
		}
		if (fd >= 0 && set_nodelay(fd) == 0)
			return fd;
		if (fd >= 0) {
			*err = errno;
			ipc_close_quietly(fd);
			*st = IPC_SYSTEM;
			return -1;
		}
		/* EINTR, or a connection reset before it was taken: look again. */
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN) {
			*err = errno;
			*st = IPC_SYSTEM;
			return -1;
		}
		*st = ipc_wait_fd(lfd, POLLIN, d, err);
		if (*st != IPC_OK)
			return -1;
	}
}

static struct ipc_channel *tcp_channel(const struct ipc_opts *o, int fd)
{
	return ipc_stream_new(&ipc_backend_tcp, o, fd, fd, 1);
}

/* ---- pairs --------------------------------------------------------------- */

/* The two connected sockets of a pair, over a listener that lives only as
 * long as this call; on failure the status, with errno. */
static enum ipc_status connected_sockets(int ipv6, int *cfd, int *sfd)
{
	struct ipc_deadline d = ipc_deadline_in(TCP_PAIR_TIMEOUT_MS);
	union tcp_addr at, local;
	socklen_t len = sizeof local;
	enum ipc_status st = IPC_SYSTEM;
	int lfd, err = 0;

	loopback(&at, ipv6, 0);
	if ((lfd = listen_socket(&at)) < 0)
		return IPC_SYSTEM;
	*cfd = sys_socket(at.sa.sa_family, SOCK_STREAM | TCP_SOCK_FLAGS, 0);
	if (*cfd < 0 || start_connect(*cfd, &at, &d) != 0 ||
	    sys_getsockname(*cfd, &local.sa, &len) != 0) {
		err = errno;
		goto fail;
	}
	/* Anyone on this host may connect to the port too: take only ours. */
	*sfd = accept_socket(lfd, &local, &d, &st, &err);
	if (*sfd < 0)
		goto fail;
	if ((st = finish_connect(*cfd, &d)) != IPC_OK || set_nodelay(*cfd) != 0) {
		err = errno;
		st = st == IPC_OK ? IPC_SYSTEM : st;
		ipc_close_quietly(*sfd);
		goto fail;
	}
	sys_close(lfd);
	return IPC_OK;

fail:
	ipc_close_quietly(*cfd);
	ipc_close_quietly(lfd);
	errno = st == IPC_TIMEOUT ? ETIMEDOUT : err;
	return st;
}

static enum ipc_status tcp_pair(const struct ipc_opts *o,
				struct ipc_channel **a, struct ipc_channel **b)
{
	int cfd = -1, sfd = -1;
	enum ipc_status st = connected_sockets(o != NULL && o->ipv6, &cfd, &sfd);

	if (st != IPC_OK)
		return st;
	return ipc_stream_pair(&ipc_backend_tcp, o, cfd, cfd, sfd, sfd, 1, a, b);
}

/* ---- addresses ----------------------------------------------------------- */

static enum ipc_status tcp_accept(struct ipc_listener *l,
				  struct ipc_channel **out, int timeout_ms)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	enum ipc_status st;
	int fd = accept_socket(l->fd, NULL, &d, &st, &l->err);

	if (fd < 0)
		return st;
	*out = tcp_channel(&l->opts, fd);
	if (*out == NULL) {
		l->err = errno;
		return IPC_SYSTEM;
	}
	return IPC_OK;
}

static enum ipc_status tcp_listen(const char *where, const struct ipc_opts *o,
				  struct ipc_listener **out)
{
	struct ipc_listener *l;
	union tcp_addr at;

	if (parse_address(where, o != NULL && o->ipv6, &at) != 0)
		return IPC_INVALID;
	if ((l = calloc(1, sizeof *l)) == NULL)
		return IPC_SYSTEM;
	l->backend = &ipc_backend_tcp;
	l->opts = o != NULL ? *o : (struct ipc_opts){0};
	l->accept = tcp_accept;
	l->fd = listen_socket(&at);
	if (l->fd < 0) {
		int err = errno;

		free(l);
		errno = err;
		return IPC_SYSTEM;
	}
	format_address(&at, l->address, sizeof l->address);
	*out = l;
	return IPC_OK;
}

static enum ipc_status tcp_connect(const char *where, const struct ipc_opts *o,
				   int timeout_ms, struct ipc_channel **out)
{
	struct ipc_deadline d = ipc_deadline_in(timeout_ms);
	enum ipc_status st;
	union tcp_addr at;
	int fd;

	if (parse_address(where, o != NULL && o->ipv6, &at) != 0 ||
	    addr_port(&at) == 0) {
		errno = EINVAL;
		return IPC_INVALID;
	}
	if ((fd = connect_socket(&at, &d, &st)) < 0)
		return st;
	*out = tcp_channel(o, fd);
	return *out != NULL ? IPC_OK : IPC_SYSTEM;
}

const struct ipc_backend ipc_backend_tcp = {
	.name = "tcp",
	.address_scheme = "tcp",
	.duplex = 1,
	.pair = tcp_pair,
	.listen = tcp_listen,
	.connect = tcp_connect,
};
