#!/usr/bin/env cwl-runner
# Final step: the executed notebooks -> one HTML report (agc report, agc.publish.report.build_report).
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
    doc: the run's data products (dataset.json, histograms.root, cutflow.json, workspace.json, fit_results.json)
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
  - {position: 7, valueFrom: agc}
  - {position: 7, valueFrom: report}
  - {position: 7, valueFrom: --outdir}
  - {position: 7, valueFrom: $(inputs.outdir)}
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
