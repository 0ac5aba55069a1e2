"""The documentation site's generated pages (mkdocs ``hooks:``, named in ``mkdocs.yml``): never hand-copied.

- ``reference/cli.md``: every command, argument and option of the ``prelabel`` program, walked from the click
  tree typer builds from the app (``prelabel.cli.app.click_command()``), with the help ``--help`` shows;
- ``reference/api.md``: a mkdocstrings directive for every name of ``prelabel.__all__`` (grouped by the
  subpackage it lives in) and for ``prelabel.testing``, rendered from the docstrings;
- ``guidelines/*.md``: each bundled SOP's vendor guideline (``prelabel.render_guideline(sop, format="md")``,
  what ``prelabel doc`` writes), added to the nav under "Example guidelines".

A command's section has the anchor ``prelabel-<its path joined by ->``:
``reference/cli.md#prelabel-batch-status``.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import re
from collections.abc import Iterator
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

CLI_PAGE = "reference/cli.md"
API_PAGE = "reference/api.md"
GUIDELINES = "guidelines"
#: The nav section (``mkdocs.yml``) whose entries are the generated guideline pages.
GUIDELINES_SECTION = "Example guidelines"

# --------------------------------------------------------------------------------------------------- markdown


def escape(text: str) -> str:
    """``text`` as literal Markdown: its code spans (backticks) kept, every other Markdown or HTML character
    escaped."""
    out, end = [], 0
    for span in [*re.finditer(r"(`+)(?!`).*?(?<!`)\1(?!`)", text), None]:
        start = span.start() if span else len(text)
        plain = text[end:start].replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;")
        out.append(re.sub(r"([*_\[\]|#!{}>])", r"\\\1", plain))
        if span:
            out.append(span.group())
            end = span.end()
    return "".join(out)


def anchor(command_path: str) -> str:
    """A command's anchor on the CLI page (``prelabel batch status``: ``prelabel-batch-status``)."""
    return "-".join(command_path.split())


# --------------------------------------------------------------------------------------------- CLI reference


def _plain(text: str, command: Any) -> str:
    """Help text as ``--help`` shows it: without rich markup (``[bold]``, ``\\[``) if typer reads it so."""
    if getattr(command, "rich_markup_mode", None) == "rich":
        from rich.text import Text

        return Text.from_markup(text).plain
    return text


def _paragraphs(help_text: str, command: Any) -> list[str]:
    """A docstring's paragraphs, as typer shows them: up to a ``\\f`` line, single line breaks joined (a
    paragraph that starts with ``\\b`` keeps them)."""
    text = inspect.cleandoc(help_text).partition("\f")[0]
    paragraphs = []
    for paragraph in text.split("\n\n"):
        if paragraph.startswith("\b"):
            lines = [escape(_plain(line, command)) for line in paragraph[1:].strip("\n").splitlines()]
            paragraphs.append("<br>\n".join(lines))
        elif paragraph.strip():
            paragraphs.append(escape(_plain(" ".join(paragraph.split()), command)))
    return paragraphs


def _param_help(param: Any, ctx: Any) -> tuple[str, list[str]]:
    """A parameter's help (Markdown for a table cell) and its notes as ``--help`` shows them (default, range,
    environment variable, required)."""
    record = param.get_help_record(ctx)
    help_text = param.help or ""
    shown = record[1] if record else ""
    notes = shown[len(help_text) :].strip() if shown.startswith(help_text) else ""
    notes = notes[1:-1] if notes.startswith("[") and notes.endswith("]") else notes
    cell = "<br>".join(
        escape(_plain(" ".join(p.split()), ctx.command)) for p in help_text.split("\n\n") if p.strip()
    )
    return cell, [note.strip() for note in notes.split("; ") if note.strip()]


def _note(note: str) -> str:
    name, _, value = note.partition(": ")
    if note == "required":
        return "**Required.**"
    if name == "default" and value:
        return f"Default: `{value}`."
    if name == "env var" and value:
        return f"Environment variable: `{value}`."
    if re.search(r"\bx\b", note):  # a range: `x>=1`, `0<=x<=2`
        return f"Range: `{note}`."
    return f"`{note}`."


