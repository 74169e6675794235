"""The ``agc`` command line (click): one command per workflow stage, the workflow runners, tools.

A stage command calls its function of :mod:`agc.workflow.stages` with keywords
(:mod:`agc.cli.workflow`). The options of the workflow parameters it takes come from the
parameter schema (:mod:`agc.core.parameters`, see :mod:`agc.cli.options`): the option is the
parameter's name with dashes (``--max-files``; the schema's own spelling ``--max_files`` is
accepted too, as REANA's specifications pass it), its default, help and validation are the
schema's, and a boolean is a ``--flag/--no-flag`` pair that also takes the ``--name true|false``
form. So a parameter means the same thing in reana.yaml, the CWL job file, a notebook and here.

A command prints a short summary on stdout; with ``--json`` it prints its whole result as one
JSON object instead. Everything else (progress, logs, warnings) goes to stderr. A user mistake
(a bad option, an :class:`~agc.core.errors.AGCError`) is one line on stderr and exit code 2;
``--debug`` (or ``AGC_DEBUG=1``) adds the traceback (:mod:`agc.cli.command`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from agc import __version__
from agc.cli import tools, workflow, workspace
from agc.cli.command import DEBUG_ENV, AgcGroup, summary

__all__ = ["DEBUG_ENV", "agc", "commands", "main", "summary"]


@click.group(cls=AgcGroup, no_args_is_help=True)
@click.version_option(__version__, "--version", prog_name="agc", message="%(prog)s %(version)s")
def agc() -> None:
    """The preserved CMS 2015 ttbar analysis: its workflow stages, runners and tools.

    Each stage command runs one step of the workflow and prints a short summary (--json: the
    whole result as JSON). Run "agc COMMAND --help" for a command's options.
    """


for _command in (
    workspace.init,
    workflow.run_serial,
    workflow.run_cwl,
    workflow.run_snakemake,
    workflow.check_parameters,
    workflow.dataset,
    workflow.histograms,
    workflow.merge,
    workflow.model,
    workflow.fit,
    workflow.ml_model,
    workflow.ml_fit,
    workflow.ml,
    workflow.reinterpret,
    workflow.optimise,
    workflow.report,
    workflow.archive,
    tools.generate,
    tools.dataset_summary,
    tools.verify_archive,
    tools.reproduce,
    tools.compile_kernels,
    tools.bench,
):
    agc.add_command(_command)


def _message(exc: click.ClickException) -> str:
    """The one-line message of a click error; suggested options without hidden spellings."""
    if isinstance(exc, click.NoSuchOption) and exc.possibilities:
        shown = {
            p.replace("_", "-") if p.replace("_", "-") in exc.possibilities else p: None
            for p in exc.possibilities
        }
        exc.possibilities = list(shown)
    return " ".join(exc.format_message().split())


def commands(group: click.Group = agc, prefix: str = "") -> dict[str, click.Command]:
    """Every leaf command by its full name (``"histograms"``, ``"bench events"``)."""
    found: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(commands(command, f"{prefix}{name} "))
        else:
            found[prefix + name] = command
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``agc`` console script; returns the exit code. The result is the only
    thing written to stdout; logs and warnings go to stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(agc.main(args, prog_name="agc", standalone_mode=False) or 0)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else exc.format_message())
        return 2
    except click.ClickException as exc:
        where = exc.ctx.command_path if getattr(exc, "ctx", None) else "agc"
        click.echo(f"{where}: error: {_message(exc)}", err=True)
        return exc.exit_code
    except click.Abort:
        click.echo("agc: interrupted", err=True)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
