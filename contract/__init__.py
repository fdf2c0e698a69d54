"""The job contract: everything the API (`service/`) and the workers (`workers/`) share, and nothing else.

Redis keys and queue names, settings, one typed payload per job kind, the RQ adapter, attribute records,
image checks and job metrics. Both sides import this package; it imports neither of them, nor torch, nor
FastAPI, so a worker never loads the web stack and the API never loads the model.
"""
