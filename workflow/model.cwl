#!/usr/bin/env cwl-runner
# Stage 02: histograms.root -> pyhf workspace (notebooks/02_statistical_model.ipynb).
cwlVersion: v1.2
class: CommandLineTool
label: model
doc: |
  Builds the pyhf workspace <outdir>/workspace.json from <outdir>/histograms.root with the cabinetry
  configuration inputs/cabinetry.yaml (a File staged at that path, as the notebook is by basename).
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      - $(inputs.ipynb)
      - entry: $(inputs.model_config)
        entryname: inputs/cabinetry.yaml
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  ipynb: File
  model_config: File
  histograms: File
  outdir: string
  signal: string
  poi: string
arguments:
  - mkdir
  - -p
  - $(inputs.outdir)/notebooks
  - {valueFrom: "&&", shellQuote: false}
  - cp
  - $(inputs.histograms.path)
  - $(inputs.outdir)/histograms.root
  - {valueFrom: "&&", shellQuote: false}
  - papermill
  - $(inputs.ipynb.basename)
  - $(inputs.outdir)/notebooks/02_statistical_model.ipynb
  - -k
  - python3
  - --engine
  - agc-nbclient
  - --no-progress-bar
  - -r
  - outdir
  - $(inputs.outdir)
  - -r
  - signal
  - $(inputs.signal)
  - -r
  - poi
  - $(inputs.poi)
outputs:
  workspace:
    type: File
    outputBinding: {glob: $(inputs.outdir)/workspace.json}
  notebook:
    type: File
    outputBinding: {glob: $(inputs.outdir)/notebooks/02_statistical_model.ipynb}
  log:
    doc: "the cabinetry and pyhf log lines of this step (no lines: no file)"
    type: File?
    outputBinding: {glob: $(inputs.outdir)/logs/model.log}
