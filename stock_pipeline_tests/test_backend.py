"""The backend is prepared in one place (``stock_pipeline.backend``): importing the package
or its settings changes nothing in the process, and the compilation cache goes where the
setting ``compute.jax_cache_dir`` says, in the process that trains and on Dask workers.
Each case runs in a fresh interpreter: what is checked is process state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stock_pipeline.settings import ComputeSettings, Settings

#: Variables the package set on import before the backend module existed.
BACKEND_VARIABLES = (
    "KERAS_BACKEND",
    "JAX_COMPILATION_CACHE_DIR",
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "STOCK_PIPELINE_JAX_CACHE",
)

ENVIRONMENT_AFTER_IMPORTS = """
import json, os, sys
before = dict(os.environ)
for name in sys.argv[1:]:
    __import__(name)
    if name == "stock_pipeline.settings":
        sys.modules[name].Settings.from_env()
after = dict(os.environ)
changed = {k: after.get(k) for k in set(before) | set(after) if before.get(k) != after.get(k)}
print(json.dumps(changed))
"""


def environment_changes(*modules: str, **preset: str) -> dict[str, str | None]:
    env = {k: v for k, v in os.environ.items() if k not in BACKEND_VARIABLES}
    env.update(preset)
    out = subprocess.run(
        [sys.executable, "-c", ENVIRONMENT_AFTER_IMPORTS, *modules],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_importing_the_package_and_its_settings_leaves_the_environment_unchanged():
    assert environment_changes("stock_pipeline", "stock_pipeline.settings") == {}


def test_the_backend_adds_only_the_keras_backend_variable_to_what_the_libraries_set():
    # Keras reads its backend only from the environment, at its import: the one variable;
    # jax and keras set a few of their own (TF_CPP_MIN_LOG_LEVEL, ...) when imported
    libraries = environment_changes("jax", "keras", KERAS_BACKEND="jax")
    assert environment_changes("stock_pipeline.backend") == {**libraries, "KERAS_BACKEND": "jax"}


# Trains one small network on the engine that the settings name, the way a run's stage
# does, and reports where the process that trained keeps its compiled programs.
TRAIN_ON_THE_ENGINE = """
import json, sys
import numpy as np
from stock_pipeline.compute import open_engine
from stock_pipeline.settings import ComputeSettings

def train():
    from stock_pipeline.backend import jax
    from stock_pipeline.forecasting import network
    from stock_pipeline.settings import ModelSettings
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 10, 3)).astype("float32")
    y = rng.normal(size=64).astype("float32")
    settings = ModelSettings(lstm_units=(8,), epochs=2, batch_size=32, patience=2)
    network.fit(network.build_model(10, 3, settings, "return"), x, y, settings, 1, 2)
    return jax.config.jax_compilation_cache_dir

compute = ComputeSettings.model_validate(json.loads(sys.argv[1]))
with open_engine(compute) as engine:
    (outcome,) = engine.map(train, [()])
print(json.dumps({"cache_dir": outcome.value, "error": outcome.error}))
"""


def train_on_engine(compute: ComputeSettings, tmp_path: Path) -> dict:
    # the default folder would be under this XDG_CACHE_HOME: nothing may land there
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    env = {k: v for k, v in env.items() if k not in BACKEND_VARIABLES[1:]}
    out = subprocess.run(
        [sys.executable, "-c", TRAIN_ON_THE_ENGINE, compute.model_dump_json()],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def compiled_programs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("jit_"))


def test_a_training_run_writes_its_compiled_programs_where_the_setting_says(tmp_path):
    folder = tmp_path / "jax-cache"
    result = train_on_engine(ComputeSettings(jax_cache_dir=folder), tmp_path)
    assert result == {"cache_dir": str(folder), "error": None}
    assert compiled_programs(folder)  # the training step, the predict step, ...
    assert not (tmp_path / "xdg").exists()


@pytest.mark.slow
def test_a_dask_worker_applies_the_setting_before_its_first_compile(tmp_path):
    folder = tmp_path / "worker-cache"
    compute = ComputeSettings(engine="local_cluster", workers=1, jax_cache_dir=folder)
    result = train_on_engine(compute, tmp_path)
    assert result == {"cache_dir": str(folder), "error": None}
    assert compiled_programs(folder)
    assert not (tmp_path / "xdg").exists()


def test_the_cache_folder_defaults_to_the_user_cache_and_the_environment_moves_or_stops_it(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ComputeSettings().jax_cache_dir == tmp_path / "xdg" / "stock_pipeline" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    home_default = Path.home() / ".cache" / "stock_pipeline" / "jax"
    assert Settings.from_env({}).compute.jax_cache_dir == home_default

    def cache_dir(**env: str) -> Path | None:
        return Settings.from_env(env).compute.jax_cache_dir

    assert cache_dir(STOCK_PIPELINE_JAX_CACHE="off") is None
    assert cache_dir(STOCK_PIPELINE_JAX_CACHE="No") is None
    assert cache_dir(STOCK_PIPELINE_JAX_CACHE=str(tmp_path / "a")) == tmp_path / "a"
    assert cache_dir(JAX_COMPILATION_CACHE_DIR=str(tmp_path / "b")) == tmp_path / "b"
    # ours wins over JAX's own variable: off means off
    both = {"JAX_COMPILATION_CACHE_DIR": str(tmp_path / "b"), "STOCK_PIPELINE_JAX_CACHE": "0"}
    assert cache_dir(**both) is None


def test_a_yaml_file_switches_the_cache_off_with_a_bare_off(tmp_path):
    config = tmp_path / "settings.yaml"
    config.write_text("compute:\n  jax_cache_dir: off\n")  # YAML 1.1 reads `off` as false
    assert yaml.safe_load(config.read_text()) == {"compute": {"jax_cache_dir": False}}
    assert Settings.from_env({"STOCK_PIPELINE_CONFIG": str(config)}).compute.jax_cache_dir is None
    config.write_text(f"compute:\n  jax_cache_dir: {tmp_path / 'c'}\n")
    settings = Settings.from_env({"STOCK_PIPELINE_CONFIG": str(config)})
    assert settings.compute.jax_cache_dir == tmp_path / "c"
