/* fake_sentinel.h over POSIX sockets. */
#define _DEFAULT_SOURCE /* usleep */
#include "fake_sentinel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
listen_any(int backlog, bool ipv6, int *port)
{
	int fd                = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a  = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 b = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
	struct sockaddr *sa   = ipv6 ? (struct sockaddr *) &b : (struct sockaddr *) &a;
	socklen_t len         = ipv6 ? sizeof(b) : sizeof(a);
	if (fd < 0 || bind(fd, sa, len) != 0 || listen(fd, backlog) != 0 || getsockname(fd, sa, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(ipv6 ? b.sin6_port : a.sin_port);
	return fd;
}

static void *
serve(void *arg)
{
	fake_sentinel *f = arg;
	int c;
	while ((c = accept(f->fd, NULL, NULL)) >= 0) {
		char buf[512], port[8], reply[64];
		if (read(c, buf, sizeof(buf)) > 0) {
			usleep((useconds_t) f->delay_ms * 1000);
			snprintf(port, sizeof(port), "%d", f->names);
			int n = snprintf(
			    reply, sizeof(reply), "*2\r\n$9\r\n127.0.0.1\r\n$%zu\r\n%s\r\n", strlen(port), port);
			if (write(c, reply, (size_t) n) != n)
				perror("fake_sentinel: write");
		}
		close(c);
	}
	return NULL;
}

int
fake_sentinel_start(fake_sentinel *f, int names, int delay_ms)
{
	return fake_sentinel_start_at(f, false, names, delay_ms);
}

int
fake_sentinel_start_at(fake_sentinel *f, bool ipv6, int names, int delay_ms)
{
	f->delay_ms = delay_ms;
	if ((f->fd = listen_any(64, ipv6, &f->port)) < 0)
		return -1;
	f->names = names != 0 ? names : f->port;
	if (pthread_create(&f->thread, NULL, serve, f) != 0) {
		close(f->fd);
		return -1;
	}
	return 0;
}

void
fake_sentinel_stop(fake_sentinel *f)
{
	shutdown(f->fd, SHUT_RDWR); /* accept() returns: the thread ends */
	pthread_join(f->thread, NULL);
	close(f->fd);
}

int
fake_sentinel_dead_port(void)
{
	int port, fd = listen_any(1, false, &port);
	if (fd < 0)
		return -1;
	close(fd);
	return port;
}
