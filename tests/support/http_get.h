/*
 * http_get.h: a plain HTTP/1.1 client for the tests of the metrics and
 * health endpoints (a real request over a TCP socket to 127.0.0.1), and a
 * free port to give a server.
 */
#ifndef TM_TEST_HTTP_GET_H
#define TM_TEST_HTTP_GET_H

#include "buf.h"

/* Sends "<method> <path> HTTP/1.1" to 127.0.0.1:port and reads the whole
 * answer (the server closes the connection). Returns the status code with
 * the headers and body in *headers and *body (reset first), or -1 if
 * nothing listens or the answer is not HTTP (a 2 s timeout per read). */
int tm_http_request(int port, const char *method, const char *path, tm_buf *headers, tm_buf *body);

/* A TCP port that was free a moment ago (bound to port 0, then closed). */
int tm_test_free_port(void);

#endif
