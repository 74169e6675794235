#!/usr/bin/env cwl-runner
# Final step: the executed notebooks -> one HTML report (agc report, agc.report.build.build_report).
cwlVersion: v1.2
class: CommandLineTool
label: report
doc: |
  Collects the executed notebooks of every step in <outdir>/notebooks/ (kept as an output, as in the
  serial workflow) and the data products of the run in <outdir>/, renders the notebooks into
  <outdir>/report.html and writes <outdir>/provenance.json (parameters, inputs with checksums, code
  and environment versions, output checksums), as the serial workflow's report step does.
requirements:
  ShellCommandRequirement: {}
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  executed:
    doc: the executed notebooks of every step
    type:
      type: array
      items: File
    inputBinding: {position: 2}
  products:
    doc: the run's data products (dataset.json, histograms.root, cutflow.json, histograms_ml.root, workspace.json, fit_results.json)
    type:
      type: array
      items: File
    inputBinding: {position: 4}
  plots:
    doc: the paper plots
    type:
      type: array
      items: File
    inputBinding: {position: 6}
  ml_files:
    doc: the ML step's files (<outdir>/ml/*.*; its plots stay in the workflow output ml)
    type:
      type: array
      items: File
    inputBinding: {position: 8}
  outdir: string
arguments:
  - {position: 1, valueFrom: mkdir}
  - {position: 1, valueFrom: -p}
  - {position: 1, valueFrom: $(inputs.outdir)/notebooks}
  - {position: 1, valueFrom: "&&", shellQuote: false}
  - {position: 1, valueFrom: cp}
  - {position: 3, valueFrom: $(inputs.outdir)/notebooks/}
  - {position: 3, valueFrom: "&&", shellQuote: false}
  - {position: 3, valueFrom: cp}
  - {position: 5, valueFrom: $(inputs.outdir)/}
  - {position: 5, valueFrom: "&&", shellQuote: false}
  - {position: 5, valueFrom: mkdir}
  - {position: 5, valueFrom: -p}
  - {position: 5, valueFrom: $(inputs.outdir)/plots}
  - {position: 5, valueFrom: "&&", shellQuote: false}
  - {position: 5, valueFrom: cp}
  - {position: 7, valueFrom: $(inputs.outdir)/plots/}
  - {position: 7, valueFrom: "&&", shellQuote: false}
  - {position: 7, valueFrom: mkdir}
  - {position: 7, valueFrom: -p}
  - {position: 7, valueFrom: $(inputs.outdir)/ml}
  - {position: 7, valueFrom: "&&", shellQuote: false}
  - {position: 7, valueFrom: cp}
  - {position: 9, valueFrom: $(inputs.outdir)/ml/}
  - {position: 9, valueFrom: "&&", shellQuote: false}
  - {position: 9, valueFrom: agc}
  - {position: 9, valueFrom: report}
  - {position: 9, valueFrom: --outdir}
  - {position: 9, valueFrom: $(inputs.outdir)}
outputs:
  report:
    type: File
    outputBinding: {glob: $(inputs.outdir)/report.html}
  notebooks:
    type: Directory
    outputBinding: {glob: $(inputs.outdir)/notebooks}
  provenance:
    type: File
    outputBinding: {glob: $(inputs.outdir)/provenance.json}
