.PHONY: all install lint format typecheck layers test bench
all: lint typecheck layers test

install:
	python -m pip install -e ".[test,local]"

lint:
	ruff check src tests benchmarks
	ruff format --check src tests benchmarks

format:
	ruff format src tests benchmarks
	ruff check --fix src tests benchmarks

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
