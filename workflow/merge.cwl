#!/usr/bin/env cwl-runner
# Stage 01 (merge): the per-sample partial outputs -> histograms.root (notebooks/01_merge.ipynb).
cwlVersion: v1.2
class: CommandLineTool
label: merge
doc: |
  Copies the partial outputs of every scattered histogram job into <outdir>/partial/ and merges them
  into <outdir>/histograms.root and <outdir>/cutflow.json (exact: equal to a single pass), and with
  use_inference the ML features' histograms into <outdir>/histograms_ml.root.
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
  use_inference:
    doc: passed as "-p use_inference true|false" (a boolean interpolated into a string renders as JSON)
    type: boolean
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
  - {position: 3, valueFrom: --engine}
  - {position: 3, valueFrom: agc-nbclient}
  - {position: 3, valueFrom: --no-progress-bar}
  - {position: 3, valueFrom: -r}
  - {position: 3, valueFrom: outdir}
  - {position: 3, valueFrom: $(inputs.outdir)}
  - {position: 3, valueFrom: "-p use_inference $(inputs.use_inference)", shellQuote: false}
outputs:
  histograms:
    type: File
    outputBinding: {glob: $(inputs.outdir)/histograms.root}
  cutflow:
    type: File
    outputBinding: {glob: $(inputs.outdir)/cutflow.json}
  histograms_ml:
    doc: "<outdir>/histograms_ml.root: one File, none with use_inference false"
    type: File[]
    outputBinding: {glob: $(inputs.outdir)/histograms_ml.root}
  notebook:
    type: File
    outputBinding: {glob: $(inputs.outdir)/notebooks/01_merge.ipynb}
