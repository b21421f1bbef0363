/*
 * reset.h: `tidemark reset`, which deletes an application's state so that
 * it starts afresh (like Kafka Streams' application reset tool): its
 * changelog and repartition topics, its consumer group with the committed
 * input offsets, and the local state directory of this machine.
 */
#ifndef TM_RESET_H
#define TM_RESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"

/*
 * Prints to out what the reset deletes (what exists of it), and, with
 * confirmed, deletes it: the consumer group first, which Kafka refuses
 * while instances are running (then nothing is deleted), then the topics,
 * then state.dir/<application_id>/. Returns 0; TM_EINVAL when not confirmed
 * (nothing deleted); another negative tm_err with a message. Borrows cfg.
 */
int tm_reset_run(const tm_config *cfg, bool confirmed, FILE *out, char *errstr, size_t errlen);

#endif
