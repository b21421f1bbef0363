/*
 * demo.h: `tidemark demo`, the embedded default: an in-process Kafka
 * cluster (librdkafka's mock with the project's transaction patches), a
 * generator of realistic order events producing in real time, and the
 * live service on a sample pipeline (GMV per merchant in 10 s tumbling
 * windows), printing each window result as its transaction commits.
 */
#ifndef TM_DEMO_H
#define TM_DEMO_H

#include "stop_flag.h"
#include <stddef.h>
#include <stdio.h>

typedef struct tm_demo_options {
    int seconds;    /* how long to generate events; 0: until *stop */
    int rate;       /* events per second */
    int partitions; /* of the input topic: tasks */
} tm_demo_options;

/* Runs the demo, printing committed results on out. Returns 0, or a
 * negative tm_err with a message. */
int tm_demo_run(const tm_demo_options *opt, tm_stop_flag *stop, FILE *out, char *errstr,
                size_t errlen);

#endif
