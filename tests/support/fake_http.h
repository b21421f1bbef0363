/*
 * fake_http.h: an HTTP server for the tests of HTTP clients (the push of
 * `tidemark verify --push-gateway`): a thread accepting connections on
 * 127.0.0.1 one at a time, reading each request whole (headers, then the
 * body its Content-Length announces), recording it and answering a fixed
 * status and body, then closing. Silent, it reads the request and never
 * answers (until stopped): a stalled server for the client's timeouts.
 */
#ifndef TM_TEST_FAKE_HTTP_H
#define TM_TEST_FAKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tm_fake_http tm_fake_http;

/* Starts the server on a free port; status and reply (copied) make each
 * answer (status 0: the connection is closed without one). Fails the test
 * if it cannot listen. */
tm_fake_http *tm_fake_http_start(int status, const char *reply, bool silent);

int tm_fake_http_port(const tm_fake_http *s);

/* The i-th request received (0 first): its whole text, headers and body,
 * as a string owned by s until stop; NULL if it has not arrived within
 * timeout_ms. */
const char *tm_fake_http_request(tm_fake_http *s, size_t i, int64_t timeout_ms);

/* Stops the thread, closes the sockets and frees everything; NULL is a
 * no-op. */
void tm_fake_http_stop(tm_fake_http *s);

#endif
