"""``agc init``: a workspace laid out from the installed package, to run the workflows in."""

from __future__ import annotations

from typing import Any

import click

from agc.cli.command import command


def _next_steps(result: dict[str, Any]) -> str:
    """What was laid out and the commands to run next."""
    return (
        f"workspace: {result['workspace']} ({len(result['copied'])} files and folders: "
        "reana*.yaml, workflow/, notebooks/, inputs/, code/, ...)\n"
        f"next: cd {result['workspace']} && agc run-serial reana.yaml"
        " (or reana-client run -f reana.yaml)"
    )


@command("init", section="run", human=_next_steps)
@click.argument("directory", metavar="DIR")
@click.option("--force", is_flag=True, help="write into a folder that is not empty")
def init(directory: str, force: bool) -> dict[str, Any]:
    """Lay out a workspace in DIR: the workflow specifications, notebooks, inputs and code.

    DIR then holds what the repository holds to run the analysis: reana*.yaml, workflow/,
    notebooks/, inputs/ (BDT models, cabinetry configurations, signal declarations, the dataset
    recipe), environment/ and code/ (this package's code, which the workflows run).
    """
    from agc.core.resources import lay_out_workspace

    copied = lay_out_workspace(directory, force=force)
    return {"workspace": directory, "copied": copied}
