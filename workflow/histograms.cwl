#!/usr/bin/env cwl-runner
# Stage 01: histograms of one sample (notebooks/01_histograms.ipynb run by papermill).
cwlVersion: v1.2
class: CommandLineTool
label: histograms
doc: |
  Runs the coffea processor on the samples given (the workflow scatters this tool: one job per
  process__variation) and writes their partial outputs to <outdir>/partial/. The notebook, the
  recipe and the dataset step's files are Files staged into the working directory (no Directory
  inputs: REANA's CWL engine does not stage them reliably); data/embedded is made a link to the
  working directory, which holds the dataset's files, so `inputs` resolves as in the serial workflow.
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      - $(inputs.ipynb)
      - entry: $(inputs.recipe)
        entryname: inputs/embedded.yaml
      - entry: $(inputs.bdt_model_even)
        entryname: inputs/models/agc_reconstruction_bdt/model_even.json
      - entry: $(inputs.bdt_model_odd)
        entryname: inputs/models/agc_reconstruction_bdt/model_odd.json
      - $(inputs.data)
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  ipynb: File
  recipe: File
  bdt_model_even: {type: File, doc: "the AGC's BDT trained on even events (use_inference)"}
  bdt_model_odd: {type: File, doc: "the AGC's BDT trained on odd events (use_inference)"}
  data: File[]
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
  use_inference:
    doc: passed as "-p use_inference true|false" (a boolean interpolated into a string renders as JSON)
    type: boolean
arguments:
  - mkdir
  - -p
  - $(inputs.outdir)/notebooks
  - data
  - {valueFrom: "&&", shellQuote: false}
  - ln
  - -sfn
  - ..
  - data/embedded
  - {valueFrom: "&&", shellQuote: false}
  - papermill
  - $(inputs.ipynb.basename)
  - $(inputs.outdir)/notebooks/01_histograms__$(inputs.samples).ipynb
  - -k
  - python3
  - --engine
  - agc-nbclient
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
  - {valueFrom: "-p use_inference $(inputs.use_inference)", shellQuote: false}
outputs:
  partials:
    type: File[]
    outputBinding: {glob: $(inputs.outdir)/partial/*}
  notebook:
    type: File
    outputBinding: {glob: $(inputs.outdir)/notebooks/01_histograms__$(inputs.samples).ipynb}
