"""The weights loader, offline: checkpoints are written by the tests, downloads go to 127.0.0.1 or fail."""

import hashlib
import http.client
import http.server
import os
import pathlib
import socket
import threading
import urllib.error
import urllib.request

import pytest
import torch
import torchvision
from torchvision.models import ResNet18_Weights, ResNet50_Weights

import backbones_tutorial.weights as weights_module
from backbones_tutorial.weights import (
    BadCheckpoint,
    WeightsUnavailable,
    checkpoint_path,
    download_checkpoint,
    load_checkpoint,
    load_state_dict,
    pretrained,
    pretrained_or_random,
    resolve_weights,
)

W18 = ResNet18_Weights.IMAGENET1K_V1
FILE18 = os.path.basename(W18.url)  # resnet18-f37072fd.pth


class Downloads:
    """Stands in for weights.download_checkpoint: records each call, then fails or writes a file."""

    def __init__(self, error=None, payload=None):
        self.calls, self.error, self.payload = [], error, payload

    def __call__(self, url, path, timeout):
        self.calls.append((url, path, timeout))
        if self.error is not None:
            raise self.error
        pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(path).write_bytes(self.payload)


def refuse_network(*args, **kwargs):
    raise urllib.error.URLError("no network in tests")


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test reaches the network: urlopen fails as it would without one, and downloads are recorded."""
    monkeypatch.setattr(urllib.request, "urlopen", refuse_network)
    fake = Downloads(error=urllib.error.URLError("no network in tests"))
    monkeypatch.setattr(weights_module, "download_checkpoint", fake)
    return fake


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """torch hub's folder under $TORCH_HOME=tmp_path; a set_dir made earlier is undone, then restored."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # what set_dir sets; monkeypatch restores it
    return tmp_path / "hub" / "checkpoints"


def resnet18_state(seed=0):
    torch.manual_seed(seed)
    return torchvision.models.resnet18(weights=None).state_dict()


