#!/usr/bin/env cwl-runner
# Stage 05: the differentiable cut optimisation (notebooks/05_optimise.ipynb, agc optimise).
cwlVersion: v1.2
class: CommandLineTool
label: optimise
doc: |
  With optimise_cut = btag or jet_pt, relaxes that selection threshold into a sigmoid, scans it
  with hard cuts and optimises it by gradient descent on the expected uncertainty on ttbar_norm:
  <outdir>/optimise/optimise.json and optimise.png. With optimise_cut = none it only writes
  <outdir>/optimise/NOTE.txt. The dataset's files are Files (no Directory inputs); data/embedded
  is a link to the working directory, as in the histogram step.
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      - $(inputs.ipynb)
      - $(inputs.data)
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  ipynb: File
  data: File[]
  optimise_cut: string
  inputs: string
  outdir: string
  max_files: int
arguments:
  - {position: 1, valueFrom: mkdir}
  - {position: 1, valueFrom: -p}
  - {position: 1, valueFrom: $(inputs.outdir)/notebooks}
  - {position: 1, valueFrom: data}
  - {position: 1, valueFrom: "&&", shellQuote: false}
  - {position: 1, valueFrom: ln}
  - {position: 1, valueFrom: -sfn}
  - {position: 1, valueFrom: ..}
  - {position: 1, valueFrom: data/embedded}
  - {position: 1, valueFrom: "&&", shellQuote: false}
  - {position: 2, valueFrom: papermill}
  - {position: 2, valueFrom: $(inputs.ipynb.basename)}
  - {position: 2, valueFrom: $(inputs.outdir)/notebooks/05_optimise.ipynb}
  - {position: 2, valueFrom: -k}
  - {position: 2, valueFrom: python3}
  - {position: 2, valueFrom: --engine}
  - {position: 2, valueFrom: agc-nbclient}
  - {position: 2, valueFrom: --no-progress-bar}
  - {position: 2, valueFrom: -r}
  - {position: 2, valueFrom: optimise_cut}
  - {position: 2, valueFrom: $(inputs.optimise_cut)}
  - {position: 2, valueFrom: -r}
  - {position: 2, valueFrom: inputs}
  - {position: 2, valueFrom: $(inputs.inputs)}
  - {position: 2, valueFrom: -r}
  - {position: 2, valueFrom: outdir}
  - {position: 2, valueFrom: $(inputs.outdir)}
  - {position: 2, valueFrom: -p}
  - {position: 2, valueFrom: max_files}
  - {position: 2, valueFrom: $(inputs.max_files)}
outputs:
  optimise:
    doc: the optimisation's products (a workflow output)
    type: Directory
    outputBinding: {glob: $(inputs.outdir)/optimise}
  notebook:
    type: File
    outputBinding: {glob: $(inputs.outdir)/notebooks/05_optimise.ipynb}
