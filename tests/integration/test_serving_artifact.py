"""model.tar.gz: built as SageMaker expects, served from a fresh folder by its own code/ alone,
and served by the command-line server, which shuts down cleanly on SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from churn_model.serving.package import build_model_tarball

from tests.conftest import SEED_BODY

pytestmark = [pytest.mark.model, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tarball(tiny_model_dir, tmp_path_factory):
    return build_model_tarball(tiny_model_dir, tmp_path_factory.mktemp("artifact") / "model.tar.gz")


def test_layout_and_requirements(tarball, tiny_model_dir):
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
        requirements = archive.extractfile("code/requirements.txt").read().decode()
    for required in (
        "model.joblib",
        "feature_names.json",
        "model.json",
        "encoder/modules.json",
        "encoder/model.safetensors",
        "code/inference.py",
        "code/churn_contracts/endpoint.py",
        "code/churn_model/artifact.py",
        "code/churn_model/encoder.py",
        "code/churn_model/serving/handlers.py",
    ):
        assert required in names, required
    # The local server and the packager are not serving code.
    assert "code/churn_model/serving/server.py" not in names
    assert "code/churn_model/serving/package.py" not in names
    assert not (tiny_model_dir / "code").exists()  # the model dir is left as it was

    pins = dict(line.split("==") for line in requirements.splitlines() if "==" in line)
    trained = json.loads((tiny_model_dir / "model.json").read_text())["versions"]
    for dist in ("scikit-learn", "sentence-transformers", "joblib", "numpy"):
        assert pins[dist] == trained[dist]
    assert not any(line.strip().lower().startswith("torch") for line in requirements.splitlines())


ISOLATED_SERVING = textwrap.dedent(
    """
    import json, sys
    code_dir, model_dir = sys.argv[1], sys.argv[2]
    # Only the unpacked code/: no editable install of the repository, no source paths.
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
    sys.path[:] = [code_dir] + [p for p in sys.path if "site-packages" in p or "lib/python" in p]

    class Context:  # the slice of TorchServe's context the handlers use
        status = 200
        def set_response_status(self, code=200, phrase="", idx=0):
            self.status = code

    import inference
    import churn_contracts, churn_model.artifact
    modules = [inference, churn_contracts, churn_model.artifact]
    assert all(m.__file__.startswith(code_dir) for m in modules), [m.__file__ for m in modules]

    model = inference.model_fn(model_dir, Context())
    answers = []
    for body in (sys.stdin.readline().strip(), '{"plan": [3]}'):
        context = Context()
        data = inference.input_fn(body, "application/json", context)
        result = inference.predict_fn(data, model, context)
        payload, content_type = inference.output_fn(result, "application/json", context)
        answers.append({"status": context.status, "content_type": content_type, "body": json.loads(payload)})
    print(json.dumps(answers))
    """
)


def test_unpacked_tarball_serves_through_its_own_handlers(tarball, tmp_path):
    unpacked = tmp_path / "opt-ml-model"
    with tarfile.open(tarball) as archive:
        archive.extractall(unpacked, filter="data")
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", ISOLATED_SERVING, str(unpacked / "code"), str(unpacked)],
        input=json.dumps(SEED_BODY) + "\n",
        capture_output=True,
        text=True,
        cwd=unpacked,
        env=environment,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    good, bad = json.loads(completed.stdout.strip().splitlines()[-1])
    assert good["status"] == 200 and good["content_type"] == "application/json"
    assert 0.0 <= good["body"]["probability"] <= 1.0
    assert good["body"]["model_version"] == "tiny-test-model"
    assert bad["status"] == 400 and "'plan'" in bad["body"]["error"]


def test_command_line_server_serves_the_tarball_and_stops_on_sigterm(tarball):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "churn_model.serving.server", "--model", str(tarball), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=environment,
    )
    try:
        banner = process.stdout.readline()
        assert banner.startswith("serving on http://127.0.0.1:"), banner
        url = banner.split()[2]
        deadline = time.monotonic() + 240
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=5) as response:
                    if response.status == 200:
                        break
            except urllib.error.HTTPError as error:
                assert error.code == 503  # still loading
            assert time.monotonic() < deadline, "the model did not load"
            time.sleep(0.5)
        request = urllib.request.Request(
            f"{url}/invocations",
            data=json.dumps(SEED_BODY).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert 0.0 <= json.loads(response.read())["probability"] <= 1.0

        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, log[-3000:]
    assert "SIGTERM received" in log and ": stopped" in log
    assert "POST /invocations 200" in log
    assert "not happy" not in log
