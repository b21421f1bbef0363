/*
 * http.h: a minimal HTTP/1.1 server for the metrics and health endpoints.
 *
 * One background thread accepts one connection at a time, reads one
 * request (bounded in size and time), answers it through the handler and
 * closes the connection: enough for a Prometheus scrape and the kubelet's
 * probes, and nothing a client can hold open (a slow client is cut off
 * after the read timeout).
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
 * path (query string removed). */
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
