import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory):
    """A saved random-weight StableDiffusionXLPipeline (tests/tiny_pipelines.py)."""
    from helpers.tiny_pipelines import build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("tiny_sdxl"))


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory):
    """A saved random-weight SD 1.5-style StableDiffusionPipeline."""
    from helpers.tiny_pipelines import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(scope="session")
def tiny_hpsv2_checkpoint(tmp_path_factory):
    """A tiny open_clip model registered as TINY_HPSV2_ARCH, saved in HPS's layout."""
    from helpers.tiny_pipelines import build_tiny_hpsv2

    return build_tiny_hpsv2(tmp_path_factory.mktemp("tiny_hpsv2"))


@pytest.fixture(scope="session")
def s3_endpoint():
    """moto's S3 server on loopback for the whole session (helpers/object_store.py)."""
    from helpers.object_store import moto_s3

    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "memory", "s3"])
def store_root(request, tmp_path):
    """A fresh storage root on each kind of filesystem: local disk, memory, S3 (moto)."""
    from helpers.object_store import fresh_root

    if request.param == "s3":
        request.getfixturevalue("s3_endpoint")
    return fresh_root(request.param, tmp_path)
