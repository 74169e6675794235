#!/usr/bin/env cwl-runner
# Stage 02: histograms.root -> pyhf workspace (notebooks/02_statistical_model.ipynb).
cwlVersion: v1.2
class: CommandLineTool
label: model
doc: |
  Builds the pyhf workspace <outdir>/workspace.json from <outdir>/histograms.root with the cabinetry
  configuration inputs/cabinetry.yaml (the repository's inputs/ folder is staged into the working
  directory).
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      - $(inputs.analysis_inputs)
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  notebooks: Directory
  analysis_inputs: Directory
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
  - $(inputs.notebooks.path)/02_statistical_model.ipynb
  - $(inputs.outdir)/notebooks/02_statistical_model.ipynb
  - -k
  - python3
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