def save_named(folder, obj, stem="resnet18"):
    """Save ``obj`` as torch hub would name it: ``<stem>-<first 8 hex digits of its SHA-256>.pth``."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "unnamed.pth"
    torch.save(obj, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    path = folder / f"{stem}-{digest[:8]}.pth"
    tmp.replace(path)
    return path


@pytest.fixture
def cached18(hub, monkeypatch):
    """Put a random resnet18 state dict in the cache under a name whose hash prefix is its own, and
    point W18's checkpoint path at it (the real name's prefix belongs to the real file)."""

    def put(state_dict):
        path = save_named(hub, state_dict)
        monkeypatch.setattr(weights_module, "checkpoint_path", lambda weights: path)
        return path

    return put


def save_resnet18(folder, seed=0):
    state_dict = resnet18_state(seed)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state_dict, folder / FILE18)
    return state_dict


def assert_same_state(model, state_dict):
    loaded = model.state_dict()
    assert loaded.keys() == state_dict.keys()
    for key, tensor in state_dict.items():
        assert torch.equal(loaded[key], tensor), key


def test_checkpoint_path_honours_torch_home(hub):
    assert checkpoint_path(W18) == hub.resolve() / FILE18


def test_checkpoint_path_follows_torch_hub_set_dir(hub, tmp_path):
    torch.hub.set_dir(str(tmp_path / "elsewhere"))
    assert checkpoint_path(W18) == (tmp_path / "elsewhere" / "checkpoints" / FILE18).resolve()


def test_pretrained_loads_a_cached_checkpoint_exactly(cached18, offline):
    saved = resnet18_state(seed=0)
    cached18(saved)
    torch.manual_seed(1)  # a model left at its random init would differ from the saved one
    model = pretrained("resnet18", "IMAGENET1K_V1")
    assert_same_state(model, saved)
    assert offline.calls == []


def test_a_checkpoint_that_does_not_fit_the_model_names_keys_file_and_remedy(cached18):
    saved = resnet18_state()
    del saved["fc.bias"]
    saved["fc.weight"] = torch.zeros(10, 512)  # a 10-class head
    saved["head.extra"] = torch.zeros(1)
    path = cached18(saved)
    with pytest.raises(BadCheckpoint) as raised:
        pretrained("resnet18", "IMAGENET1K_V1")
    message = str(raised.value)
    assert "1 missing keys (fc.bias)" in message and "1 unexpected keys (head.extra)" in message
    assert "fc.weight (10, 512) vs (1000, 512)" in message
    assert str(path) in message and "Delete it and copy it again" in message and W18.url in message
    assert isinstance(raised.value, RuntimeError)  # what load_state_dict(strict=True) raises too


def test_cached_checkpoint_is_read_on_cpu_with_weights_only(cached18, monkeypatch):
    cached18(resnet18_state())
    calls, real_load = [], torch.load

    def recording_load(*args, **kwargs):
        calls.append((args, kwargs))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    load_state_dict(W18)
    assert len(calls) == 1
    assert calls[0][1]["weights_only"] is True
    assert calls[0][1]["map_location"] == "cpu"


class NotATensor:
    """Pickled into a checkpoint: weights_only loading must refuse to rebuild it."""


def broken_files(folder):
    """Each way a local file can be wrong, written to ``folder``: (case, path, words the message must hold)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = save_named(folder, {"w": torch.arange(1000.0)}, stem="good")
    cases = [("missing", folder / "absent-0123abcd.pth", "does not exist")]
    (folder / "empty.pth").write_bytes(b"")
    cases.append(("empty", folder / "empty.pth", "is empty (0 bytes)"))
    data = good.read_bytes()
    (folder / "truncated.pth").write_bytes(data[: len(data) // 2])
    cases.append(("truncated", folder / "truncated.pth", "is truncated or corrupt"))
    (folder / "text.pth").write_text("<html>proxy login</html>")
    cases.append(("not a checkpoint", folder / "text.pth", "is not a PyTorch checkpoint"))
    cases.append(("unsafe pickle", save_named(folder, {"w": torch.zeros(1), "x": NotATensor()}, "unsafe"),
                  "refuses to rebuild"))
    cases.append(("training checkpoint", save_named(folder, {"epoch": 3, "model": {"w": torch.zeros(1)}}, "train"),
                  "training checkpoint"))
    cases.append(("state_dict wrapper", save_named(folder, {"state_dict": {"w": torch.zeros(1)}}, "wrap"),
                  "under 'state_dict'"))
    cases.append(("not a dict", save_named(folder, [torch.zeros(1)], "list"), "holds a list, not a state dict"))
    cases.append(("non-tensor entry", save_named(folder, {"w": torch.zeros(1), "n": 3}, "mixed"),
                  "entry 'n' is a int"))
    wrong = folder / "renamed-0000beef.pth"
    good.rename(wrong)  # another file under a name whose hash prefix is not its own
    cases.append(("hash disagrees with name", wrong, "but its name says it starts with 0000beef"))
    return cases


CASES = ["missing", "empty", "truncated", "not a checkpoint", "unsafe pickle", "training checkpoint",
         "state_dict wrapper", "not a dict", "non-tensor entry", "hash disagrees with name"]


@pytest.mark.parametrize("case", CASES)
def test_every_bad_local_file_is_named_with_its_remedy(tmp_path, case):
    path, words = {c: (p, w) for c, p, w in broken_files(tmp_path)}[case]
    with pytest.raises(BadCheckpoint) as raised:
        load_checkpoint(path, url="https://example.invalid/x.pth")
    message = str(raised.value)
    assert str(path) in message and words in message
    assert "Delete it and copy it again" in message and "https://example.invalid/x.pth" in message
    assert "weights_only=False" not in message  # never advise loading arbitrary pickles
    error = raised.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)  # no torch chain


def test_a_cached_file_under_torchvisions_name_with_another_hash_is_refused(hub):
    save_resnet18(hub)  # random weights under the real file name, whose prefix f37072fd they do not have
    with pytest.raises(BadCheckpoint, match="but its name says it starts with f37072fd") as raised:
        pretrained("resnet18", "IMAGENET1K_V1")
    assert FILE18 in str(raised.value) and W18.url in str(raised.value)


def test_a_file_without_a_hash_in_its_name_loads_without_the_check(tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "mine.pth")
    assert torch.equal(load_checkpoint(tmp_path / "mine.pth")["w"], torch.ones(2))


def test_download_goes_to_the_cache_then_is_loaded_with_the_checks(hub, monkeypatch):
    saved = resnet18_state()
    staging = save_named(hub.parent / "staging", saved)
    fake = Downloads(payload=staging.read_bytes())
    monkeypatch.setattr(weights_module, "download_checkpoint", fake)
    target = hub.resolve() / staging.name
    monkeypatch.setattr(weights_module, "checkpoint_path", lambda weights: target)
    torch.manual_seed(1)
    assert_same_state(pretrained("resnet18", W18), saved)
    [(url, path, timeout)] = fake.calls
    assert url == W18.url and path == target and timeout == weights_module.DOWNLOAD_TIMEOUT


def test_missing_file_without_download_names_file_folder_and_url(hub, offline):
    with pytest.raises(WeightsUnavailable) as raised:
        load_state_dict(W18, download=False)
    message = str(raised.value)
    assert "ResNet18_Weights.IMAGENET1K_V1" in message
    assert FILE18 in message.replace(W18.url, "")  # named on its own, not only inside the URL
    assert f"{hub.resolve()}{os.sep}" in message
    assert W18.url in message
    assert offline.calls == []  # not even tried


@pytest.mark.parametrize(
    "error",
    [
        urllib.error.URLError("[Errno -3] Temporary failure in name resolution"),
        urllib.error.HTTPError(W18.url, 403, "Forbidden", None, None),
        TimeoutError("timed out"),
        ConnectionResetError("connection reset by peer"),
        http.client.IncompleteRead(b"partial"),
    ],
    ids=["URLError", "HTTPError", "timeout", "reset", "IncompleteRead"],
)
def test_failed_download_raises_weights_unavailable_with_the_url(hub, monkeypatch, error):
    monkeypatch.setattr(weights_module, "download_checkpoint", Downloads(error=error))
    with pytest.raises(WeightsUnavailable) as raised:
        pretrained("resnet18", "IMAGENET1K_V1", download=True)
    message = str(raised.value)
    assert W18.url in message and str(hub.resolve()) in message
    assert FILE18 in message.replace(W18.url, "")
    assert "download failed" in message
    assert raised.value.__cause__ is error
    assert isinstance(raised.value, RuntimeError)


@pytest.fixture
def silent_server():
    """A socket on 127.0.0.1 that accepts connections (the kernel's backlog) and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.fixture
def wrong_bytes_server():
    """An HTTP server on 127.0.0.1 that answers every request with bytes that are not the checkpoint."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>a captive portal, not weights</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep the test output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def real_urlopen(monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", URLOPEN)


