"""What can be checked without a Docker engine: the compose file's structure, the images' contents, and
that the API package never imports torch, the model library or the workers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_redis_with_aof_and_a_volume():
    redis = compose()["services"]["redis"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    volume = redis["volumes"][0].split(":")[0]
    assert volume in compose()["volumes"]


def test_every_service_has_a_healthcheck_and_its_dockerfile_exists():
    services = compose()["services"]
    assert {"redis", "api", "worker", "worker-gpu"} <= set(services)
    for name, service in services.items():
        assert "test" in service["healthcheck"], name
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name


def test_gpu_workers_are_a_profile_with_device_reservations():
    gpu = compose()["services"]["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "profiles" not in compose()["services"]["worker"]  # the CPU worker scales with --scale worker=N
    assert "container_name" not in compose()["services"]["worker"]


def test_api_image_has_no_torch_and_no_model_code():
    text = (ROOT / "docker" / "api.Dockerfile").read_text()
    assert "torch" not in text.replace("No torch", "")
    assert "COPY model" not in text and "optional-dependencies" not in text


def test_images_copy_the_packages_their_processes_import():
    assert "COPY contract" in (ROOT / "docker" / "api.Dockerfile").read_text()
    for name in ("worker.Dockerfile", "worker-gpu.Dockerfile"):
        text = (ROOT / "docker" / name).read_text()
        assert "COPY contract" in text and "COPY model" in text and "COPY workers" in text, name
        assert "COPY service" not in text, name  # workers never import the API package


def test_worker_images_install_their_backends():
    assert "['cpu']" in (ROOT / "docker" / "worker.Dockerfile").read_text()
    gpu = (ROOT / "docker" / "worker-gpu.Dockerfile").read_text()
    assert "['gpu']" in gpu and "nvidia/cuda" in gpu and "--device cuda" in gpu


def test_service_package_never_imports_torch_model_or_workers():
    probe = (
        "import importlib, pkgutil, sys, service\n"
        "for module in pkgutil.walk_packages(service.__path__, 'service.'):\n"
        "    importlib.import_module(module.name)\n"
        "from service.main import create_app\n"
        "create_app()\n"
        "heavy = ('torch', 'model', 'workers', 'numpy', 'cv2')\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
