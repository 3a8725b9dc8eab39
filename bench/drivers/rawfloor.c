/*
 * rawfloor: the benchmark's floor without Go and without an HTTP library.
 * It sends the OTP verify request pam_vault sends, on a plain TCP socket in
 * blocking mode, and reads the answer to its end:
 *
 *   rawfloor HOST PORT MOUNT PAUSE_MS
 *
 * For each line of standard input (a one-time password) it prints
 *
 *   floor STATUS NANOSECONDS
 *
 * timing the write of the request and the read of the whole answer on one
 * keep-alive connection, opened before the first line. With PAUSE_MS > 0
 * the connection is left idle that long before each request, as a user's
 * request waits for them to type; with 0 the requests go back to back.
 * It exists to show that what pacing costs is Vault's and the machine's,
 * not Go's: compare it with bench/floor paced the same way.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads one answer: the header, then Content-Length bytes of body. Returns
 * the HTTP status, or -1.
 */
static int read_answer(int fd)
{
	static char buf[65536];
	size_t len = 0;
	char *end = NULL;

	while (end == NULL) {
		if (len == sizeof(buf) - 1)
			return -1;
		ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	int status;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		return -1;
	const char *cl = strcasestr(buf, "\r\nContent-Length:");
	if (cl == NULL || cl > end)
		return -1;
	size_t want = strtoul(cl + strlen("\r\nContent-Length:"), NULL, 10);
	size_t have = len - (size_t)(end + 4 - buf);
	while (have < want) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		have += (size_t)n;
	}
	return status;
}

int main(int argc, char **argv)
{
	static char line[512], req[2048];
	struct sockaddr_in addr = {.sin_family = AF_INET};
	int one = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: rawfloor HOST PORT MOUNT PAUSE_MS\n");
		return 2;
	}
	long pause_ms = atol(argv[4]);
	addr.sin_port = htons((unsigned short)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
		fprintf(stderr, "rawfloor: %s is not an IPv4 address\n", argv[1]);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) {
		perror("rawfloor: connect");
		return 1;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		char body[600];
		int blen = snprintf(body, sizeof(body), "{\"otp\":\"%s\"}", line);
		int rlen = snprintf(req, sizeof(req),
				    "PUT /v1/%s/verify HTTP/1.1\r\nHost: %s:%s\r\n"
				    "Content-Type: application/json\r\nX-Vault-Request: true\r\n"
				    "Content-Length: %d\r\n\r\n%s",
				    argv[3], argv[1], argv[2], blen, body);
		if (blen < 0 || (size_t)blen >= sizeof(body) || rlen < 0 || (size_t)rlen >= sizeof(req)) {
			fprintf(stderr, "rawfloor: line too long\n");
			return 1;
		}
		if (pause_ms > 0) {
			struct timespec p = {pause_ms / 1000, (pause_ms % 1000) * 1000000};
			nanosleep(&p, NULL);
		}
		long long start = now_ns();
		int status = -1;
		if (send_all(fd, req, (size_t)rlen) == 0)
			status = read_answer(fd);
		long long took = now_ns() - start;
		if (status < 0) {
			fprintf(stderr, "rawfloor: no answer\n");
			return 1;
		}
		printf("floor %d %lld\n", status, took);
		fflush(stdout);
	}
	return 0;
}
