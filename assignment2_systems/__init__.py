"""assignment2_systems (systems: benchmarking and profiling, mixed precision, Triton fused softmax and RMSNorm, FlashAttention-2 in PyTorch and Triton).

Not written yet: this package is a placeholder so the course layout is complete. Its stubs, tests,
reference, hidden tests, mutants, rubric and handout follow the pattern of assignment1_basics/.
"""
