"""Every file in deploy/ (and the root dagster.yaml) against the real schemas, offline.

Instance files go through Dagster's own instance loading (schema, storage and concurrency
checks), then every class they name is imported and its config validated against that class's
own schema (the loader does neither). Run configs are validated against the chosen executor's
schema and against every job of every profile's graph built with that executor; the k8s step
pod manifest is built by dagster-k8s itself. The accelerate file goes through `accelerate
launch`'s own argument handling. Nothing connects to Postgres, Kubernetes, a broker or a GPU.
The validators also run on broken copies, each of which must fail with the expected error.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from dagster import (
    DagsterInstance,
    DagsterRun,
    Definitions,
    in_process_executor,
    multiprocess_executor,
    validate_run_config,
)
from dagster._config import process_config, resolve_to_config_type
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import ConcurrencyConfig, PoolGranularity
from dagster._core.instance.ref import InstanceRef
from dagster._serdes import ConfigurableClassData

from gn_dagster.executors import EXECUTOR_NAMES, executor_by_name
from gn_dagster.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV = {  # every {env: ...} in deploy/, with made-up values (nothing is contacted)
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "secret",
    "DAGSTER_PG_HOST": "postgres.invalid",
    "DAGSTER_PG_PORT": "5432",
    "GN_IMAGE": "registry.invalid/golden-noise:latest",
    "DAGSTER_CELERY_BROKER_URL": "redis://broker.invalid:6379/0",
    "DAGSTER_CELERY_BACKEND_URL": "redis://broker.invalid:6379/1",
}
# A kubeconfig that is parsed but never used: K8sRunLauncher loads one when built.
OFFLINE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:9"}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
users: [{name: offline, user: {token: unused}}]
"""


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.delenv("GN_EXECUTOR", raising=False)


@pytest.fixture(scope="module")
def graphs() -> dict[str, Definitions]:
    """The graph of every profile (GN_PROFILE), e.g. digits and sdxl (pretrained models)."""
    from gn_dagster.definitions import build_definitions
    from gn_dagster.profiles import PROFILES

    built = {}
    with pytest.MonkeyPatch.context() as patch:
        for name in PROFILES:
            patch.setenv("GN_PROFILE", name)
            built[name] = build_definitions(Settings.from_env())
    return built


# ---------------------------------------------------------------- validators


def load_instance(config_dir: Path, base_dir: Path) -> tuple[InstanceRef, dict[str, type]]:
    """Dagster's instance loading of ``config_dir/dagster.yaml`` (instance schema, storage and
    concurrency rules), then each named class imported and its block validated against the
    class's own ``config_type()``. Returns the ref and the classes by ref field."""
    ref = InstanceRef.from_dir(str(base_dir), config_dir=str(config_dir))
    classes = {}
    for field in ref._fields:
        data = getattr(ref, field)
        if not isinstance(data, ConfigurableClassData):
            continue
        klass = getattr(importlib.import_module(data.module_name), data.class_name)
        result = process_config(resolve_to_config_type(klass.config_type()), data.config_dict)
        if not result.success:
            raise DagsterInvalidConfigError(
                f"{data.class_name} config in {config_dir}", result.errors, data.config_dict
            )
        classes[field] = klass
    queue = None
    if ref.run_coordinator_data and ref.run_coordinator_data.class_name == "QueuedRunCoordinator":
        queue = ref.run_coordinator_data.rehydrate().get_run_queue_config()
    # The concurrency settings as the instance and the run queue daemon read them.
    ConcurrencyConfig.from_concurrency_settings(ref.settings.get("concurrency", {}), queue)
    return ref, classes


def k8s_launcher(ref: InstanceRef, tmp_path: Path):
    """The real K8sRunLauncher built from the file's config, pointed at an unused kubeconfig
    instead of the in-cluster one."""
    from dagster_k8s import K8sRunLauncher

    kubeconfig = tmp_path / "kubeconfig.yaml"
    kubeconfig.write_text(OFFLINE_KUBECONFIG)
    data = ref.run_launcher_data
    config = {
        **data.config_dict,
        "load_incluster_config": False,
        "kubeconfig_file": str(kubeconfig),
    }
    return ConfigurableClassData(
        data.module_name, data.class_name, yaml.safe_dump(config)
    ).rehydrate(K8sRunLauncher)


