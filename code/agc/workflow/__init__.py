"""Local runners of the workflow specifications: reana.yaml's serial steps as REANA runs them and the
CWL workflow with cwltool (:mod:`agc.workflow.runners`). The top of the stage layers: it may
import every stage beneath it.
"""
