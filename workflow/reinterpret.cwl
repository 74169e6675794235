#!/usr/bin/env cwl-runner
# Reinterpretation (agc reinterpret): with signal = a declaration such as inputs/signals/zprime_1000.yaml,
# the signal+background model, fit, CLs limits and the BkgOnly + PatchSet likelihood; with signal=ttbar
# it does nothing (the main measurement is the fit step's).
cwlVersion: v1.2
class: CommandLineTool
label: reinterpret
doc: |
  Swaps the signal of the preserved analysis for the one declared by `signal` and writes
  <outdir>/reinterpretation/ (limits.json, workspaces, BkgOnly.json, patchset.json, plots). The
  dataset's files, the recipe, the cabinetry configuration and the signal declarations are Files
  (no Directory inputs, no writable entries: REANA's CWL engine fails on both); the last three are
  copied into inputs/ by the command, data/embedded is a link to the working directory, as in the
  histogram step.
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      - $(inputs.data)
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  recipe: File
  model_config: File
  signal_declarations:
    doc: |
      the signal declarations (inputs/signals/*.yaml), copied into inputs/signals/ of the working
      directory with the recipe and the cabinetry configuration: a declaration must lie inside it
      (agc refuses paths that resolve outside), cwltool may stage Files as symbolic links, and a
      folder made for a staged entry may belong to root in a container
    type:
      type: array
      items: File
    inputBinding: {position: 2}
  data: File[]
  inputs: string
  signal: string
  executor: string
  workers: int
  chunksize: int
  max_files: int
  scheduler: string
  outdir: string
  partials:
    doc: |
      partial outputs of the histogram step (one list per job); each records its cache key, and
      those whose key matches (same inputs, same event-processing code) seed the cache, so that
      only the new signal sample is processed
    type:
      type: array
      items:
        type: array
        items: File
        inputBinding: {}
      inputBinding: {}
    inputBinding: {position: 4, prefix: --partials}
arguments:
  - {position: 1, valueFrom: mkdir}
  - {position: 1, valueFrom: -p}
  - {position: 1, valueFrom: $(inputs.outdir)/reinterpretation}
  - {position: 1, valueFrom: data}
  - {position: 1, valueFrom: inputs/signals}
  - {position: 1, valueFrom: "&&", shellQuote: false}
  - {position: 1, valueFrom: ln}
  - {position: 1, valueFrom: -sfn}
  - {position: 1, valueFrom: ..}
  - {position: 1, valueFrom: data/embedded}
  - {position: 1, valueFrom: "&&", shellQuote: false}
  - {position: 1, valueFrom: cp}
  - {position: 1, valueFrom: $(inputs.recipe.path)}
  - {position: 1, valueFrom: inputs/embedded.yaml}
  - {position: 1, valueFrom: "&&", shellQuote: false}
  - {position: 1, valueFrom: cp}
  - {position: 1, valueFrom: $(inputs.model_config.path)}
  - {position: 1, valueFrom: inputs/cabinetry.yaml}
  - {position: 1, valueFrom: "&&", shellQuote: false}
  - {position: 1, valueFrom: cp}
  - {position: 3, valueFrom: inputs/signals/}
  - {position: 3, valueFrom: "&&", shellQuote: false}
  - {position: 3, valueFrom: agc}
  - {position: 3, valueFrom: reinterpret}
  - {position: 3, valueFrom: --signal}
  - {position: 3, valueFrom: $(inputs.signal)}
  - {position: 3, valueFrom: --inputs}
  - {position: 3, valueFrom: $(inputs.inputs)}
  - {position: 3, valueFrom: --outdir}
  - {position: 3, valueFrom: $(inputs.outdir)}
  - {position: 3, valueFrom: --executor}
  - {position: 3, valueFrom: $(inputs.executor)}
  - {position: 3, valueFrom: --workers}
  - {position: 3, valueFrom: $(inputs.workers)}
  - {position: 3, valueFrom: --chunksize}
  - {position: 3, valueFrom: $(inputs.chunksize)}
  - {position: 3, valueFrom: --max_files}
  - {position: 3, valueFrom: $(inputs.max_files)}
  - {position: 3, valueFrom: --scheduler}
  - {position: 3, valueFrom: $(inputs.scheduler)}
outputs:
  reinterpretation:
    type: Directory
    outputBinding: {glob: $(inputs.outdir)/reinterpretation}
  log:
    doc: "the cabinetry and pyhf log lines of this step (no lines: no file)"
    type: File?
    outputBinding: {glob: $(inputs.outdir)/logs/reinterpret.log}
