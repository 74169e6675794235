#!/usr/bin/env cwl-runner
# Stage 01: histograms of one sample (notebooks/01_histograms.ipynb run by papermill).
cwlVersion: v1.2
class: CommandLineTool
label: histograms
doc: |
  Runs the coffea processor on the samples given (the workflow scatters this tool: one job per
  process__variation) and writes their partial outputs to <outdir>/partial/. The dataset folder
  (data/, from the dataset step) and the repository's inputs/ folder are staged into the working
  directory, so `inputs` resolves exactly as in the serial workflow.
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      - $(inputs.analysis_inputs)
      - $(inputs.data)
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  notebooks: Directory
  analysis_inputs: Directory
  data: Directory?
  inputs: string
  samples: string
  executor: string
  workers: int
  chunksize: int
  max_files: int
  scheduler: string
  outdir: string
  skip_bad_files:
    doc: adds "-p skip_bad_files True" to papermill's call when true (a false boolean renders nothing in CWL)
    type: boolean
    inputBinding: {position: 99, prefix: "-p skip_bad_files True", shellQuote: false}
arguments:
  - mkdir
  - -p
  - $(inputs.outdir)/notebooks
  - {valueFrom: "&&", shellQuote: false}
  - papermill
  - $(inputs.notebooks.path)/01_histograms.ipynb
  - $(inputs.outdir)/notebooks/01_histograms__$(inputs.samples).ipynb
  - -k
  - python3
  - --no-progress-bar
  - -r
  - inputs
  - $(inputs.inputs)
  - -r
  - samples
  - $(inputs.samples)
  - -r
  - executor
  - $(inputs.executor)
  - -p
  - workers
  - $(inputs.workers)
  - -p
  - chunksize
  - $(inputs.chunksize)
  - -p
  - max_files
  - $(inputs.max_files)
  - -r
  - scheduler
  - $(inputs.scheduler)
  - -r
  - outdir
  - $(inputs.outdir)
outputs:
  partials:
    type: File[]
    outputBinding: {glob: $(inputs.outdir)/partial/*}
  notebook:
    type: File
    outputBinding: {glob: $(inputs.outdir)/notebooks/01_histograms__$(inputs.samples).ipynb}
