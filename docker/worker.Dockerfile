# A CPU worker: torch (CPU build), the D2C library and ONNX Runtime. The checkpoint is mounted at /app/checkpoints.
# For a small image pass --build-arg PIP_EXTRA_INDEX_URL=<the PyTorch CPU wheel index>; without it pip takes
# the default (CUDA-enabled, much larger) torch build, which also runs on CPU.
FROM python:3.11-slim
ARG TORCH_SPEC="torch==2.13.0"
ARG PIP_EXTRA_INDEX_URL=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CHECKPOINT=/app/checkpoints/celeba64
RUN apt-get update && apt-get install -y --no-install-recommends libglib2.0-0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
RUN pip install "${TORCH_SPEC}" \
    && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['model'] + p['optional-dependencies']['cpu']))" > requirements.txt \
    && pip install -r requirements.txt "opencv-python-headless>=4.9,<5" "dlib-bin>=19.24" "face-recognition-models>=0.3" \
    && useradd --create-home --uid 10001 app
COPY model ./model
COPY contract ./contract
COPY faces ./faces
COPY workers ./workers
USER app
ENV WORKERS=1 BACKEND=auto
HEALTHCHECK --interval=15s --timeout=10s --start-period=120s --retries=3 CMD ["python", "-m", "workers.healthcheck"]
CMD ["sh", "-c", "exec python -m workers --count \"$WORKERS\" --device cpu --backend \"$BACKEND\""]