def validate_executor_file(path: Path, executor: str, graphs: dict[str, Definitions]) -> dict:
    """The file's ``execution: config:`` against the executor's schema; then the executor
    configured by the file (GN_EXECUTOR_CONFIG) runs every job of every profile's graph with
    an empty run config, as runs launched by sensors and schedules have. Returns the processed
    executor config."""
    run_config = yaml.safe_load(path.read_text())
    unknown = set(run_config) - {"execution"}
    assert not unknown, f"{path} holds more than the executor's config: {unknown}"
    result = process_config(
        executor_by_name(executor).config_schema.config_type, run_config["execution"]["config"]
    )
    if not result.success:
        raise DagsterInvalidConfigError(f"{path} execution", result.errors, run_config)
    for graph in graphs.values():
        _validate_against_graph(path, {}, executor_by_name(executor, str(path)), graph)
    return result.value


def _validate_against_graph(path: Path, run_config: dict, executor_def, graph: Definitions):
    """``run_config`` against each job of ``graph`` run by ``executor_def`` (jobs without
    one of its configured assets are skipped; at least one job must take it)."""
    unknown = set(run_config.get("resources", {})) - set(graph.resources)
    assert not unknown, f"{path} configures resources the graph lacks: {unknown}"
    asset_names = {key.to_user_string() for key in graph.resolve_asset_graph().get_all_asset_keys()}
    unknown = set(run_config.get("ops", {})) - asset_names
    assert not unknown, f"{path} configures assets the graph lacks: {unknown}"
    with_executor = Definitions(
        assets=list(graph.assets),
        asset_checks=list(graph.asset_checks),
        jobs=list(graph.jobs),
        resources=dict(graph.resources),
        executor=executor_def,
    )
    validated = []
    for job in graph.jobs:
        resolved = with_executor.resolve_job_def(job.name)
        assert resolved.executor_def is executor_def
        if set(run_config.get("ops", {})) <= set(resolved.graph.node_dict):
            validate_run_config(resolved, run_config)  # raises on any invalid entry
            validated.append(job.name)
    assert validated, f"no job holds every asset configured in {path}"


