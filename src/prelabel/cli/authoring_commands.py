"""``prelabel doc``, ``doc-diff`` and ``calibration``: the SOP as annotators read it, and calibration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

import prelabel
from prelabel.cli.app import app
from prelabel.cli.options import HumansFormatOpt, SopArg, WideOpt

PANEL = "5. Author the SOP"

FormatOpt = Annotated[
    str | None, typer.Option("--format", help="html or md (default: from the file name; html otherwise).")
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace output files that exist.")]
LanguageOpt = Annotated[str | None, typer.Option("--language", help="Only examples/items in this language.")]


@app.command(rich_help_panel=PANEL)
def doc(
    sop: SopArg,
    out: Annotated[Path, typer.Option("-o", "--out", help="Guideline file (.html or .md).")],
    format: FormatOpt = None,
    language: LanguageOpt = None,
    force: ForceOpt = False,
) -> None:
    """Write the annotator guideline of an SOP: HTML (self-contained, searchable offline) or Markdown."""
    loaded = prelabel.load_sop(sop)
    path = prelabel.write_guideline(  # examples' media paths are relative to the SOP file's folder
        loaded,
        out,
        format,  # type: ignore[arg-type]
        language=language,
        overwrite=force,
        media_root=sop.parent,
    )
    typer.echo(f"wrote {path} ({loaded.id} {loaded.version}, {loaded.size()})")


@app.command("doc-diff", rich_help_panel=PANEL)
def doc_diff(
    before: Annotated[Path, typer.Argument(help="The earlier SOP version.", show_default=False)],
    after: Annotated[Path, typer.Argument(help="The later SOP version.", show_default=False)],
    out: Annotated[Path, typer.Option("-o", "--out", help="Change document (.md or .html).")],
    format: FormatOpt = None,
    force: ForceOpt = False,
) -> None:
    """Write what changed for annotators between two SOP versions (Markdown, or HTML)."""
    a, b = prelabel.load_sop(before), prelabel.load_sop(after)
    diff = prelabel.write_doc_diff(a, b, out, format, overwrite=force)  # type: ignore[arg-type]
    typer.echo(diff.summary())
    typer.echo(f"wrote {out}")


class _BuildByDefault(TyperGroup):
    """``prelabel calibration SOP ...`` builds a quiz; ``prelabel calibration score ...`` scores one."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["build", *args]
        return list(super().parse_args(ctx, args))


calibration_app = typer.Typer(
    cls=_BuildByDefault,
    help="Calibration quizzes for vendor annotators: `calibration SOP -n N -o calib.csv`, then "
    "`calibration score calib_key.csv answers.csv -o DIR`.",
    no_args_is_help=True,
)
app.add_typer(calibration_app, name="calibration", rich_help_panel=PANEL)


@calibration_app.command("build")
def calibration_build(
    sop: SopArg,
    out: Annotated[
        Path, typer.Option("-o", "--out", help="Quiz CSV; the key goes beside it (NAME_key.csv).")
    ],
    n: Annotated[int, typer.Option("-n", min=1, help="Number of quiz items.")] = 20,
    report: Annotated[
        Path | None,
        typer.Option("--from", help="Comparator report dir: quiz its top ruled candidates first."),
    ] = None,
    top: Annotated[int, typer.Option(min=1, help="Candidates of the report to consider.")] = 10,
    language: LanguageOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the quiz order.")] = 0,
    force: ForceOpt = False,
) -> None:
    """Build a quiz (item_id, text, language) and its answer key from the SOP (and a comparator report)."""
    loaded = prelabel.load_sop(sop)
    prelabel.CalibrationSet.outputs(out, overwrite=force)  # before any work
    calib = prelabel.calibration_set(loaded, n, report=report, top=top, language=language, seed=seed)
    quiz, key = calib.save(out, overwrite=force)
    for note in calib.notes:
        typer.echo(f"note: {note}")
    sources = calib.key["source"].value_counts()
    typer.echo(f"{len(calib.quiz)} items ({', '.join(f'{n} {s}' for s, n in sources.items())})")
    typer.echo(f"wrote {quiz} (for annotators) and {key} (answer key: keep it from them)")


@calibration_app.command("score")
def calibration_score(
    key: Annotated[Path, typer.Argument(help="Answer key CSV (NAME_key.csv).", show_default=False)],
    answers: Annotated[
        Path, typer.Argument(help="Answers CSV: item_id,annotator,label (or --wide).", show_default=False)
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="Score directory.")],
    sop: Annotated[
        Path | None, typer.Option("--sop", help="SOP YAML: check answer labels against it.")
    ] = None,
    wide: WideOpt = False,
    humans_format: HumansFormatOpt = "auto",
    force: ForceOpt = False,
) -> None:
    """Score annotators against the key: calibration.json, annotators.csv, labels.csv, most_missed.csv,
    problems.csv."""
    loaded = prelabel.load_sop(sop) if sop else None
    score = prelabel.score_calibration(key, answers, sop=loaded, wide=wide, humans_format=humans_format)
    paths = score.save(out, overwrite=force)
    for note in score.summary.get("human_labels_notes", []):  # what a vendor export held that is no answer
        typer.echo(f"note: {note}")
    typer.echo(score.to_markdown())
    typer.echo("wrote " + ", ".join(str(p) for p in paths.values()))
