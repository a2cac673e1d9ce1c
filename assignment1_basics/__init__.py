"""Assignment 1 (basics): a byte-level BPE tokenizer and the parts of a Transformer language model.

You implement the stubs in this package; the tests reach your code only through `adapters.py`. The
problems, points and performance targets are in `handouts/assignment1_basics.md`.
"""
