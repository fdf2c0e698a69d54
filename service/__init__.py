"""The light HTTP front end: FastAPI + Redis/RQ, no torch (the workers hold the models)."""
