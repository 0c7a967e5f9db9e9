"""Dataset fetchers (rewardscope.datasets) against a real HTTP server on loopback serving small fakes."""

import functools
import hashlib
import http.server
import threading
import zipfile

import numpy as np
import pytest

from rewardscope import RewardscopeError, datasets
from rewardscope.io import read_image


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www over HTTP on 127.0.0.1; yields (folder, base URL)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def fake_wheel(server, tmp_path, monkeypatch):
    """A wheel shaped like atomap 0.2.1's, holding a small HyperSpy-layout ADF image; the cache in
    tmp_path."""
    h5py = pytest.importorskip("h5py")
    www, url = server
    image = tmp_path / "adf.hdf5"
    with h5py.File(image, "w") as f:
        f.create_dataset(
            "Experiments/__unnamed__/data", data=np.arange(48 * 40, dtype=np.float32).reshape(48, 40)
        )
    wheel = www / "atomap-0.2.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(image, datasets.SRTIO3_MEMBERS["ADF"])
        z.writestr("atomap/__init__.py", "")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    monkeypatch.setenv("REWARDSCOPE_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "ATOMAP_WHEEL", datasets.Remote(f"{url}/{wheel.name}", f"sha256:{digest}"))
    return wheel


def test_srtio3_image_is_fetched_unpacked_and_cached(fake_wheel, tmp_path):
    path = datasets.srtio3_110("ADF", progress=False)
    assert path.is_file() and path.is_relative_to(tmp_path / "cache")
    assert read_image(path).shape == (48, 40)
    fake_wheel.unlink()  # a second call must not need the server's file
    assert datasets.fetch("srtio3-adf", progress=False) == path


def test_a_download_with_the_wrong_hash_is_refused(fake_wheel, monkeypatch):
    remote = datasets.ATOMAP_WHEEL
    monkeypatch.setattr(datasets, "ATOMAP_WHEEL", datasets.Remote(remote.url, "sha256:" + "0" * 64))
    with pytest.raises(RewardscopeError, match="could not fetch .*hash"):
        datasets.srtio3_110("ADF", progress=False)


def test_an_unreachable_server_is_one_clear_error(server, tmp_path, monkeypatch):
    _, url = server
    monkeypatch.setenv("REWARDSCOPE_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(datasets, "ATOMAP_WHEEL", datasets.Remote(f"{url}/missing.whl", None))
    with pytest.raises(RewardscopeError, match="could not fetch .*missing.whl"):
        datasets.srtio3_110("ABF", progress=False)


@pytest.mark.parametrize("call", [lambda: datasets.fetch("bfo"), lambda: datasets.srtio3_110("HAADF")])
def test_unknown_names_are_refused(call):
    with pytest.raises(RewardscopeError, match="unknown"):
        call()
