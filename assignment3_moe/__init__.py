"""assignment3_moe (Mixture of Experts: routing, load balancing, capacity, dispatch/combine, expert parallelism).

Not written yet: this package is a placeholder so the course layout is complete. Its stubs, tests,
reference, hidden tests, mutants, rubric and handout follow the pattern of assignment1_basics/.
"""
