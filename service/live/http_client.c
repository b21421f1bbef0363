/*
 * http_client.c: see http_client.h. One request: resolve, connect to the
 * addresses in turn (non-blocking, so that poll bounds the wait), send
 * the whole request, read the answer until the server closes (we ask it
 * to) or ANSWER_MAX bytes, then judge the status line. Every poll waits
 * at most until the request's deadline.
 */
#include "http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "version.h"

/* Bytes of the answer read at most: the status line and a message are in
 * the first few hundred; a server that sends more is not read further. */
#define ANSWER_MAX (64 * 1024)

/* Characters of the answer's body quoted in an error message. */
#define SNIPPET_MAX 200

/* Copies s[0..n) into dst[size] with a terminator; false when it does
 * not fit. */
static bool copy_part(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static bool valid_port(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    return *s >= '0' && *s <= '9' && *end == '\0' && errno == 0 && v >= 1 && v <= 65535;
}

int tm_http_url_parse(const char *url, tm_http_url *out, char *errstr, size_t errlen)
{
    static const char scheme[] = "http://";
    if (strncasecmp(url, "https://", 8) == 0)
        return tm_seterr(errstr, errlen, TM_EINVAL,
                         "'%s': https is not supported (this client has no TLS): use a plain "
                         "http:// URL, e.g. a Pushgateway reached inside the cluster",
                         url);
    if (strncasecmp(url, scheme, sizeof scheme - 1) != 0 || strpbrk(url, "@?# \t\r\n"))
        return tm_seterr(errstr, errlen, TM_EINVAL,
                         "'%s': expected http://HOST[:PORT][/PATH] (no user, query or fragment)",
                         url);
    tm_http_url u = {.port = "80"};
    const char *authority = url + sizeof scheme - 1;
    const char *path = authority + strcspn(authority, "/");
    const char *host = authority, *host_end, *port = NULL;
    if (*authority == '[') {
        /* An IPv6 address: its colons are not the port's. */
        host = authority + 1;
        host_end = memchr(host, ']', (size_t)(path - host));
        if (!host_end || (host_end + 1 != path && host_end[1] != ':'))
            return tm_seterr(errstr, errlen, TM_EINVAL, "'%s': a bad [IPv6 address]", url);
        if (host_end + 1 != path)
            port = host_end + 2;
    } else {
        const char *colon = memchr(authority, ':', (size_t)(path - authority));
        host_end = colon ? colon : path;
        if (colon)
            port = colon + 1;
    }
    if (host_end == host || !copy_part(u.host, sizeof u.host, host, (size_t)(host_end - host)))
        return tm_seterr(errstr, errlen, TM_EINVAL, "'%s': the host is empty or too long", url);
    if (port &&
        (!copy_part(u.port, sizeof u.port, port, (size_t)(path - port)) || !valid_port(u.port)))
        return tm_seterr(errstr, errlen, TM_EINVAL, "'%s': the port must be 1-65535", url);
    /* Callers append "/..." to the path: a trailing '/' would double. */
    size_t path_len = strlen(path);
    while (path_len > 0 && path[path_len - 1] == '/')
        path_len--;
    if (!copy_part(u.path, sizeof u.path, path, path_len))
        return tm_seterr(errstr, errlen, TM_EINVAL, "'%s': the path is too long", url);
    *out = u;
    return TM_OK;
}

/* Milliseconds left until deadline, at least 0, as poll takes them (an
 * int: a longer wait is cut in minutes, and wait_fd loops). */
static int ms_left(int64_t deadline)
{
    int64_t left = deadline - tm_monotonic_ms();
    return left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* Waits for events on fd until deadline: 1 ready, 0 timed out, -1 error
 * (errno set). A signal does not end the wait early. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms_left(deadline));
        if (n > 0 || (n == 0 && tm_monotonic_ms() >= deadline))
            return n;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* Connects a non-blocking socket to one address by deadline (so that the
 * wait is ours to bound, not the kernel's SYN retries): the socket, or -1
 * with the reason in why. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, int64_t timeout_ms, char *why,
                       size_t why_len)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        snprintf(why, why_len, "socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    int err = errno;
    if (err == EINPROGRESS) {
        int ready = wait_fd(fd, POLLOUT, deadline);
        socklen_t len = sizeof err;
        if (ready == 0) {
            snprintf(why, why_len, "connect timed out after %lld ms", (long long)timeout_ms);
            close(fd);
            return -1;
        }
        if (ready < 0)
            err = errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err == 0)
            return fd;
    }
    snprintf(why, why_len, "connect: %s", strerror(err));
    close(fd);
    return -1;
}

/* Resolves and connects, trying each address until one answers. */
static int open_connection(const tm_http_url *u, int64_t start, const tm_http_client_request *req,
                           char *errstr, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(u->host, u->port, &hints, &res);
    if (gai != 0)
        return tm_seterr(errstr, errlen, TM_EIO, "cannot resolve %s: %s", u->host,
                         gai_strerror(gai));
    int64_t connect_deadline = start + req->connect_timeout_ms;
    int64_t deadline = start + req->timeout_ms;
    if (connect_deadline > deadline)
        connect_deadline = deadline;
    char why[256] = "no address";
    int fd = -1;
    for (const struct addrinfo *ai = res; ai && fd < 0 && tm_monotonic_ms() < connect_deadline;
         ai = ai->ai_next)
        fd = connect_one(ai, connect_deadline, req->connect_timeout_ms, why, sizeof why);
    freeaddrinfo(res);
    if (fd < 0)
        return tm_seterr(errstr, errlen, TM_EIO, "%s:%s: %s", u->host, u->port, why);
    return fd;
}

