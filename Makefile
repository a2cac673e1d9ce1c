# Every target installs what it needs through `setup` (idempotent). See README.md.
PY     := .venv/bin/python
A      ?= assignment1_basics
STAMP  := .venv/.installed
PRIVATE := grader/private

.PHONY: setup test grade check bench clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	.venv/bin/pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps -e .
	touch $(STAMP)

# Students: public tests of one assignment against the working copy, with a points table.
test: setup
	$(PY) -m grader test $(A)

# Instructors: grade the bundled sample submissions, print the gradebook.
grade: setup
	$(PY) -m grader samples

# Maintainers and CI: grader tests, then per assignment: parity, rubric, snapshots current,
# reference 100 %, starter 0, every mutant loses points.
# In the student release (no private folder) only the grader's public tests run.
check: setup
	$(PY) -m pytest -q -p no:cacheprovider grader/tests $(wildcard $(PRIVATE)/tests)
	$(if $(wildcard $(PRIVATE)),$(PY) -m grader verify assignment1_basics)

bench: setup
	$(PY) -m benchmarks.run_all

clean:
	rm -rf out .venv