def k8s_step_pod(path: Path, graphs: dict[str, Definitions], tmp_path: Path):
    """The pod spec dagster-k8s builds for a step of a run under deploy/k8s/dagster.yaml and
    ``path``, merged the way K8sStepHandler merges launcher and executor config."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig, construct_dagster_k8s_job

    executor = validate_executor_file(path, "k8s", graphs)
    ref, _ = load_instance(DEPLOY / "k8s", tmp_path)
    launcher = k8s_launcher(ref, tmp_path)
    step_context = K8sContainerContext(
        namespace=executor.get("job_namespace"),
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(executor.get("step_k8s_config", {})),
    )
    context = K8sContainerContext.create_for_run(
        DagsterRun(job_name="train_and_evaluate"), launcher, include_run_tags=False
    ).merge(step_context)
    job = construct_dagster_k8s_job(
        context.get_k8s_job_config(executor.get("job_image"), launcher),
        ["dagster", "api", "execute_step"],
        "dagster-step-check",
        user_defined_k8s_config=context.run_k8s_config,
        component="step_worker",
    )
    return job.spec.template.spec, executor, context


def celery_app_conf(path: Path, graphs: dict[str, Definitions]):
    """Celery settings of the executor and of `dagster-celery worker start -y path`."""
    from dagster_celery.cli import get_validated_config
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app

    executor = validate_executor_file(path, "celery", graphs)
    worker = get_validated_config(str(path))  # the worker CLI's own validation of the file
    assert worker["broker"] == executor["broker"]
    app = make_app(
        CeleryExecutor.for_cli(
            executor.get("broker"),
            executor.get("backend"),
            executor.get("include"),
            executor.get("config_source"),
        ).app_args()
    )
    return app.conf


def accelerate_launch_args(path: Path):
    """The file as `accelerate launch --config_file path train.py` reads it, and the
    environment it would give each process."""
    from accelerate.commands.config.config_args import ClusterConfig
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_multi_gpu_env

    config = ClusterConfig.from_yaml_file(str(path))
    args = launch_command_parser().parse_args(["--config_file", str(path), "train.py"])
    args, _, _ = _validate_launch_command(args)
    return config, args, prepare_multi_gpu_env(args)


# ---------------------------------------------------------------- the files as shipped


def test_every_deploy_file_has_a_validator():
    covered = {
        "postgres/dagster.yaml",
        "k8s/dagster.yaml",
        "k8s/executor.yaml",
        "celery/executor.yaml",
        "celery/README.md",
        "accelerate/multi_gpu.yaml",
        "local/scale-demo.sh",
    }
    found = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*") if p.is_file()}
    assert found == covered, f"deploy/ changed: add a check for {found - covered}"


def test_root_dagster_yaml(tmp_path):
    ref, classes = load_instance(ROOT, tmp_path)
    assert classes["storage_data"].__name__ == "DagsterSqliteStorage"
    with DagsterInstance.from_ref(ref) as instance:  # sqlite under the temporary DAGSTER_HOME
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit is not None and pools.default_pool_limit >= 1
        assert instance.run_monitoring_enabled


def test_postgres_instance(tmp_path):
    ref, classes = load_instance(DEPLOY / "postgres", tmp_path)
    assert {k: v.__name__ for k, v in classes.items() if "stor" in k and "artifact" not in k} == {
        "storage_data": "DagsterPostgresStorage",
        "run_storage_data": "PostgresRunStorage",
        "event_storage_data": "PostgresEventLogStorage",
        "schedule_storage_data": "PostgresScheduleStorage",
    }
    assert classes["run_coordinator_data"].__name__ == "QueuedRunCoordinator"
    postgres = ref.storage_data.config_dict["postgres_db"]
    assert {postgres[k]["env"] for k in ("username", "password", "hostname")} == {
        "DAGSTER_PG_USERNAME",
        "DAGSTER_PG_PASSWORD",
        "DAGSTER_PG_HOST",
    }
    pools = ref.settings["concurrency"]["pools"]
    assert pools["default_limit"] >= 1  # the gpu pool's slots: one per GPU
    assert PoolGranularity(pools["granularity"]) is PoolGranularity.OP
    assert ref.settings["run_monitoring"]["enabled"] is True
    assert ref.settings["telemetry"]["enabled"] is False


def test_k8s_instance_builds_the_run_launcher(tmp_path):
    ref, classes = load_instance(DEPLOY / "k8s", tmp_path)
    assert classes["run_launcher_data"].__name__ == "K8sRunLauncher"
    assert classes["storage_data"].__name__ == "DagsterPostgresStorage"
    assert ref.run_launcher_data.config_dict["load_incluster_config"] is True
    launcher = k8s_launcher(ref, tmp_path)
    assert launcher.job_image == ENV["GN_IMAGE"]
    assert "GN_EXECUTOR=k8s" in launcher.env_vars  # run pods load the k8s_job_executor


def test_k8s_executor_gives_each_step_one_gpu(graphs, tmp_path):
    pod, executor, context = k8s_step_pod(DEPLOY / "k8s/executor.yaml", graphs, tmp_path)
    container = pod.containers[0]
    assert str(container.resources.limits["nvidia.com/gpu"]) == "1"
    assert executor["max_concurrent"] >= 1
    assert context.namespace == "golden-noise"
    env = {e.name for e in container.env}
    assert {"DAGSTER_PG_PASSWORD", "DAGSTER_PG_USERNAME", "DAGSTER_PG_HOST", "GN_EXECUTOR"} <= env
    assert container.image == ENV["GN_IMAGE"]
    env = {e.name: e.value for e in container.env}
    assert env["GN_DEVICE"] == "cuda"  # the step pod's one GPU
    assert env["GN_EXECUTOR_CONFIG"] == "/opt/dagster/dagster_home/executor.yaml"


def test_k8s_instance_is_the_tested_postgres_instance(tmp_path):
    """The storage, queue and pool settings that test_postgres_instance and
    test_celery_executor run against a real server are the cluster's too."""
    postgres = yaml.safe_load((DEPLOY / "postgres/dagster.yaml").read_text())
    k8s = yaml.safe_load((DEPLOY / "k8s/dagster.yaml").read_text())
    assert k8s["storage"] == postgres["storage"]
    assert k8s["run_coordinator"] == postgres["run_coordinator"]
    assert (
        k8s["concurrency"]["pools"]["granularity"]
        == postgres["concurrency"]["pools"]["granularity"]
    )


def test_celery_executor_routes_steps_to_the_gpu_queue(graphs):
    conf = celery_app_conf(DEPLOY / "celery/executor.yaml", graphs)
    assert conf.broker_url == ENV["DAGSTER_CELERY_BROKER_URL"]
    assert conf.task_default_queue == "gpu"
    # A step's `dagster-celery/queue` tag would override the default queue: none may.
    for graph in graphs.values():
        for job in graph.jobs:
            for node in graph.resolve_job_def(job.name).graph.nodes:
                assert node.tags.get("dagster-celery/queue", "gpu") == "gpu", node.name


