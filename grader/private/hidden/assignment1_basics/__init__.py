"""Hidden tests of assignment 1 (never shipped), copied to assignment1_basics/tests/hidden/ when grading."""