def _show_dynamic_help(command: Any, ctx: Any) -> None:
    """Let the command fill in help it computes when ``--help`` is shown (``prelabel export`` lists the
    registered formats then): its help is rendered once, on a separate context, and thrown away."""
    scratch = command.context_class(command, info_name=ctx.info_name)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        command.format_help(scratch, scratch.make_formatter())


def _walk(command: Any, ctx: Any) -> Iterator[tuple[Any, Any]]:
    """Each (command, context) of the tree, depth first in ``--help`` order; hidden commands are left out."""
    yield command, ctx
    if hasattr(command, "list_commands"):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, sub.context_class(sub, info_name=name, parent=ctx))


def _command_section(command: Any, ctx: Any, level: int) -> list[str]:
    path = ctx.command_path
    lines = [f"{'#' * level} {path} {{ #{anchor(path)} }}", ""]
    if command.deprecated:
        lines += ["**Deprecated.**", ""]
    for paragraph in _paragraphs(command.help or command.short_help or "", command):
        lines += [paragraph, ""]
    usage = " ".join([path, *command.collect_usage_pieces(ctx)])
    lines += ["```text", usage, "```", ""]
    _show_dynamic_help(command, ctx)
    params = [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]
    arguments = [p for p in params if p.param_type_name == "argument"]
    options = [p for p in params if p.param_type_name == "option"]
    if arguments:
        lines += ["| Argument | Description |", "| --- | --- |"]
        for param in arguments:
            cell, notes = _param_help(param, ctx)
            described = " ".join([cell, *map(_note, notes)]).strip()
            lines.append(f"| `{param.metavar or param.name}` | {described} |")
        lines.append("")
    if options:
        lines += ["| Option | Description |", "| --- | --- |"]
        for param in options:
            cell, notes = _param_help(param, ctx)
            names = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
            shown_type = "" if param.is_flag or param.count else _type_name(param, ctx)
            if shown_type:
                names += f" *{escape(shown_type)}*"
            lines.append(f"| {names} | {' '.join([cell, *map(_note, notes)]).strip()} |")
        lines.append("")
    if hasattr(command, "list_commands"):
        subs = [command.get_command(ctx, name) for name in command.list_commands(ctx)]
        subs = [sub for sub in subs if sub is not None and not sub.hidden]
        if subs:
            links = [f"[`{sub.name}`](#{anchor(f'{path} {sub.name}')})" for sub in subs]
            lines += ["Commands: " + ", ".join(links)]
            lines.append("")
    return lines


def _type_name(param: Any, ctx: Any) -> str:
    shown = getattr(param, "display_type_rich", None)
    if shown is not None:
        return str(shown(ctx) or "")
    return str(param.make_metavar(ctx))


def _summary(command: Any) -> str:
    paragraphs = _paragraphs(command.short_help or command.help or "", command)
    return paragraphs[0] if paragraphs else ""


def cli_reference() -> str:
    """The CLI reference page: ``prelabel``'s own options, then its commands by ``--help`` panel, each with
    its usage, arguments and options (every spelling), and its subcommands under it."""
    app_module = importlib.import_module("prelabel.cli.app")
    root = app_module.click_command()
    root_ctx = root.context_class(root, info_name="prelabel")
    tree = list(_walk(root, root_ctx))
    lines = [
        "# CLI reference",
        "",
        "Every command and option of `prelabel`, generated from the program itself when the site is built "
        "(`prelabel COMMAND --help` shows the same help). Exit codes: [Exit codes](exit-codes.md).",
        "",
        "| Command | What it does |",
        "| --- | --- |",
    ]
    for command, ctx in tree[1:]:
        lines.append(f"| [`{ctx.command_path}`](#{anchor(ctx.command_path)}) | {_summary(command)} |")
    lines.append("")
    lines += _command_section(root, root_ctx, 2)
    panels: dict[str, list[tuple[Any, Any]]] = {}
    for command, ctx in tree[1:]:
        if ctx.parent is root_ctx:
            panel = getattr(command, "rich_help_panel", None) or "Commands"
            panels.setdefault(panel, []).append((command, ctx))
    for panel, commands in panels.items():
        lines += [f"## {escape(panel)}", ""]
        for command, ctx in commands:
            for sub, sub_ctx in _walk(command, ctx):
                depth = len(sub_ctx.command_path.split()) - 2  # `prelabel run`: 0
                lines += _command_section(sub, sub_ctx, 3 + depth)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- API reference

