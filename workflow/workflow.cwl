#!/usr/bin/env cwl-runner
# The CWL workflow of the AGC ttbar analysis (CMS 2015 Open Data):
#   dataset -> histograms (scattered: one job per process__variation) -> merge -> model -> fit -> ml
#   -> report; reinterpret and optimise beside them
#
#   reana-client run -w agc-ttbar-cwl -f reana-cwl.yaml          # on a REANA cluster
#   make run-cwl PARAMS="-p max_files=1"                          # locally: cwltool --no-container
#
# The parameters (inputs, samples, executor, workers, chunksize, max_files, scheduler, outdir,
# signal, poi, skip_bad_files, format, use_inference, optimise_cut) are those of reana.yaml, the notebooks and the agc CLI, declared once
# in code/agc/core/schemas/parameters.schema.json (the types, defaults and docs below are checked
# against it by tests/scenarios/test_workflow.py); the run's values live in the job file
# reana-cwl-job.yaml. Each tool runs the stage's notebook with papermill, exactly like the
# serial workflow. Every file a step reads is a File input (notebooks, recipe, cabinetry
# configuration, signal declarations, the dataset step's files), staged into the step's working
# directory and named by basename or fixed path: REANA's CWL engine fails on Directory inputs,
# Directories in InitialWorkDirRequirement and writable entries. The container image is a hint (DockerRequirement) and so are REANA's resource
# settings (hints: reana: ...), so `cwltool --no-container` runs the same file locally.
cwlVersion: v1.2
class: Workflow
label: AGC ttbar analysis
$namespaces:
  reana: http://reana.io
requirements:
  ScatterFeatureRequirement: {}
  MultipleInputFeatureRequirement: {}
  StepInputExpressionRequirement: {}
