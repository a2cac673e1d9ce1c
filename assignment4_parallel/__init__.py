"""assignment4_parallel (distributed parallelism: collectives, DDP, ZeRO/FSDP, tensor and pipeline parallelism).

Not written yet: this package is a placeholder so the course layout is complete. Its stubs, tests,
reference, hidden tests, mutants, rubric and handout follow the pattern of assignment1_basics/.
"""