/* The message of a wait that failed: ready 0 is the request's deadline. */
static int wait_failed(int ready, const char *step, const tm_http_client_request *req, char *errstr,
                       size_t errlen)
{
    if (ready == 0)
        return tm_seterr(errstr, errlen, TM_EIO,
                         "%s: timed out (the whole request may take %lld ms)", step,
                         (long long)req->timeout_ms);
    return tm_seterr(errstr, errlen, TM_EIO, "%s: %s", step, strerror(errno));
}

static int send_all(int fd, const char *data, size_t n, int64_t deadline,
                    const tm_http_client_request *req, char *errstr, size_t errlen)
{
    while (n > 0) {
        int ready = wait_fd(fd, POLLOUT, deadline);
        if (ready <= 0)
            return wait_failed(ready, "sending the request", req, errstr, errlen);
        /* MSG_NOSIGNAL: a server that closed early is an error here, not a
         * SIGPIPE that kills the process. */
        ssize_t sent = send(fd, data, n, MSG_NOSIGNAL);
        if (sent < 0 && errno != EAGAIN && errno != EINTR)
            return tm_seterr(errstr, errlen, TM_EIO, "sending the request: %s", strerror(errno));
        if (sent > 0) {
            data += sent;
            n -= (size_t)sent;
        }
    }
    return TM_OK;
}

/* Reads until the server closes or ANSWER_MAX bytes are in. */
static int read_answer(int fd, tm_buf *answer, int64_t deadline, const tm_http_client_request *req,
                       char *errstr, size_t errlen)
{
    char chunk[4096];
    while (answer->len < ANSWER_MAX) {
        int ready = wait_fd(fd, POLLIN, deadline);
        if (ready <= 0)
            return wait_failed(ready, "reading the answer", req, errstr, errlen);
        ssize_t got = recv(fd, chunk, sizeof chunk, 0);
        if (got == 0)
            break;
        if (got < 0 && errno != EAGAIN && errno != EINTR)
            return tm_seterr(errstr, errlen, TM_EIO, "reading the answer: %s", strerror(errno));
        if (got > 0)
            tm_buf_append(answer, chunk, (size_t)got);
    }
    tm_buf_putc(answer, '\0'); /* a string from here on (len keeps the terminator) */
    return TM_OK;
}

/* Judges the answer by its status line: 0 for 2xx, else the status and a
 * snippet of the body (the Pushgateway says there what it refused). */
static int judge(const tm_buf *answer, char *errstr, size_t errlen)
{
    const char *a = answer->data;
    int status = 0;
    if (answer->len <= 1) /* the terminator alone */
        return tm_seterr(errstr, errlen, TM_EIO,
                         "the server closed the connection without an answer");
    if (answer->len < 13 || strncmp(a, "HTTP/1.", 7) != 0 || sscanf(a + 9, "%3d", &status) != 1)
        return tm_seterr(errstr, errlen, TM_EIO, "not an HTTP answer: '%.40s'", a);
    if (status >= 200 && status < 300)
        return TM_OK;
    const char *body = strstr(a, "\r\n\r\n");
    body = body ? body + 4 : "";
    int line = (int)strcspn(a, "\r\n");
    int snippet = (int)strcspn(body, "\r\n");
    return tm_seterr(errstr, errlen, TM_EIO, "answered '%.*s'%s%.*s", line, a, *body ? ": " : "",
                     snippet > SNIPPET_MAX ? SNIPPET_MAX : snippet, body);
}

int tm_http_send(const tm_http_client_request *req, char *errstr, size_t errlen)
{
    const tm_http_url *u = req->url;
    int64_t start = tm_monotonic_ms();
    int64_t deadline = start + req->timeout_ms;
    tm_buf head = {0}, answer = {0};
    int fd = open_connection(u, start, req, errstr, errlen);
    int rc = fd < 0 ? fd : TM_OK;
    if (rc == 0) {
        /* The Host header brackets an IPv6 address, as the URL did. */
        bool v6 = strchr(u->host, ':') != NULL;
        tm_buf_printf(&head,
                      "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: tidemark/%s\r\n"
                      "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                      req->method, u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port,
                      TM_VERSION, req->content_type, req->body_len);
        rc = send_all(fd, head.data, head.len, deadline, req, errstr, errlen);
    }
    if (rc == 0)
        rc = send_all(fd, req->body, req->body_len, deadline, req, errstr, errlen);
    if (rc == 0)
        rc = read_answer(fd, &answer, deadline, req, errstr, errlen);
    if (rc == 0)
        rc = judge(&answer, errstr, errlen);
    if (fd >= 0)
        close(fd);
    tm_buf_free(&head);
    tm_buf_free(&answer);
    return rc;
}