def test_scale_demo_script_uses_the_tested_files():
    """`make scale-demo` parses as bash and brings up what test_celery_executor tests: the
    Postgres instance file, the Celery executor file, workers on the `gpu` queue."""
    script = DEPLOY / "local/scale-demo.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    for needed in ("deploy/postgres/dagster.yaml", "deploy/celery/executor.yaml", "-q gpu"):
        assert needed in text, needed
    assert "GN_EXECUTOR=celery" in text and "trap stop_all EXIT" in text


def test_accelerate_multi_gpu():
    from accelerate.utils import DistributedType

    config, args, env = accelerate_launch_args(DEPLOY / "accelerate/multi_gpu.yaml")
    assert config.distributed_type is DistributedType.MULTI_GPU
    assert (config.num_processes, config.mixed_precision) == (2, "fp16")
    assert args.multi_gpu and int(args.nproc_per_node) == 2
    assert env["ACCELERATE_MIXED_PRECISION"] == "fp16"


# ---------------------------------------------------------------- broken copies must fail


def _set(path: str, value) -> Callable[[dict], None]:
    """A mutation setting ``a.b.c`` (creating missing levels); value None deletes it."""

    def mutate(doc: dict) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc.setdefault(key, {})
        if value is None:
            del doc[last]
        else:
            doc[last] = value

    return mutate


Invalid = DagsterInvalidConfigError
# case: (file, mutation, the error it must raise, a pattern its message must contain)
INSTANCE_BREAKS = {
    "postgres port not an int": (
        "postgres",
        _set("storage.postgres.postgres_db.port", "five"),
        Invalid,
        "postgres_db:port",
    ),
    "postgres without hostname": (
        "postgres",
        _set("storage.postgres.postgres_db.hostname", None),
        Invalid,
        '"hostname"',
    ),
    "per-pool limit key (none in 1.13)": (
        "postgres",
        _set("concurrency.pools.gpu", 2),
        Invalid,
        'entry "gpu" at path root:concurrency:pools',
    ),
    "unknown pool granularity": (
        "postgres",
        _set("concurrency.pools.granularity", "step"),
        Invalid,
        "granularity",
    ),
    "queue limit beside concurrency": (
        "postgres",
        _set("run_coordinator.config.max_concurrent_runs", 4),
        Invalid,
        "max_concurrent_runs",
    ),
    "run_monitoring typo": (
        "postgres",
        _set("run_monitoring.free_slots_after_run_end", 300),
        Invalid,
        '"free_slots_after_run_end"',
    ),
    "launcher class typo": (
        "k8s",
        _set("run_launcher.class", "K8sRunLaunchr"),
        AttributeError,
        "K8sRunLaunchr",
    ),
    "launcher without config map": (
        "k8s",
        _set("run_launcher.config.instance_config_map", None),
        Invalid,
        '"instance_config_map"',
    ),
    "launcher key typo": (
        "k8s",
        _set("run_launcher.config.job_namspace", "golden-noise"),
        Invalid,
        '"job_namspace"',
    ),
    "root: negative pool limit": (
        "",
        _set("concurrency.pools.default_limit", -1),
        Invalid,
        "default_limit",
    ),
}


@pytest.mark.parametrize("case", list(INSTANCE_BREAKS))
def test_broken_instance_files_fail(case, tmp_path):
    folder, mutate, error, pattern = INSTANCE_BREAKS[case]
    source = (DEPLOY / folder) if folder else ROOT
    doc = yaml.safe_load((source / "dagster.yaml").read_text())
    mutate(doc)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "dagster.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(error, match=pattern):
        load_instance(broken, tmp_path)


EXECUTOR_BREAKS = {
    "k8s key typo": (
        "k8s",
        _set("execution.config.max_concurent", 4),
        Invalid,
        '"max_concurent"',
    ),
    "k8s max_concurrent not an int": (
        "k8s",
        _set("execution.config.max_concurrent", "four"),
        Invalid,
        "root:max_concurrent",
    ),
    "k8s container field typo": (  # container_config is free-form to Dagster's schema
        "k8s",
        _set("execution.config.step_k8s_config.container_config.resource", {}),
        Exception,
        "V1Container: {'resource'}",
    ),
    "k8s toleration field typo": (
        "k8s",
        _set("execution.config.step_k8s_config.pod_spec_config.tolerations", [{"kee": "x"}]),
        Exception,
        "V1Toleration: {'kee'}",
    ),
    "celery key typo": ("celery", _set("execution.config.brokr", "redis://x"), Invalid, "brokr"),
    "run config beside the executor's": (
        "celery",
        _set("resources.compute", {"config": {"device": "cuda"}}),
        AssertionError,
        "more than the executor's config",
    ),
}


