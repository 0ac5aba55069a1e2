.PHONY: all install lint format typecheck layers test bench docs serve-docs
all: lint typecheck layers test

install:
	python -m pip install -e ".[test,local]"

lint:
	ruff check src tests benchmarks scripts
	ruff format --check src tests benchmarks scripts

format:
	ruff format src tests benchmarks scripts
	ruff check --fix src tests benchmarks scripts

typecheck:
	mypy

layers:
	lint-imports

test:
	python -m pytest

bench:
	python benchmarks/compare.py
	python benchmarks/startup.py
	python benchmarks/local_model.py

# the documentation site, into site/ (mkdocs.yml; strict: a broken link or anchor fails); serve-docs previews it
docs:
	NO_MKDOCS_2_WARNING=true python -m mkdocs build --strict

serve-docs:
	NO_MKDOCS_2_WARNING=true python -m mkdocs serve
