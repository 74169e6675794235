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
  dataset folder (data/) and the repository's inputs/ folder (signal declarations, cabinetry
  configuration) are staged into the working directory, as for the histogram step.
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      # A copy, not a link: a signal declaration must lie inside the working directory (agc
      # refuses paths that resolve outside it), and cwltool stages inputs as symbolic links.
      - entry: $(inputs.analysis_inputs)
        writable: true
      - $(inputs.data)
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  analysis_inputs: Directory
  data: Directory?
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
    inputBinding: {position: 1, prefix: --partials}
arguments:
  - mkdir
  - -p
  - $(inputs.outdir)/reinterpretation
  - {valueFrom: "&&", shellQuote: false}
  - agc
  - reinterpret
  - --signal
  - $(inputs.signal)
  - --inputs
  - $(inputs.inputs)
  - --outdir
  - $(inputs.outdir)
  - --executor
  - $(inputs.executor)
  - --workers
  - $(inputs.workers)
  - --chunksize
  - $(inputs.chunksize)
  - --max_files
  - $(inputs.max_files)
  - --scheduler
  - $(inputs.scheduler)
outputs:
  reinterpretation:
    type: Directory
    outputBinding: {glob: $(inputs.outdir)/reinterpretation}
