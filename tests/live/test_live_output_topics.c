/*
 * Output topics checked at start (issue 9): a dead-letter topic that does
 * not exist, or a late topic with fewer partitions than the input topic,
 * ends `tidemark run` at once with exit 2 and a message naming the option,
 * the topic, the partitions it has and those it needs, instead of when the
 * first malformed or late record is produced there.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "eos_harness.h"

TestSuite(live, .fini = tm_eos_teardown);

/* Starts instance "a" with one override and expects it refused (exit 2),
 * its log holding each of the NULL-ended needles. */
static void expect_refused(tm_eos *e, const char *set, const char *const *needles)
{
    tm_eos_instance *a = tm_eos_instance_add(e, "a");
    a->sets[0] = set;
    tm_eos_start(e, a);
    tm_eos_expect_exit(e, a, 2, 60000, "an output topic missing or too small");
    for (size_t i = 0; needles[i]; i++)
        cr_assert(tm_eos_file_contains(a->log_path, needles[i]), "no \"%s\" in %s", needles[i],
                  a->log_path);
    cr_assert(!tm_eos_file_contains(a->log_path, "assigned"),
              "refused only after joining the group: %s", a->log_path);
}

Test(live, a_missing_dead_letter_topic_is_refused_at_start, .timeout = 120)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "nodlq", .brokers = 1});
    const char *const needles[] = {"output.dlq_topic", "topic 'orders-dlq-gone' does not exist",
                                   "at least 4 partitions", NULL};
    expect_refused(e, "output.dlq_topic=orders-dlq-gone", needles);
    tm_eos_pass(e);
}

Test(live, a_late_topic_with_too_few_partitions_is_refused_at_start, .timeout = 120)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){
        .name = "smalllate", .brokers = 1, .broker_args = {"--topic", "orders-late-2:2", NULL}});
    const char *const needles[] = {"output.late_topic", "topic 'orders-late-2' has 2 partitions",
                                   "needs at least 4", NULL};
    expect_refused(e, "output.late_topic=orders-late-2", needles);
    tm_eos_pass(e);
}
