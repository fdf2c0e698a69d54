"""Command-line pipelines over the D2C library: built-in attributes, evaluation, condition evaluation with the
oracle, ONNX export and release. They import `model/`; `model/`, `service/` and `workers/` never import them."""
