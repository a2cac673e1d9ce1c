"""Assignment 1 (basics): a byte-level BPE tokenizer and the parts of a Transformer language model.

You implement the stubs in this package; the tests reach your code only through `adapters.py`. The
problems, points and performance targets are in `handouts/assignment1_basics.md`.

This file is course material, like `tests/`: the tests live inside the package, so the grader
always uses the course's copy of it. Put your code in the other modules.
"""
