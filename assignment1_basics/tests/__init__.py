"""Public tests of assignment 1 (course-owned): BPE training and the tokenizer, graded through adapters.py.

Expected values live in `_snapshots/`, recorded from the course's reference; run `make test` to compare.
"""