#: The subpackages of the public names, in the order of the loop (SOP -> prompts -> labels -> compare -> SOP),
#: and the section each gets on the API page.
API_SECTIONS = {
    "sop": "SOPs",
    "prompt": "Prompts",
    "inputs": "Items",
    "labeling": "Labeling",
    "llm": "Models, retries and usage",
    "runs": "Run directories",
    "comparison": "Comparing with human labels",
    "exports": "Exports",
    "authoring": "SOP authoring",
    "demo": "Demo",
    "errors": "Errors",
}


def api_reference() -> str:
    """The Python API page: ``prelabel.__all__`` grouped by subpackage, then ``prelabel.testing``."""
    import prelabel

    homes: dict[str, str] = prelabel._EXPORTS
    sections: dict[str, list[str]] = {}
    for name in prelabel.__all__:
        if name in homes:
            part = homes[name].split(".")[1]
            sections.setdefault(API_SECTIONS.get(part, part), []).append(name)
    order = list(API_SECTIONS.values())
    lines = [
        "# Python API",
        "",
        "Everything `import prelabel` offers (`prelabel.__all__`), rendered from the docstrings when the "
        "site is built, and the test fakes of `prelabel.testing`. Names load lazily: `import prelabel` "
        "imports no heavy dependency until a name is used.",
        "",
    ]
    for title in sorted(sections, key=lambda t: order.index(t) if t in order else len(order)):
        lines += [f"## {title}", ""]
        lines += [f"::: prelabel.{name}\n" for name in sections[title]]
    testing = importlib.import_module("prelabel.testing")
    lines += ["## Test fakes", "", escape(inspect.getdoc(testing) or "").split("\n\n")[0], ""]
    lines += [f"::: prelabel.testing.{name}\n" for name in testing.__all__]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- example guidelines


def guideline_pages() -> dict[str, tuple[str, str]]:
    """``guidelines/NAME.md``: (title, Markdown) for each bundled SOP, and the section's index page."""
    import prelabel

    pages: dict[str, tuple[str, str]] = {}
    rows = []
    for name in prelabel.bundled_sops():
        sop = prelabel.bundled_sop(name)
        title, _, body = prelabel.render_guideline(sop, format="md").partition("\n")
        note = (
            f"*What vendors receive for the bundled SOP `{name}`, rendered when the site is built by "
            f"`prelabel doc sop_specs/{name}.yaml -o {name}.md`.*"
        )
        pages[f"{GUIDELINES}/{name}.md"] = (sop.title, f"{title}\n\n{note}\n{body}")
        rows.append(f"| [{escape(sop.title)}]({name}.md) | `sop_specs/{name}.yaml` | {sop.version} |")
    index = [
        "# Example guidelines",
        "",
        "The guideline document `prelabel doc` renders from an SOP, for each SOP bundled with prelabel: "
        "the label tree, definitions, rules and edge cases your vendors' annotators read — from the same "
        "YAML the model reads, so the two never drift.",
        "",
        "| Guideline | SOP | Version |",
        "| --- | --- | --- |",
        *rows,
        "",
    ]
    pages[f"{GUIDELINES}/index.md"] = ("Overview", "\n".join(index))
    return pages


# ----------------------------------------------------------------------------------------------- mkdocs hooks

_pages: dict[str, tuple[str, str]] = {}


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Render the generated pages, and list the guideline pages under their nav section."""
    _pages.clear()
    _pages.update(guideline_pages())
    _pages[CLI_PAGE] = ("CLI", cli_reference())
    _pages[API_PAGE] = ("Python API", api_reference())
    guidelines = [path for path in _pages if path.startswith(f"{GUIDELINES}/")]
    guidelines.sort(key=lambda path: (not path.endswith("/index.md"), path))  # the overview first
    entries = [{_pages[path][0]: path} for path in guidelines]
    found = False
    for entry in config.nav or []:
        if isinstance(entry, dict) and GUIDELINES_SECTION in entry:
            entry[GUIDELINES_SECTION] = entries
            found = True
    if not found:
        raise ValueError(f"mkdocs.yml: the nav has no {GUIDELINES_SECTION!r} section for the guideline pages")
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages to the site."""
    for path, (_, content) in _pages.items():
        files.append(File.generated(config, path, content=content))
    return files