@pytest.mark.parametrize("case", list(EXECUTOR_BREAKS))
def test_broken_executor_files_fail(case, graphs, tmp_path):
    executor, mutate, error, pattern = EXECUTOR_BREAKS[case]
    doc = yaml.safe_load((DEPLOY / executor / "executor.yaml").read_text())
    mutate(doc)
    broken = tmp_path / "executor.yaml"
    broken.write_text(yaml.safe_dump(doc))
    with pytest.raises(error, match=pattern):
        if executor == "k8s":
            k8s_step_pod(broken, graphs, tmp_path)
        else:
            celery_app_conf(broken, graphs)


@pytest.mark.parametrize(
    "mutate,pattern",
    [
        (_set("distributed_type", "MULTI_GPUS"), "MULTI_GPUS"),
        (_set("num_process", 2), "num_process"),
        (_set("mixed_precision", "fp17"), "fp17"),
        (_set("num_processes", None), "num_processes"),
    ],
    ids=["distributed_type", "unknown key", "mixed_precision", "no num_processes"],
)
def test_broken_accelerate_configs_fail(mutate, pattern, tmp_path):
    doc = yaml.safe_load((DEPLOY / "accelerate/multi_gpu.yaml").read_text())
    mutate(doc)
    broken = tmp_path / "multi_gpu.yaml"
    broken.write_text(yaml.safe_dump(doc))
    with pytest.raises(ValueError, match=pattern):
        accelerate_launch_args(broken)


# ---------------------------------------------------------------- executor_by_name


def test_executor_by_name(monkeypatch):
    from dagster_celery import celery_executor
    from dagster_k8s import k8s_job_executor

    from gn_dagster.definitions import build_definitions

    expected = {
        "in_process": in_process_executor,
        "multiprocess": multiprocess_executor,
        "k8s": k8s_job_executor,
        "celery": celery_executor,
    }
    assert set(expected) == set(EXECUTOR_NAMES)
    for name, executor in expected.items():
        assert executor_by_name(name) is executor
        assert executor_by_name(name.upper().replace("_", "-")) is executor
    assert executor_by_name("") is in_process_executor
    monkeypatch.setenv("GN_EXECUTOR", "celery")  # the environment picks the graph's executor
    assert build_definitions().executor is celery_executor
    monkeypatch.delenv("GN_EXECUTOR")
    assert build_definitions().executor is in_process_executor


def test_executor_file_configures_every_run(tmp_path, monkeypatch):
    """GN_EXECUTOR_CONFIG: the definitions' executor carries the file's config."""
    from gn_dagster.definitions import build_definitions

    monkeypatch.setenv("GN_EXECUTOR", "celery")
    monkeypatch.setenv("GN_EXECUTOR_CONFIG", str(DEPLOY / "celery/executor.yaml"))
    executor = build_definitions().executor
    assert executor.name == "celery"
    resolved = executor.config_schema.resolve_config({})  # a run launched with no run config
    assert resolved.success, resolved.errors
    config = resolved.value["config"]
    assert config["broker"] == ENV["DAGSTER_CELERY_BROKER_URL"]
    assert config["config_source"]["task_default_queue"] == "gpu"


@pytest.mark.parametrize(
    "content,pattern",
    [
        (None, "cannot read the file"),
        ("execution: [", "is not YAML"),
        ("resources: {}", "no `execution: config:`"),
        ("execution:\n  config: 3", "no `execution: config:`"),
    ],
    ids=["missing", "not yaml", "no execution", "config not a mapping"],
)
def test_bad_executor_files_are_named(content, pattern, tmp_path):
    path = tmp_path / "executor.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=pattern) as error:
        executor_by_name("celery", str(path))
    assert "GN_EXECUTOR_CONFIG" in str(error.value) and str(path) in str(error.value)


@pytest.mark.parametrize("name", ["kubernetes", "dask", "in process"])
def test_executor_by_name_rejects_unknown_names(name):
    with pytest.raises(ValueError, match="GN_EXECUTOR") as error:
        executor_by_name(name)
    assert all(choice in str(error.value) for choice in EXECUTOR_NAMES)


@pytest.mark.parametrize("name,module", [("k8s", "dagster_k8s"), ("celery", "dagster_celery")])
def test_executor_by_name_missing_package(name, module, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # import of it raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'golden-noise\[scale\]'"):
        executor_by_name(name)
