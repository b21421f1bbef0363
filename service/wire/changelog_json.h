/*
 * changelog_json.h: one changelog record (changelog.h) in its JSON form,
 * the contract in proto/changelog.schema.json: what `tidemark changelog`
 * prints, so that an operator can read a task's state.
 *
 *   window      {"kind":"window","key","window_start","window_end","count",
 *                "revision","fired","accumulators":[...]}
 *   dedup       {"kind":"dedup","seq","max_expiry",
 *                "keys":[{"hash":"<hi><lo> in 32 hex digits","expiry"}...]}
 *   checkpoint  {"kind":"checkpoint","seq","watermark",
 *                "inputs":[{"next_offset","max_event_time","last_record_time"}...]}
 *   tombstones  {"kind":"window","key","window_start","tombstone":true} and
 *               {"kind":"dedup","seq","tombstone":true}
 *
 * Integers are written exactly (int64 range; the minimum stands for minus
 * infinity, e.g. a watermark before any record). It needs no configuration:
 * accumulators are in the order of the configuration's aggregations.
 */
#ifndef TM_CHANGELOG_JSON_H
#define TM_CHANGELOG_JSON_H

#include <stddef.h>

#include "buf.h"

/*
 * Appends the members of the record's JSON object to out, without the
 * braces, so that a caller can put its own members beside them (the CLI:
 * partition and offset). value NULL is a tombstone. Returns 0, or
 * TM_EPARSE with why the record cannot be read (out is then unchanged).
 */
int tm_changelog_json_members(tm_buf *out, const void *key, size_t key_len, const void *value,
                              size_t value_len, char *errstr, size_t errlen);

#endif