URLOPEN = urllib.request.urlopen  # the real one, before the autouse fixture replaces it


def test_a_download_from_a_server_that_never_answers_times_out(tmp_path, silent_server, real_urlopen):
    target = tmp_path / "resnet18-f37072fd.pth"
    with pytest.raises(OSError, match="timed out"):
        download_checkpoint(f"{silent_server}/{target.name}", target, timeout=0.2)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_a_download_that_hangs_becomes_weights_unavailable(hub, silent_server, real_urlopen, monkeypatch):
    target = hub.resolve() / FILE18
    monkeypatch.setattr(weights_module, "checkpoint_path", lambda weights: target)
    monkeypatch.setattr(weights_module, "download_checkpoint",
                        lambda url, path, timeout: download_checkpoint(f"{silent_server}/x.pth", path, timeout))
    with pytest.raises(WeightsUnavailable, match="download failed: .*timed out") as raised:
        load_state_dict(W18, timeout=0.2)
    assert W18.url in str(raised.value) and FILE18 in str(raised.value)
    assert not target.exists()


def test_a_download_with_the_wrong_bytes_is_refused_and_not_cached(tmp_path, wrong_bytes_server, real_urlopen):
    target = tmp_path / "resnet18-f37072fd.pth"
    with pytest.raises(OSError, match="not the f37072fd"):
        download_checkpoint(f"{wrong_bytes_server}/{target.name}", target, timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_a_download_with_the_right_bytes_enters_the_cache(tmp_path, wrong_bytes_server, real_urlopen):
    body = b"<html>a captive portal, not weights</html>"
    name = f"page-{hashlib.sha256(body).hexdigest()[:8]}.html"  # the name promises exactly these bytes
    download_checkpoint(f"{wrong_bytes_server}/{name}", tmp_path / name, timeout=5)
    assert (tmp_path / name).read_bytes() == body and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("timeout", [0, -1, True, "30"])
def test_a_timeout_that_is_not_a_positive_number_is_refused(hub, timeout):
    with pytest.raises(ValueError, match=f"timeout must be a positive number of seconds, got {timeout!r}"):
        load_state_dict(W18, timeout=timeout)


def test_load_state_dict_wants_a_weights_member():
    with pytest.raises(TypeError, match="WeightsEnum member.*got str 'IMAGENET1K_V1'"):
        load_state_dict("IMAGENET1K_V1")


def test_pretrained_or_random_falls_back_reproducibly_without_downloading(hub, offline):
    torch.manual_seed(123)
    caller_state = torch.get_rng_state()
    first, message = pretrained_or_random("resnet18", "IMAGENET1K_V1", seed=0)
    second, _ = pretrained_or_random("resnet18", "IMAGENET1K_V1", seed=0)
    other, _ = pretrained_or_random("resnet18", "IMAGENET1K_V1", seed=1)
    assert message.startswith("random weights (seed 0): ")
    assert f"{hub.resolve()}{os.sep}" in message and W18.url in message
    assert FILE18 in message.replace(W18.url, "")
    assert "\n" not in message
    assert_same_state(second, first.state_dict())
    assert not torch.equal(other.conv1.weight, first.conv1.weight)
    assert torch.equal(torch.get_rng_state(), caller_state)  # the caller's random stream is untouched
    assert offline.calls == []  # download=False by default


def test_pretrained_or_random_uses_the_checkpoint_when_present(cached18):
    saved = resnet18_state(seed=3)
    path = cached18(saved)
    model, message = pretrained_or_random("resnet18", "IMAGENET1K_V1")
    assert message == f"pretrained weights ResNet18_Weights.IMAGENET1K_V1 from {path.name}"
    assert_same_state(model, saved)


def test_default_for_resnet50_is_v2_not_what_pretrained_true_loaded(monkeypatch):
    assert resolve_weights("resnet50", "DEFAULT") is ResNet50_Weights.IMAGENET1K_V2
    assert resolve_weights("resnet50", "DEFAULT") is not resolve_weights("resnet50", "IMAGENET1K_V1")

    # Ask torchvision's own legacy shim which weights pretrained=True loads, stopping before any download.
    class Chosen(Exception):
        pass

    def capture(self, *args, **kwargs):
        raise Chosen(self)

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", capture)
    with pytest.warns(UserWarning, match="deprecated since 0.13"), pytest.raises(Chosen) as chosen:
        torchvision.models.resnet50(pretrained=True)
    assert chosen.value.args[0] is ResNet50_Weights.IMAGENET1K_V1


@pytest.mark.parametrize(
    "weights", ["IMAGENET1K_V2", "ResNet50_Weights.IMAGENET1K_V2", ResNet50_Weights.IMAGENET1K_V2]
)
def test_resolve_weights_accepts_names_and_members(weights):
    assert resolve_weights("resnet50", weights) is ResNet50_Weights.IMAGENET1K_V2


def test_unknown_weights_name_lists_the_choices():
    with pytest.raises(ValueError, match="IMAGENET1K_V3") as raised:
        resolve_weights("resnet50", "IMAGENET1K_V3")
    for choice in ("'IMAGENET1K_V1'", "'IMAGENET1K_V2'", "'DEFAULT'"):
        assert choice in str(raised.value)


def test_unknown_architecture_lists_the_choices():
    with pytest.raises(ValueError, match="resnet51") as raised:
        resolve_weights("resnet51", "DEFAULT")
    assert "'resnet50'" in str(raised.value)


def test_weights_of_another_architecture_are_refused():
    with pytest.raises(ValueError, match="ResNet50_Weights.IMAGENET1K_V1"):
        resolve_weights("resnet50", W18)


@pytest.mark.parametrize("arch", ["googlenet", "densenet121"])
def test_architectures_whose_builder_adapts_the_model_are_refused(arch, hub, offline):
    with pytest.raises(ValueError, match="get_model"):
        pretrained(arch, download=False)
    assert offline.calls == []
