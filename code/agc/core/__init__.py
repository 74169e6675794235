"""Shared foundations of every stage: errors, atomic file I/O, reproducible ROOT writing, schema
validation, strict YAML of user declarations (:mod:`agc.core.yamlsafe`), the workflow parameters
and their schema, the physics constants of docs/analysis.md, and the code version
(:mod:`agc.core.codeversion`). Imports nothing else of the package.

Modules import their dependencies themselves; this ``__init__`` stays empty so that importing a
light module (e.g. the fit workers' settings) never pulls in the heavy libraries.
"""
