#!/usr/bin/env cwl-runner
# Stage 04: the ML model, its fit and plots, the ML validation (notebooks/04_ml.ipynb).
cwlVersion: v1.2
class: CommandLineTool
label: ml
doc: |
  Builds <outdir>/ml/workspace_ml.json from <outdir>/histograms_ml.root with the cabinetry
  configuration inputs/cabinetry_ml.yaml (a File staged at that path), fits it
  (<outdir>/ml/fit_results_ml.json) and draws <outdir>/ml/plots/, among them the main fit
  (<outdir>/fit_results.json) applied to the ML model. histograms_ml is the merge step's File[]:
  empty with use_inference false, when the step only writes <outdir>/ml/NOTE.txt.
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      - $(inputs.ipynb)
      - entry: $(inputs.ml_config)
        entryname: inputs/cabinetry_ml.yaml
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  ipynb: File
  ml_config: File
  main_fit:
    doc: the main fit's fit_results.json
    type: File
    inputBinding: {position: 2}
  histograms_ml:
    doc: histograms_ml.root, or nothing with use_inference false
    type:
      type: array
      items: File
    inputBinding: {position: 3}
  outdir: string
  use_inference: boolean
arguments:
  - {position: 1, valueFrom: mkdir}
  - {position: 1, valueFrom: -p}
  - {position: 1, valueFrom: $(inputs.outdir)/notebooks}
  - {position: 1, valueFrom: "&&", shellQuote: false}
  - {position: 1, valueFrom: cp}
  - {position: 4, valueFrom: $(inputs.outdir)/}
  - {position: 4, valueFrom: "&&", shellQuote: false}
  - {position: 4, valueFrom: papermill}
  - {position: 4, valueFrom: $(inputs.ipynb.basename)}
  - {position: 4, valueFrom: $(inputs.outdir)/notebooks/04_ml.ipynb}
  - {position: 4, valueFrom: -k}
  - {position: 4, valueFrom: python3}
  - {position: 4, valueFrom: --engine}
  - {position: 4, valueFrom: agc-nbclient}
  - {position: 4, valueFrom: --no-progress-bar}
  - {position: 4, valueFrom: -r}
  - {position: 4, valueFrom: outdir}
  - {position: 4, valueFrom: $(inputs.outdir)}
  - {position: 4, valueFrom: "-p use_inference $(inputs.use_inference)", shellQuote: false}
outputs:
  ml:
    doc: the ML products (a workflow output)
    type: Directory
    outputBinding: {glob: $(inputs.outdir)/ml}
  ml_files:
    doc: "the files of <outdir>/ml/ (workspace and fit, or NOTE.txt), for the report step: no Directory inputs"
    type: File[]
    outputBinding: {glob: $(inputs.outdir)/ml/*.*}
  notebook:
    type: File
    outputBinding: {glob: $(inputs.outdir)/notebooks/04_ml.ipynb}
  log:
    doc: "the cabinetry and pyhf log lines of this step (no lines: no file)"
    type: File?
    outputBinding: {glob: $(inputs.outdir)/logs/ml.log}
