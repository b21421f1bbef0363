/*
 * http.c: see http.h.
 */
#define _GNU_SOURCE /* accept4 */
#include "http.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "alloc.h"
#include "buf.h"
#include "err.h"
#include "log.h"

enum {
    REQUEST_MAX = 8192,   /* a request line and headers; bodies are not read */
    IO_TIMEOUT_MS = 2000, /* per read or write: a stuck client frees the thread */
};

struct tm_http {
    int listen_fd;
    int wake[2]; /* a byte on wake[1] stops the thread */
    int port;
    tm_http_handler handler;
    void *ctx;
    pthread_t thread;
    bool started;
};

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

/* Reads until the end of the headers; returns false on a timeout, an
 * oversized request or a closed connection. */
static bool read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return true;
    }
    return false;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the client went away: nothing to tell it */
        p += w;
        n -= (size_t)w;
    }
}

/* Parses "METHOD SP target SP HTTP/..." and fills res. */
static void answer(tm_http *s, char *request, tm_http_response *res, bool *head)
{
    char *sp1 = strchr(request, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strncmp(sp2 + 1, "HTTP/", 5) != 0) {
        res->status = 400;
        tm_buf_puts(&res->body, "bad request\n");
        return;
    }
    *sp1 = *sp2 = '\0';
    *head = strcmp(request, "HEAD") == 0;
    if (!*head && strcmp(request, "GET") != 0) {
        res->status = 405;
        tm_buf_puts(&res->body, "only GET and HEAD\n");
        return;
    }
    char *path = sp1 + 1;
    path[strcspn(path, "?#")] = '\0';
    s->handler(s->ctx, path, res);
}

static void serve(tm_http *s, int fd)
{
    struct timeval tv = {IO_TIMEOUT_MS / 1000, (IO_TIMEOUT_MS % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char request[REQUEST_MAX];
    if (!read_request(fd, request, sizeof request))
        return;
    tm_http_response res = {.status = 200, .content_type = "text/plain; charset=utf-8"};
    bool head = false;
    answer(s, request, &res, &head);
    tm_buf hdr = {0};
    tm_buf_printf(&hdr,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                  "Connection: close\r\n\r\n",
                  res.status, reason_of(res.status), res.content_type, res.body.len);
    write_all(fd, hdr.data, hdr.len);
    if (!head && res.body.len > 0)
        write_all(fd, res.body.data, res.body.len);
    tm_buf_free(&hdr);
    tm_buf_free(&res.body);
}

static void *server_main(void *arg)
{
    tm_http *s = arg;
    struct pollfd fds[2] = {{s->listen_fd, POLLIN, 0}, {s->wake[0], POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            TM_LOG(TM_LOG_ERROR, "http", "poll: %s; the metrics endpoint stops", strerror(errno));
            return NULL;
        }
        if (fds[1].revents)
            return NULL;
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue; /* the client gave up before accept, or a transient error */
        serve(s, fd);
        close(fd);
    }
}

int tm_http_start(tm_http **out, int port, tm_http_handler handler, void *ctx, char *errstr,
                  size_t errlen)
{
    tm_http *s = tm_xcalloc(1, sizeof *s);
    s->handler = handler;
    s->ctx = ctx;
    s->wake[0] = s->wake[1] = -1;
    s->listen_fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool v6 = s->listen_fd >= 0;
    if (!v6) /* a kernel without IPv6 */
        s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int on = 1, off = 0;
    int rc =
        s->listen_fd < 0 ? -1 : setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_storage addr = {0};
    socklen_t addr_len;
    if (v6) {
        /* One socket for both families: IPv4 clients arrive mapped. */
        if (rc == 0)
            rc = setsockopt(s->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addr;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_any;
        a->sin6_port = htons((uint16_t)port);
        addr_len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&addr;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_ANY);
        a->sin_port = htons((uint16_t)port);
        addr_len = sizeof *a;
    }
    if (rc == 0)
        rc = bind(s->listen_fd, (struct sockaddr *)&addr, addr_len);
    if (rc == 0)
        rc = listen(s->listen_fd, 16);
    if (rc == 0)
        rc = getsockname(s->listen_fd, (struct sockaddr *)&addr, &addr_len);
    if (rc == 0)
        rc = pipe2(s->wake, O_CLOEXEC);
    if (rc != 0) {
        int e = errno;
        tm_http_stop(s);
        return tm_seterr(errstr, errlen, TM_EIO, "cannot listen on port %d: %s", port, strerror(e));
    }
    s->port = ntohs(v6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                       : ((struct sockaddr_in *)&addr)->sin_port);
    rc = pthread_create(&s->thread, NULL, server_main, s);
    s->started = rc == 0;
    if (rc != 0) {
        tm_http_stop(s);
        return tm_seterr(errstr, errlen, TM_EIO, "cannot start the HTTP thread: %s", strerror(rc));
    }
    *out = s;
    return TM_OK;
}

int tm_http_port(const tm_http *s)
{
    return s->port;
}

void tm_http_stop(tm_http *s)
{
    if (!s)
        return;
    if (s->started) {
        while (write(s->wake[1], "x", 1) < 0 && errno == EINTR)
            ;
        pthread_join(s->thread, NULL);
    }
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    free(s);
}
