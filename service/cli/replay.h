/*
 * replay.h: `tidemark replay` (SEMANTICS 9): the engine run offline over a
 * file of records in the replay envelope.
 *
 * Processing time is the largest receipt time read so far; every task
 * starts at the receipt time of the first line; after each record every
 * task, in ascending partition order, recomputes its watermark and fires
 * and expires what is due. When the configuration repartitions
 * (tm_config_repartitions), the tasks are source tasks, one per partition
 * number of the whole input (read once before the records; a pipe is
 * copied to a temporary file to be read again), feeding R window tasks (repartition.h); results and
 * late records carry the window task's partition.
 */
#ifndef TM_REPLAY_H
#define TM_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef struct tm_replay_summary {
    uint64_t lines;   /* records read */
    uint64_t results; /* lines written to output.jsonl (batch.jsonl) */
    uint64_t late;    /* lines written to late.jsonl */
    uint64_t dead;    /* lines written to dlq.jsonl */
    size_t tasks;
} tm_replay_summary;

/*
 * Replays input_path under cfg and writes output.jsonl, late.jsonl and
 * dlq.jsonl into output_dir (created if missing). Returns 0 and fills
 * *summary (may be NULL); or TM_EIO (unreadable input, unwritable output)
 * or TM_EPARSE (a malformed line, named by its line number) with the
 * message in errstr.
 */
int tm_replay_run(const tm_config *cfg, const char *input_path, const char *output_dir,
                  tm_replay_summary *summary, char *errstr, size_t errlen);

/*
 * `tidemark replay --batch`: the batch results (SEMANTICS 12, batch.h) of
 * every record of input_path under cfg, written into output_dir as
 * batch.jsonl, one JSON object a line (tm_output_batch_line), ordered by
 * window start, then group key bytes; and the dead letters as dlq.jsonl,
 * as tm_replay_run writes them. Every record goes into one batch: the
 * results are per group key, so the partitions and repartition.* do not
 * change them. Returns and fills *summary (tasks: the input's partition
 * numbers) as tm_replay_run does.
 */
int tm_replay_batch(const tm_config *cfg, const char *input_path, const char *output_dir,
                    tm_replay_summary *summary, char *errstr, size_t errlen);

#endif
