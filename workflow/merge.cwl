#!/usr/bin/env cwl-runner
# Stage 01 (merge): the per-sample partial outputs -> histograms.root (notebooks/01_merge.ipynb).
cwlVersion: v1.2
class: CommandLineTool
label: merge
doc: |
  Copies the partial outputs of every scattered histogram job into <outdir>/partial/ and merges them
  into <outdir>/histograms.root and <outdir>/cutflow.json (exact: equal to a single pass).
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
  partials:
    doc: partial outputs, one list per histogram job
    type:
      type: array
      items:
        type: array
        items: File
        inputBinding: {}
      inputBinding: {}
    inputBinding: {position: 2}
  outdir: string
  skip_bad_files:
    doc: adds "-p skip_bad_files True" to papermill's call when true (a false boolean renders nothing in CWL)
    type: boolean
    inputBinding: {position: 4, prefix: "-p skip_bad_files True", shellQuote: false}
arguments:
  - {position: 1, valueFrom: mkdir}
  - {position: 1, valueFrom: -p}
  - {position: 1, valueFrom: $(inputs.outdir)/notebooks}
  - {position: 1, valueFrom: $(inputs.outdir)/partial}
  - {position: 1, valueFrom: "&&", shellQuote: false}
  - {position: 1, valueFrom: cp}
  - {position: 3, valueFrom: $(inputs.outdir)/partial/}
  - {position: 3, valueFrom: "&&", shellQuote: false}
  - {position: 3, valueFrom: papermill}
  - {position: 3, valueFrom: $(inputs.ipynb.basename)}
  - {position: 3, valueFrom: $(inputs.outdir)/notebooks/01_merge.ipynb}
  - {position: 3, valueFrom: -k}
  - {position: 3, valueFrom: python3}
  - {position: 3, valueFrom: --no-progress-bar}
  - {position: 3, valueFrom: -r}
  - {position: 3, valueFrom: outdir}
  - {position: 3, valueFrom: $(inputs.outdir)}
outputs:
  histograms:
    type: File
    outputBinding: {glob: $(inputs.outdir)/histograms.root}
  cutflow:
    type: File
    outputBinding: {glob: $(inputs.outdir)/cutflow.json}
  notebook:
    type: File
    outputBinding: {glob: $(inputs.outdir)/notebooks/01_merge.ipynb}
