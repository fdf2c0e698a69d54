# A GPU worker: CUDA + cuDNN runtime, torch with CUDA, onnxruntime-gpu. One worker process per GPU
# (WORKERS = number of GPUs; each process gets its own CUDA_VISIBLE_DEVICES).
FROM nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
ARG TORCH_SPEC="torch==2.13.0"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CHECKPOINT=/app/checkpoints/celeba64 PATH=/opt/venv/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
WORKDIR /app
COPY pyproject.toml ./
RUN pip install "${TORCH_SPEC}" \
    && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['model'] + p['optional-dependencies']['gpu']))" > requirements.txt \
    && pip install -r requirements.txt "opencv-python-headless>=4.9,<5" "dlib-bin>=19.24" "face-recognition-models>=0.3" \
    && useradd --create-home --uid 10001 app
COPY model ./model
COPY contract ./contract
COPY faces ./faces
COPY workers ./workers
USER app
ENV WORKERS=1 BACKEND=torch
HEALTHCHECK --interval=15s --timeout=10s --start-period=180s --retries=3 CMD ["python", "-m", "workers.healthcheck"]
CMD ["sh", "-c", "exec python -m workers --count \"$WORKERS\" --device cuda --backend \"$BACKEND\""]
