"""An S3-compatible server on loopback (moto's server mode) and storage roots on every kind of
filesystem the project supports: local disk, fsspec memory and S3.

Child processes reach the same server through the ``FSSPEC_S3`` environment variable,
which fsspec reads at import.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from contextlib import contextmanager

import fsspec

ROOT_KINDS = ("local", "memory", "s3")
BUCKET = "golden-noise-tests"


@contextmanager
def moto_s3():
    """Start moto's S3 server on 127.0.0.1 (a free port), point fsspec's ``s3`` protocol at
    it (this process and children started after this), yield its endpoint URL; stop it at
    the end."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    options = {
        "endpoint_url": f"http://{host}:{port}",
        "key": "test",
        "secret": "test",
        "use_listings_cache": False,  # other processes write too
    }
    saved_conf, saved_env = fsspec.config.conf.get("s3"), os.environ.get("FSSPEC_S3")
    fsspec.config.conf["s3"] = options
    os.environ["FSSPEC_S3"] = json.dumps(options)
    fsspec.filesystem("s3", skip_instance_cache=True).mkdir(BUCKET)
    try:
        yield options["endpoint_url"]
    finally:
        server.stop()
        fsspec.config.conf.pop("s3", None)
        if saved_conf is not None:
            fsspec.config.conf["s3"] = saved_conf
        os.environ.pop("FSSPEC_S3", None)
        if saved_env is not None:
            os.environ["FSSPEC_S3"] = saved_env


def fresh_root(kind: str, tmp_path) -> str:
    """A new, empty storage root URL of ``kind`` (``ROOT_KINDS``)."""
    name = f"gn-{uuid.uuid4().hex[:8]}"
    return {
        "local": str(tmp_path / name),
        "memory": f"memory://{name}",
        "s3": f"s3://{BUCKET}/{name}",
    }[kind]
