"""The Workflow Run RO-Crate of the CWL run, for the archive.

``agc run-cwl --provenance`` keeps cwltool's provenance research object (CWLProv, a BagIt bag)
in ``<outdir>/cwl-provenance``. :func:`build_crate` turns it into a Workflow Run RO-Crate with
runcrate's ``runcrate convert`` (from ``.venv-archive``: runcrate pins an older cwltool than the
analysis lock) and adds the serial run's ``provenance.json`` to the same crate as a described
file (``serial-provenance.json``, with the :mod:`rocrate` library). :func:`check_crate` loads a
crate back with :mod:`rocrate` and lists what is wrong with it.

The inputs the CWL run generated (the embedded dataset's ROOT files, ~300 MB) are described in
the crate but their bytes are left out (:func:`drop_regenerable_files`): ``agc generate``
recreates them bit for bit from the recipe. RO-Crate 1.2+ (the crate is 1.3) describes a file
"deliberately not present, expected to be created by running a process" as a ``File`` whose
``@id`` is a local ``#`` identifier, with ``localPath`` naming where it is created; each such
entity keeps cwltool's ``sha1`` and ``contentSize``, gains ``sha256`` and a ``description``
saying how to recreate it, and keeps its place in the run (the CreateAction's ``object``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agc.core.errors import AGCError
from agc.core.fileio import sha256_file, write_json
from agc.dataset.manifest import GENERATION_RECORD, load_manifest

#: Folder (below the outputs) where ``agc run-cwl --provenance`` keeps cwltool's research object.
RESEARCH_OBJECT_DIR = "cwl-provenance"
#: The crate's folder in the archive (and ``crate/`` in the bag's payload).
CRATE_DIR = "crate"
#: Name of the serial run's provenance.json inside the crate.
SERIAL_PROVENANCE = "serial-provenance.json"
#: The Workflow Run Crate profile (its versions: ``<this>0.1``, ...).
WORKFLOW_RUN_PROFILE = "https://w3id.org/ro/wfrun/workflow/"
#: The crate's metadata file.
METADATA_FILE = "ro-crate-metadata.json"
#: Where ``agc generate`` writes the embedded dataset (relative to the repository root).
EMBEDDED_DIR = "data/embedded"
#: How the embedded dataset is recreated from the archived code.
EMBEDDED_COMMAND = "agc generate --output data/embedded --recipe inputs/embedded.yaml"
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


@dataclass(frozen=True)
class RegenerableFiles:
    """Input files a crate describes without holding their bytes: ``paths`` maps each file's
    sha256 to the path (relative to the repository root) where ``command`` recreates it."""

    paths: Mapping[str, str]
    command: str


def embedded_inputs(manifest: str | os.PathLike[str]) -> RegenerableFiles | None:
    """The files of ``manifest`` when it is a generated dataset's (``generation.json`` beside
    it): recreated by :data:`EMBEDDED_COMMAND`; ``None`` for other inputs."""
    manifest = Path(manifest)
    if not (manifest.parent / GENERATION_RECORD).is_file():
        return None
    paths = {sha256: f"{EMBEDDED_DIR}/{name}" for sha256, name in manifest_files(manifest).items()}
    return RegenerableFiles(paths, EMBEDDED_COMMAND)


def manifest_files(manifest: str | os.PathLike[str]) -> dict[str, str]:
    """sha256 -> file name of every file the inputs ``manifest`` lists with a sha256 (empty
    when ``manifest`` does not exist)."""
    if not Path(manifest).is_file():
        return {}
    return {
        item["sha256"]: Path(item["path"]).name
        for variations in load_manifest(manifest).values()
        for entry in variations.values()
        for item in entry["files"]
        if "sha256" in item
    }


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
    regenerable: RegenerableFiles | None = None,
) -> Path:
    """Convert the CWLProv research object into a Workflow Run RO-Crate folder ``dest``
    (replaced) with ``runcrate convert`` run by ``python`` (:func:`runcrate_python`, see
    :data:`RUNCRATE_CLI`), describe ``serial_provenance`` in it and leave the ``regenerable``
    files' bytes out (:func:`drop_regenerable_files`); ``dest``."""
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
        if regenerable is not None:
            drop_regenerable_files(final, regenerable)
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


