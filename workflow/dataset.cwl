#!/usr/bin/env cwl-runner
# Stage 00: prepare the dataset (notebooks/00_dataset.ipynb run by papermill).
cwlVersion: v1.2
class: CommandLineTool
label: dataset
doc: |
  Generates the embedded default dataset under data/embedded from the recipe (staged as
  inputs/embedded.yaml), as TTree or RNTuple files (format), when inputs = "embedded", or validates the manifest given; writes
  <outdir>/dataset.json and one marker file per selected sample in <outdir>/samples/, over which the
  workflow scatters the histogram stage. The notebook and the recipe are Files staged into the
  working directory and named by basename or fixed path (REANA's CWL engine stages Files reliably,
  not Directory inputs).
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      - $(inputs.ipynb)
      - entry: $(inputs.recipe)
        entryname: inputs/embedded.yaml
hints:
  DockerRequirement:
    dockerPull: docker.io/agcpreservation/agc-ttbar:0.1.0
inputs:
  ipynb: File
  recipe: File
  inputs: string
  samples: string
  max_files: int
  outdir: string
  format: string
arguments:
  - mkdir
  - -p
  - $(inputs.outdir)/notebooks
  - {valueFrom: "&&", shellQuote: false}
  - papermill
  - $(inputs.ipynb.basename)
  - $(inputs.outdir)/notebooks/00_dataset.ipynb
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
  - -p
  - max_files
  - $(inputs.max_files)
  - -r
  - outdir
  - $(inputs.outdir)
  - -r
  - format
  - $(inputs.format)
outputs:
  data:
    doc: the generated dataset's files (manifest.json, generation.json, *.root); none for a manifest
    type: File[]
    outputBinding: {glob: data/embedded/*}
  sample_markers:
    type: File[]
    outputBinding: {glob: $(inputs.outdir)/samples/*}
  summary:
    type: File
    outputBinding: {glob: $(inputs.outdir)/dataset.json}
  notebook:
    type: File
    outputBinding: {glob: $(inputs.outdir)/notebooks/00_dataset.ipynb}
