"""Training subpackage: ``python -m model.training --data PATH --out DIR`` produces a checkpoint directory."""
