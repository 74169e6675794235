#!/usr/bin/env cwl-runner
# Stage 03: maximum-likelihood fit and paper plots (notebooks/03_fit.ipynb).
cwlVersion: v1.2
class: CommandLineTool
label: fit
doc: |
  Fits <outdir>/workspace.json to the pseudo-data; writes <outdir>/fit_results.json and the paper
  plots in <outdir>/plots/.
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      - $(inputs.ipynb)
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  ipynb: File
  workspace: File
  outdir: string
  poi: string
arguments:
  - mkdir
  - -p
  - $(inputs.outdir)/notebooks
  - {valueFrom: "&&", shellQuote: false}
  - cp
  - $(inputs.workspace.path)
  - $(inputs.outdir)/workspace.json
  - {valueFrom: "&&", shellQuote: false}
  - papermill
  - $(inputs.ipynb.basename)
  - $(inputs.outdir)/notebooks/03_fit.ipynb
  - -k
  - python3
  - --engine
  - agc-nbclient
  - --no-progress-bar
  - -r
  - outdir
  - $(inputs.outdir)
  - -r
  - poi
  - $(inputs.poi)
outputs:
  fit_results:
    type: File
    outputBinding: {glob: $(inputs.outdir)/fit_results.json}
  plots:
    doc: the plots folder (a workflow output)
    type: Directory
    outputBinding: {glob: $(inputs.outdir)/plots}
  plot_files:
    doc: "the same plots as Files (the report step's input: no Directory inputs)"
    type: File[]
    outputBinding: {glob: $(inputs.outdir)/plots/*}
  notebook:
    type: File
    outputBinding: {glob: $(inputs.outdir)/notebooks/03_fit.ipynb}
  log:
    doc: "the cabinetry and pyhf log lines of this step (no lines: no file)"
    type: File?
    outputBinding: {glob: $(inputs.outdir)/logs/fit.log}
