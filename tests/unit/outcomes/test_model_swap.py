"""The local model server serves a promoted model without a restart: same port, the next request
scores on the new version; a model that fails to load leaves the old one serving."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests

from tests.conftest import SEED_BODY

pytestmark = [pytest.mark.slow, pytest.mark.model]


def version(url: str) -> str:
    answer = requests.post(f"{url}/invocations", json=SEED_BODY, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()["model_version"]


def test_a_promoted_model_serves_on_the_same_port_without_a_restart(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from churn_model.serving.server import LocalEndpointServer

    promoted = tmp_path / "promoted"
    shutil.copytree(tiny_model_dir, promoted)
    metadata = json.loads((promoted / "model.json").read_text())
    (promoted / "model.json").write_text(json.dumps({**metadata, "model_version": "promoted-2"}))
    with LocalEndpointServer(tiny_model_dir, host="127.0.0.1", port=0) as server:
        url = server.url
        before = version(url)
        assert server.replace(promoted) == "promoted-2"
        assert server.url == url and version(url) == "promoted-2" != before
        with pytest.raises(FileNotFoundError):
            server.replace(tmp_path / "no-such-model")
        assert version(url) == "promoted-2"
