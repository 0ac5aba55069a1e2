.PHONY: all install lint format typecheck test bench
all: lint typecheck test

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

test:
	python -m pytest

bench:
	python benchmarks/compare.py
