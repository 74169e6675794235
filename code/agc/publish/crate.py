"""The Workflow Run RO-Crate of the CWL run, for the archive.

``agc run-cwl --provenance`` keeps cwltool's provenance research object (CWLProv, a BagIt bag)
in ``<outdir>/cwl-provenance``. :func:`build_crate` turns it into a Workflow Run RO-Crate with
runcrate's ``runcrate convert`` (from ``.venv-archive``: runcrate pins an older cwltool than the
analysis lock) and adds the serial run's ``provenance.json`` to the same crate as a described
file (``serial-provenance.json``, with the :mod:`rocrate` library). :func:`check_crate` loads a
crate back with :mod:`rocrate` and lists what is wrong with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from agc.core.errors import AGCError

#: Folder (below the outputs) where ``agc run-cwl --provenance`` keeps cwltool's research object.
RESEARCH_OBJECT_DIR = "cwl-provenance"
#: The crate's folder in the archive (and ``crate/`` in the bag's payload).
CRATE_DIR = "crate"
#: Name of the serial run's provenance.json inside the crate.
SERIAL_PROVENANCE = "serial-provenance.json"
#: The Workflow Run Crate profile (its versions: ``<this>0.1``, ...).
WORKFLOW_RUN_PROFILE = "https://w3id.org/ro/wfrun/workflow/"
_LICENSE_URL = "https://spdx.org/licenses/{}"
_CRATE_DESCRIPTION = (
    "Workflow Run RO-Crate of the AGC ttbar analysis (CMS 2015 Open Data) run by cwltool from "
    "reana-cwl.yaml's workflow; converted from cwltool's provenance research object by runcrate."
)


#: ``runcrate`` run by the Python of its environment, with one adaptation: runcrate 0.6 returns
#: an array of arrays of Files (the reinterpret step's ``partials: File[][]``) as nested lists,
#: which rocrate cannot serialise ("Object of type File is not JSON serializable"); the nested
#: values are flattened into one list of Files (the crate then lists every partial once,
#: without the per-job grouping).
RUNCRATE_CLI = """
import sys
from runcrate import convert
from runcrate.cli import cli

original = convert.ProvCrateBuilder.convert_param


def convert_param(self, *args, **kwargs):
    value = original(self, *args, **kwargs)
    if not isinstance(value, list):
        return value
    return [v for item in value for v in (item if isinstance(item, list) else [item])]


convert.ProvCrateBuilder.convert_param = convert_param
sys.exit(cli())
"""


def runcrate_python(root: Path) -> Path:
    """The Python of ``<root>/.venv-archive`` (``make archive-tools``), which has runcrate."""
    candidate = root / ".venv-archive" / "bin" / "python"
    if not (root / ".venv-archive" / "bin" / "runcrate").is_file():
        raise AGCError(f"runcrate not found in {candidate.parent}: run make archive-tools")
    return candidate


def build_crate(
    research_object: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    python: str | os.PathLike[str],
    license_id: str,
    serial_provenance: str | os.PathLike[str] | None = None,
) -> Path:
    """Convert the CWLProv research object into a Workflow Run RO-Crate folder ``dest``
    (replaced) with ``runcrate convert`` run by ``python`` (:func:`runcrate_python`, see
    :data:`RUNCRATE_CLI`) and describe ``serial_provenance`` in it; ``dest``."""
    research_object, dest = Path(research_object), Path(dest)
    if not (research_object / "bagit.txt").is_file():
        raise AGCError(f"{research_object}: not a cwltool provenance research object")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        converted = staging / "converted"
        result = subprocess.run(
            [
                str(python),
                "-c",
                RUNCRATE_CLI,
                "convert",
                str(research_object),
                "--output",
                str(converted),
                "--license",
                _LICENSE_URL.format(license_id),
                "--crate-name",
                "AGC ttbar: the CWL workflow run",
                "--crate-desc",
                _CRATE_DESCRIPTION,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["?"])[-1]
            raise AGCError(f"runcrate convert {research_object} failed: {last}")
        final = converted
        if serial_provenance is not None and Path(serial_provenance).is_file():
            final = describe_serial_provenance(converted, Path(serial_provenance), staging / "out")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(final, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def describe_serial_provenance(crate_dir: Path, provenance: Path, out: Path) -> Path:
    """Write into ``out`` the crate of ``crate_dir`` with ``provenance`` added as the described
    file :data:`SERIAL_PROVENANCE` (part of the root dataset); ``out``."""
    from rocrate.rocrate import ROCrate

    crate = ROCrate(str(crate_dir))
    crate.add_file(
        str(provenance),
        dest_path=SERIAL_PROVENANCE,
        properties={
            "name": "provenance.json of the serial run (reana.yaml)",
            "description": (
                "Provenance of the same analysis run by the serial engine: inputs with "
                "checksums, parameters, code version and SWHID, environment, output checksums "
                "(agc.publish.provenance). The serial and CWL runs give byte-identical "
                "histograms.root, workspace.json and fit_results.json."
            ),
            "encodingFormat": "application/json",
        },
    )
    crate.write(str(out))
    return out


def check_crate(crate_dir: str | os.PathLike[str]) -> list[str]:
    """What is wrong with the Workflow Run RO-Crate ``crate_dir`` (empty: nothing), loaded back
    with :mod:`rocrate`: the profile, the main workflow, a run (CreateAction) and every file
    the metadata names must be there."""
    from rocrate.rocrate import ROCrate

    crate_dir = Path(crate_dir)
    try:
        crate = ROCrate(str(crate_dir))
    except (OSError, ValueError, KeyError, TypeError) as exc:  # missing or malformed metadata
        return [f"{crate_dir}: not an RO-Crate ({type(exc).__name__}: {exc})"]
    problems = []
    conforms = crate.root_dataset.get("conformsTo") or []
    conforms = conforms if isinstance(conforms, list) else [conforms]
    if not any(str(getattr(c, "id", c)).startswith(WORKFLOW_RUN_PROFILE) for c in conforms):
        problems.append(f"{crate_dir}: does not conform to {WORKFLOW_RUN_PROFILE}")
    if crate.mainEntity is None:
        problems.append(f"{crate_dir}: no main workflow (mainEntity)")
    if not any("CreateAction" in str(e.type) for e in crate.get_entities()):
        problems.append(f"{crate_dir}: no CreateAction (workflow run)")
    for entity in crate.data_entities:
        if entity.id.startswith(("http:", "https:", "#")):
            continue
        if not (crate_dir / entity.id).exists():
            problems.append(f"{crate_dir}: {entity.id} is described but missing")
    return problems
