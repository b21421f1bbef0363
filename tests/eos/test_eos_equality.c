/*
 * Exactly-once, the baseline: one instance of `tidemark run` processes a
 * fixed input (the workload generator's order events, 5,000 over 4
 * partitions) with nothing going wrong; its committed output, read with
 * read_committed, must equal `replay` of the same input, by meaning.
 */
#include <criterion/criterion.h>

#include "eos_harness.h"

TestSuite(eos, .fini = tm_eos_teardown);

Test(eos, equality)
{
    tm_eos *e = tm_eos_setup(&(tm_eos_options){.name = "equality"});
    tm_eos_run_once(e, 5000, 1);
    tm_eos_verify(e);
    tm_eos_pass(e);
}
