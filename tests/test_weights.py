"""The weights loader, offline: checkpoints are written by the tests, downloads are faked."""

import http.client
import os
import pickle
import urllib.error

import pytest
import torch
import torchvision
from torchvision.models import ResNet18_Weights, ResNet50_Weights

from backbones_tutorial.weights import (
    WeightsUnavailable,
    checkpoint_path,
    load_state_dict,
    pretrained,
    pretrained_or_random,
    resolve_weights,
)

W18 = ResNet18_Weights.IMAGENET1K_V1
FILE18 = os.path.basename(W18.url)  # resnet18-f37072fd.pth


class Downloads:
    """Stands in for torch.hub.load_state_dict_from_url: records each call, then fails or returns."""

    def __init__(self, error=None, result=None):
        self.calls, self.error, self.result = [], error, result

    def __call__(self, url, **kwargs):
        self.calls.append((url, kwargs))
        if self.error is not None:
            raise self.error
        return self.result


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test reaches the network: every download fails as it would without one."""
    fake = Downloads(error=urllib.error.URLError("no network in tests"))
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake)
    monkeypatch.setattr(torch.hub, "download_url_to_file", Downloads(error=urllib.error.URLError("no network")))
    return fake


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """torch hub's folder under $TORCH_HOME=tmp_path; a set_dir made earlier is undone, then restored."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # what set_dir sets; monkeypatch restores it
    return tmp_path / "hub" / "checkpoints"


def save_resnet18(folder, seed=0):
    torch.manual_seed(seed)
    state_dict = torchvision.models.resnet18(weights=None).state_dict()
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


def test_pretrained_loads_a_cached_checkpoint_exactly(hub, offline):
    saved = save_resnet18(hub, seed=0)
    torch.manual_seed(1)  # a model left at its random init would differ from the saved one
    model = pretrained("resnet18", "IMAGENET1K_V1")
    assert_same_state(model, saved)
    assert offline.calls == []


def test_a_checkpoint_that_does_not_fit_the_model_is_an_error(hub):
    saved = save_resnet18(hub)
    del saved["fc.bias"]
    torch.save(saved, hub / FILE18)
    with pytest.raises(RuntimeError, match="fc.bias"):
        pretrained("resnet18", "IMAGENET1K_V1")


def test_cached_checkpoint_is_read_on_cpu_with_weights_only(hub, monkeypatch):
    save_resnet18(hub)
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


def test_a_checkpoint_holding_arbitrary_objects_is_refused(hub):
    hub.mkdir(parents=True)
    torch.save({"conv1.weight": torch.zeros(1), "payload": NotATensor()}, hub / FILE18)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_state_dict(W18)


def test_download_goes_to_the_cache_with_hash_check_and_weights_only(hub, monkeypatch):
    torch.manual_seed(0)
    state_dict = torchvision.models.resnet18(weights=None).state_dict()
    fake = Downloads(result=state_dict)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake)
    torch.manual_seed(1)
    assert_same_state(pretrained("resnet18", W18), state_dict)
    [(url, kwargs)] = fake.calls
    assert url == W18.url
    assert kwargs["weights_only"] is True and kwargs["check_hash"] is True and kwargs["map_location"] == "cpu"
    assert kwargs["model_dir"] == str(hub.resolve())


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
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", Downloads(error=error))
    with pytest.raises(WeightsUnavailable) as raised:
        pretrained("resnet18", "IMAGENET1K_V1", download=True)
    message = str(raised.value)
    assert W18.url in message and str(hub.resolve()) in message
    assert FILE18 in message.replace(W18.url, "")
    assert "download failed" in message
    assert raised.value.__cause__ is error
    assert isinstance(raised.value, RuntimeError)


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


def test_pretrained_or_random_uses_the_checkpoint_when_present(hub):
    saved = save_resnet18(hub, seed=3)
    model, message = pretrained_or_random("resnet18", "IMAGENET1K_V1")
    assert message == f"pretrained weights ResNet18_Weights.IMAGENET1K_V1 from {FILE18}"
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