inputs:
  inputs:
    type: string
    default: "embedded"
    doc: "'embedded' or a manifest (.json) in the AGC layout"
  samples:
    type: string
    default: "all"
    doc: "'all' or a comma-separated list of process or process__variation names"
  executor:
    type: string
    default: "futures"
    doc: "how events are processed: iterative (this process), futures (worker processes) or dask"
  workers:
    type: int
    default: 2
    doc: "number of worker processes, 1-1024"
  chunksize:
    type: int
    default: 100000
    doc: "events per chunk, 1-100000000"
  max_files:
    type: int
    default: -1
    doc: "-1 (all files) or a positive number of files per sample"
  scheduler:
    type: string
    default: ""
    doc: "'' ($DASK_SCHEDULER_URI when set, as on REANA with Dask, else a local dask LocalCluster) or a scheduler address such as tcp://host:8786"
  outdir:
    type: string
    default: "outputs"
    doc: "a relative path inside the workspace (not absolute, no '..')"
  signal:
    type: string
    default: "ttbar"
    doc: "'ttbar' or a signal declaration: a relative path inside the workspace (not absolute, no '..')"
  poi:
    type: string
    default: "ttbar_norm"
    doc: "a parameter name such as ttbar_norm or mu_sig"
  skip_bad_files:
    type: boolean
    default: false
    doc: "true or false: skip unreadable input files (listed in cutflow.json and provenance.json) instead of stopping"
  format:
    type: string
    default: "ttree"
    doc: "file format of the generated embedded dataset: ttree or rntuple (inputs are read in the format of their files)"
  use_inference:
    type: boolean
    default: true
    doc: "true or false (the AGC's USE_INFERENCE): BDT jet-parton assignment in 4j2b events, its 20 features in histograms_ml.root and the ML fit in outdir/ml; false skips them (outdir/ml/NOTE.txt says so)"
  optimise_cut:
    type: string
    default: "none"
    doc: "none, btag or jet_pt: the selection threshold agc optimise relaxes and optimises by gradient descent (outdir/optimise); none skips it (outdir/optimise/NOTE.txt says so)"
  notebook_dataset: {type: File, doc: notebooks/00_dataset.ipynb}
  notebook_histograms: {type: File, doc: notebooks/01_histograms.ipynb}
  notebook_merge: {type: File, doc: notebooks/01_merge.ipynb}
  notebook_model: {type: File, doc: notebooks/02_statistical_model.ipynb}
  notebook_fit: {type: File, doc: notebooks/03_fit.ipynb}
  notebook_ml: {type: File, doc: notebooks/04_ml.ipynb}
  notebook_optimise: {type: File, doc: notebooks/05_optimise.ipynb}
  recipe: {type: File, doc: "inputs/embedded.yaml, the embedded dataset's recipe"}
  bdt_model_even: {type: File, doc: "inputs/models/agc_reconstruction_bdt/model_even.json (MIT, see its LICENSE)"}
  bdt_model_odd: {type: File, doc: "inputs/models/agc_reconstruction_bdt/model_odd.json (MIT, see its LICENSE)"}
  model_config: {type: File, doc: "inputs/cabinetry.yaml, the cabinetry configuration"}
  ml_config: {type: File, doc: "inputs/cabinetry_ml.yaml, the ML model's cabinetry configuration"}
  signal_declarations:
    type: File[]
    doc: the signal declarations inputs/signals/*.yaml (for signal = one of them)
outputs:
  dataset_json:
    type: File
    outputSource: dataset/summary
  histograms_root:
    type: File
    outputSource: merge/histograms
  cutflow_json:
    type: File
    outputSource: merge/cutflow
  histograms_ml_root:
    type: File[]
    outputSource: merge/histograms_ml
  workspace_json:
    type: File
    outputSource: model/workspace
  fit_results_json:
    type: File
    outputSource: fit/fit_results
  plots_dir:
    type: Directory
    outputSource: fit/plots
  report_html:
    type: File
    outputSource: report/report
  notebooks_dir:
    type: Directory
    outputSource: report/notebooks
  provenance_json:
    type: File
    outputSource: report/provenance
  reinterpretation_dir:
    type: Directory
    outputSource: reinterpret/reinterpretation
  ml_dir:
    type: Directory
    outputSource: ml/ml
  optimise_dir:
    type: Directory
    outputSource: optimise/optimise
  logs:
    doc: "the steps' cabinetry and pyhf log files (model.log, fit.log, ml.log, reinterpret.log; a step without such lines has none)"
    type: File[]
    outputSource: [model/log, fit/log, ml/log, reinterpret/log]
    linkMerge: merge_flattened
    pickValue: all_non_null
steps:
  dataset:
    run: dataset.cwl
    in:
      ipynb: notebook_dataset
      recipe: recipe
      inputs: inputs
      samples: samples
      max_files: max_files
      outdir: outdir
      format: format
    out: [data, sample_markers, summary, notebook]
    hints:
      reana:
        compute_backend: kubernetes
        kubernetes_memory_limit: 4Gi
        kubernetes_job_timeout: 3600
  histograms:
    run: histograms.cwl
    scatter: samples
    in:
      ipynb: notebook_histograms
      recipe: recipe
      bdt_model_even: bdt_model_even
      bdt_model_odd: bdt_model_odd
      data: dataset/data
      inputs: inputs
      samples:
        source: dataset/sample_markers
        valueFrom: $(self.basename)
      executor: executor
      workers: workers
      chunksize: chunksize
      max_files: max_files
      scheduler: scheduler
      outdir: outdir
      skip_bad_files: skip_bad_files
      use_inference: use_inference
    out: [partials, notebook]
    hints:
      reana:
        compute_backend: kubernetes
        kubernetes_memory_limit: 8Gi
        kubernetes_job_timeout: 86400
  merge:
    run: merge.cwl
    in:
      ipynb: notebook_merge
      partials: histograms/partials
      outdir: outdir
      skip_bad_files: skip_bad_files
      use_inference: use_inference
    out: [histograms, cutflow, histograms_ml, notebook]
    hints:
      reana:
        compute_backend: kubernetes
        kubernetes_memory_limit: 4Gi
        kubernetes_job_timeout: 3600
  model:
    run: model.cwl
    in:
      ipynb: notebook_model
      model_config: model_config
      histograms: merge/histograms
      outdir: outdir
      signal: signal
      poi: poi
    out: [workspace, notebook, log]
    hints:
      reana:
        compute_backend: kubernetes
        kubernetes_memory_limit: 4Gi
        kubernetes_job_timeout: 3600
  fit:
    run: fit.cwl
    in:
      ipynb: notebook_fit
      workspace: model/workspace
      outdir: outdir
      poi: poi
    out: [fit_results, plots, plot_files, notebook, log]
    hints:
      reana:
        compute_backend: kubernetes
        kubernetes_memory_limit: 4Gi
        kubernetes_job_timeout: 7200
  ml:
    run: ml.cwl
    in:
      ipynb: notebook_ml
      ml_config: ml_config
      main_fit: fit/fit_results
      histograms_ml: merge/histograms_ml
      outdir: outdir
      use_inference: use_inference
    out: [ml, ml_files, notebook, log]
    hints:
      reana:
        compute_backend: kubernetes
        kubernetes_memory_limit: 4Gi
        kubernetes_job_timeout: 3600
  reinterpret:
    run: reinterpret.cwl
    in:
      recipe: recipe
      model_config: model_config
      signal_declarations: signal_declarations
      data: dataset/data
      inputs: inputs
      signal: signal
      executor: executor
      workers: workers
      chunksize: chunksize
      max_files: max_files
      scheduler: scheduler
      outdir: outdir
      partials: histograms/partials
    out: [reinterpretation, log]
    hints:
      reana:
        compute_backend: kubernetes
        kubernetes_memory_limit: 4Gi
        kubernetes_job_timeout: 7200
  optimise:
    run: optimise.cwl
    in:
      ipynb: notebook_optimise
      data: dataset/data
      optimise_cut: optimise_cut
      inputs: inputs
      outdir: outdir
      max_files: max_files
    out: [optimise, notebook]
    hints:
      reana:
        compute_backend: kubernetes
        kubernetes_memory_limit: 8Gi
        kubernetes_job_timeout: 7200
  report:
    run: report.cwl
    in:
      executed:
        source: [dataset/notebook, histograms/notebook, merge/notebook, model/notebook, fit/notebook, ml/notebook, optimise/notebook]
        linkMerge: merge_flattened
      products:
        source: [dataset/summary, merge/histograms, merge/cutflow, merge/histograms_ml, model/workspace, fit/fit_results]
        linkMerge: merge_flattened
      plots: fit/plot_files
      ml_files: ml/ml_files
      outdir: outdir
    out: [report, notebooks, provenance]
    hints:
      reana:
        compute_backend: kubernetes
        kubernetes_memory_limit: 2Gi
        kubernetes_job_timeout: 1800
