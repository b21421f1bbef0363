/*
 * http.h: the HTTP/1.1 server of the metrics and health endpoints, on
 * libmicrohttpd.
 *
 * One background thread waits on epoll for all connections at once, so a
 * slow, silent or stuck client holds one connection slot and never the
 * server: the health probes keep being answered. Each request is read up
 * to its headers (a body is never read), answered through the handler and
 * the connection closed. The limits (http.c says why each): 64
 * connections in all, 8 per client address, 16 KiB of memory per
 * connection (a longer request is refused), and a connection silent for
 * 3 s is closed. A flood from one address thus takes 8 slots at most; the
 * kubelet and Prometheus, from other addresses, still get in (issue 9).
 */
#ifndef TM_HTTP_H
#define TM_HTTP_H

#include <stddef.h>

#include "buf.h"

typedef struct tm_http_response {
    int status;               /* 200 unless the handler sets it */
    const char *content_type; /* static; "text/plain; charset=utf-8" unless set */
    tm_buf body;
} tm_http_response;

/* Called on the server's thread for every GET or HEAD request with the
 * path (query string removed, percent-decoded); other methods get a 405
 * without a call. */
typedef void (*tm_http_handler)(void *ctx, const char *path, tm_http_response *res);

typedef struct tm_http tm_http;

/* Listens on port (all interfaces; 0 picks a free port) and starts the
 * thread. Returns 0 and writes *out, or TM_EIO with a message. */
int tm_http_start(tm_http **out, int port, tm_http_handler handler, void *ctx, char *errstr,
                  size_t errlen);

/* The port listened on. */
int tm_http_port(const tm_http *s);

/* Stops the thread and closes the socket; NULL is a no-op. */
void tm_http_stop(tm_http *s);

#endif