def drop_regenerable_files(
    crate_dir: str | os.PathLike[str], regenerable: RegenerableFiles
) -> list[str]:
    """Delete from the crate ``crate_dir`` the payload files whose sha256 is in
    ``regenerable.paths`` and describe each as absent (RO-Crate 1.2+): its entity's ``@id``
    becomes ``#<localPath>`` everywhere in the metadata, with ``localPath``, ``sha256`` and a
    ``description`` naming ``regenerable.command``; the dropped files' ``localPath`` values."""
    crate_dir = Path(crate_dir)
    document = json.loads((crate_dir / METADATA_FILE).read_text(encoding="utf-8"))
    renamed: dict[str, str] = {}
    for entity in document["@graph"]:
        types = entity.get("@type", [])
        if "File" not in (types if isinstance(types, list) else [types]):
            continue
        path = crate_dir / entity["@id"]
        if entity["@id"].startswith(("#", "http:", "https:")) or not path.is_file():
            continue
        sha256 = sha256_file(path)
        local = regenerable.paths.get(sha256)
        if local is None:
            continue
        renamed[entity["@id"]] = f"#{local}"
        entity.setdefault("name", Path(local).name)
        entity.update(
            localPath=local,
            sha256=sha256,
            description=(
                "A file of the run deliberately not held in this crate: recreated bit for bit "
                f"at {local} by `{regenerable.command}` run in the archived code; check it "
                "against sha256."
            ),
        )
    write_json(crate_dir / METADATA_FILE, renamed_references(document, renamed))
    for old in renamed:
        (crate_dir / old).unlink()
    return sorted(v.removeprefix("#") for v in renamed.values())


def renamed_references(node: Any, renamed: Mapping[str, str]) -> Any:
    """``node`` (JSON-LD) with every ``"@id"`` value found in ``renamed`` replaced."""
    if isinstance(node, list):
        return [renamed_references(item, renamed) for item in node]
    if isinstance(node, dict):
        return {
            key: renamed.get(value, value)
            if key == "@id" and isinstance(value, str)
            else renamed_references(value, renamed)
            for key, value in node.items()
        }
    return node


def check_crate(
    crate_dir: str | os.PathLike[str], regenerable: Collection[str] | None = None
) -> list[str]:
    """What is wrong with the Workflow Run RO-Crate ``crate_dir`` (empty: nothing), loaded back
    with :mod:`rocrate`: the profile, the main workflow, a run (CreateAction) and every file
    the metadata names must be there, except files declared absent (a ``#`` File with
    ``localPath``, :func:`drop_regenerable_files`), which need a ``sha256`` and, when
    ``regenerable`` (sha256 digests, e.g. of the inputs manifest) is given, one of those."""
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
    return problems + absent_file_problems(crate, crate_dir, regenerable)


def declared_absent(crate_dir: str | os.PathLike[str]) -> list[str]:
    """The ``@id`` of the File entities ``crate_dir``'s metadata declares absent (a ``#``
    identifier with ``localPath``, see :func:`drop_regenerable_files`)."""
    document = json.loads((Path(crate_dir) / METADATA_FILE).read_text(encoding="utf-8"))
    return [
        e["@id"]
        for e in document["@graph"]
        if str(e.get("@id", "")).startswith("#") and "localPath" in e and "File" in e["@type"]
    ]


def absent_file_problems(
    crate: Any, crate_dir: Path, regenerable: Collection[str] | None
) -> list[str]:
    """What is wrong with the files ``crate`` (a loaded :class:`rocrate.rocrate.ROCrate`)
    declares absent: each needs a ``sha256`` that is in ``regenerable`` (when given)."""
    problems = []
    for entity in crate.get_entities():
        if "File" not in entity.type or not entity.id.startswith("#"):
            continue
        if not entity.get("localPath"):
            continue
        sha256 = entity.get("sha256")
        if not sha256:
            problems.append(f"{crate_dir}: {entity.id} is declared absent without a sha256")
        elif regenerable is not None and sha256 not in regenerable:
            problems.append(
                f"{crate_dir}: {entity.id} is declared absent but its sha256 is not among "
                "the regenerable inputs (inputs manifest)"
            )
    return problems
