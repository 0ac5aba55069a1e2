"""The file names of a run directory appear in one module, ``prelabel/runs/run_dir.py`` (issue 19).

Every other module asks ``RunDir`` for a path or a name. The check reads each module's syntax tree and looks
at the strings the code uses (f-string parts included); docstrings and ``help=`` texts of CLI options are
documentation, not code, and may name the files. Comments are not strings. The last tests show the check
finds what it should (a name spelled in code, in an f-string) and nothing else.
"""

from __future__ import annotations

import ast
from pathlib import Path

import prelabel
from prelabel.runs.run_dir import RunDir

PACKAGE = Path(prelabel.__file__).resolve().parent
HOME = PACKAGE / "runs" / "run_dir.py"
#: Distinctive names, found anywhere inside a string; ``.lock`` only as a whole string. (``batch/`` is not
#: checked: "batch" is also a command and an OpenAI file purpose.)
INSIDE = (RunDir.LABELS, RunDir.INFO, RunDir.DB, RunDir.ASIDE, RunDir.MASK_MAP, "requests-", ".write-probe")
WHOLE = (RunDir.LOCK,)


def _documentation(tree: ast.AST) -> set[int]:
    """Ids of the string nodes that are documentation: docstrings (any bare string statement, and the
    docstring given to ``sync_twin``) and the ``help=`` texts of CLI options and arguments."""
    docs: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant | ast.JoinedStr):
            docs.append(node.value)
        elif isinstance(node, ast.keyword) and node.arg == "help":
            docs.append(node.value)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "sync_twin":
            docs.extend(node.args[2:])
    return {id(part) for doc in docs for part in ast.walk(doc)}


def run_file_names_in(source: str) -> list[tuple[int, str]]:
    """(line, string) of every string the code in ``source`` uses that names a run directory's file."""
    tree = ast.parse(source)
    skip = _documentation(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
            if any(name in text for name in INSIDE) or text in WHOLE:
                found.append((node.lineno, text))
    return found


def test_the_run_directory_file_names_are_spelled_in_one_module() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 100  # the whole package, not an empty glob
    elsewhere = {
        str(path.relative_to(PACKAGE)): hits
        for path in modules
        if path != HOME and (hits := run_file_names_in(path.read_text(encoding="utf-8")))
    }
    assert elsewhere == {}, "ask RunDir (prelabel.runs.run_dir) for these names or paths"


def test_the_home_spells_every_name() -> None:
    spelled = {text for _, text in run_file_names_in(HOME.read_text(encoding="utf-8"))}
    for name in (*INSIDE, *WHOLE):
        assert any(name in text for text in spelled), name


def test_the_check_finds_a_name_in_code_and_in_an_f_string() -> None:
    code = 'labels = out / "labels.jsonl"\nmessage = f"see {out}/run.json"\nlock = out / ".lock"\n'
    assert [line for line, _ in run_file_names_in(code)] == [1, 2, 3]


def test_the_check_lets_documentation_name_the_files() -> None:
    code = '''
def run(out: str = typer.Option(help="Run directory (labels.jsonl, run.json).")) -> None:
    """Label items into RUN_DIR/labels.jsonl; resumes from run.db."""  # a comment: run.db
    x = 1
    """An attribute docstring naming .previous/ and run.json."""

run = sync_twin(arun, "run", """Label items into labels.jsonl.""")
'''
    assert run_file_names_in(code) == []
