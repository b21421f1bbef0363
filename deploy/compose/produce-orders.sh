#!/bin/sh
#
# produce-orders.sh: the compose stack's load. Prints RATE order events a
# second (default 50), one "<merchant>|<json>" line each, for
# kafka-console-producer.sh with parse.key=true and key.separator=| (the
# record key is the merchant, so a merchant's events stay in one partition,
# the group key of deploy/compose/tidemark.json). POSIX sh and awk only (the
# Kafka image is Alpine with busybox).
#
# Most events are stamped now, up to 1.5 s out of order (within the
# pipeline's 2 s max_out_of_orderness). Among the rest, by design:
#   3%    late: 6-14 s old, some revise a window that fired (within the
#         5 s allowed lateness), some are too late for it
#   1%    very late: a minute old, too late for every window
#   2%    duplicates: the same record twice (dedup drops the second)
#   0.5%  from the future (2 minutes ahead, clamped: max_ahead_ms is 60 s)
#   1%    malformed, one dead-letter reason each: invalid_json,
#         missing_event_time, invalid_event_time, invalid_field_type,
#         empty_value
set -eu

RATE=${RATE:-50}
MERCHANTS=${MERCHANTS:-8}
seq=0
while :; do
    awk -v now="$(date +%s)" -v seq="$seq" -v rate="$RATE" -v merchants="$MERCHANTS" '
        function order(id, m, t) {
            return sprintf("{\"order_id\":\"o%d\",\"merchant\":\"%s\",\"event_time\":%.0f,\"amount\":%.2f}",
                id, m, t, 1 + rand() * 199)
        }
        BEGIN {
            srand(now + seq)
            for (i = 0; i < rate; i++) {
                id = seq + i
                m = "m" int(rand() * merchants)
                t = now * 1000 + int(rand() * 1000) - int(rand() * 1500)
                r = rand()
                if (r < 0.03) t = now * 1000 - 6000 - int(rand() * 8000)
                else if (r < 0.04) t = now * 1000 - 60000
                else if (r < 0.045) t = now * 1000 + 120000
                else if (r < 0.055) {
                    k = int(rand() * 5)
                    if (k == 0) v = "{\"order_id\":\"o" id "\",\"merchant\":\"" m "\",\"amount\":"
                    else if (k == 1) v = "{\"order_id\":\"o" id "\",\"merchant\":\"" m "\",\"amount\":5}"
                    else if (k == 2) v = "{\"order_id\":\"o" id "\",\"merchant\":\"" m "\",\"event_time\":\"yesterday\",\"amount\":5}"
                    else if (k == 3) v = "{\"order_id\":\"o" id "\",\"merchant\":\"" m "\",\"event_time\":" sprintf("%.0f", now * 1000) ",\"amount\":\"5\"}"
                    else v = ""
                    print m "|" v
                    continue
                }
                line = m "|" order(id, m, t)
                print line
                if (rand() < 0.02) print line
            }
        }'
    seq=$((seq + RATE))
    sleep 1
done
