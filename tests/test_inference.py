"""The replicate engine: identical results on every backend and chunking, a real Dask cluster on
loopback, and a run that survives a worker killed mid-run.

"Identical" is tested as bitwise equality (``np.testing.assert_array_equal``): every replicate
is computed by the same kernel code on the same inputs whatever the backend and the chunk it
falls in. The numbers themselves are validated elsewhere (placebo draws against separate
pyfixest fits in test_placebo.py, DEA scores against linprog in test_dea.py).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from distributed import Client, LocalCluster

import climetrics as cm
from climetrics.core.replicate import (
    Backend,
    map_replicates,
    replicate_rng,
    reporting_progress,
    resolve_backend,
    using_backend,
)
from climetrics.errors import ConfigError
from climetrics.estimate.did.callaway_santanna import callaway_santanna
from climetrics.estimate.mechanisms.mediation import mediation
from climetrics.estimate.robustness.placebo import placebo_job, placebo_kernel, placebo_test
from climetrics.measure import nddf_performance, sbm_efficiency

CONTROLS = ["lnpgdp", "gov"]
DATA = Path(__file__).parent / "data"
DEA_COLS = (["capital", "labour", "energy"], ["gdp"], ["co2"])


@pytest.fixture(scope="module")
def sim():
    """Simulated city panel (about 100 cities x 16 years) with a few missing controls."""
    s = cm.simulate(seed=4, missing_rate=0.01)
    keep = s.panel.df["city"].isin(sorted(s.panel.df["city"].unique())[::3])
    return s.panel.subset(keep.to_numpy())


@pytest.fixture(scope="module")
def city():
    """1,188 city-years (297 cities, 2016-2019): a global frontier of more than DMU_BLOCK DMUs."""
    p = cm.simulate(seed=3).panel
    return p.subset((p.df["year"] >= 2016).to_numpy())


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as c:
        yield c


def _placebo(panel, **backend):
    """The placebo test every backend runs: 60 mixed draws, seed 11."""
    return placebo_test(
        panel, "lnci", "did", CONTROLS, kind="mixed", n_draws=60, seed=11, **backend
    )


@pytest.fixture(scope="module")
def serial_placebo(sim):
    return _placebo(sim)


def _square_plus_noise(indices: np.ndarray, shared: float) -> tuple[np.ndarray, np.ndarray]:
    draws = np.array([replicate_rng(7, i).normal() for i in indices])
    return indices.astype(float) ** 2 * shared, draws


def test_replicate_rng_is_the_spawned_child():
    """Stream ``i`` equals the ``i``-th child of ``SeedSequence(seed).spawn(R)``."""
    children = np.random.SeedSequence(2024).spawn(9)
    for i in (0, 3, 8):
        expected = np.random.default_rng(children[i]).random(5)
        np.testing.assert_array_equal(replicate_rng(2024, i).random(5), expected)


@pytest.mark.parametrize("chunk", [1, 3, 10, 100])
def test_serial_result_does_not_depend_on_chunking(chunk):
    squares, draws = map_replicates(_square_plus_noise, 10, 2.0, chunk_size=chunk)
    np.testing.assert_array_equal(squares, 2.0 * np.arange(10) ** 2)
    np.testing.assert_array_equal(draws, [replicate_rng(7, i).normal() for i in range(10)])


def test_backend_arguments_are_validated():
    with pytest.raises(ConfigError, match="backend must be one of"):
        Backend("threads")
    with pytest.raises(ConfigError, match="needs backend='dask'"):
        Backend("processes", scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ConfigError, match="address like 'tcp://host:8786'"):
        Backend("dask", scheduler="127.0.0.1")
    with pytest.raises(ConfigError, match="chunk_size must be a positive integer"):
        Backend(chunk_size=0)
    with pytest.raises(ConfigError, match="n_replicates must be at least 1"):
        map_replicates(_square_plus_noise, 0, 1.0)


def test_scheduler_implies_dask_and_using_backend_sets_the_default():
    assert resolve_backend() == Backend("serial")
    assert resolve_backend(scheduler="tcp://10.0.0.1:8786") == Backend(
        "dask", scheduler="tcp://10.0.0.1:8786"
    )
    with using_backend("processes", n_workers=3):
        assert resolve_backend() == Backend("processes", n_workers=3)
        assert resolve_backend(chunk_size=5) == Backend("processes", n_workers=3, chunk_size=5)
    assert resolve_backend().kind == "serial"


def test_cli_backend_options_reach_the_engine(monkeypatch):
    """``climetrics demo --scheduler ...`` runs the study with the Dask backend as default;
    contradictory options are a config error (exit code 2)."""
    from climetrics import cli

    seen = []
    monkeypatch.setattr(cli, "_run", lambda *a: seen.append(resolve_backend()) or 0)
    assert cli.main(["demo", "--scheduler", "tcp://127.0.0.1:8786"]) == 0
    assert cli.main(["demo", "--backend", "processes"]) == 0
    assert seen == [Backend("dask", scheduler="tcp://127.0.0.1:8786"), Backend("processes")]
    assert cli.main(["demo", "--backend", "serial", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert resolve_backend() == Backend()


def test_processes_backend_equals_serial(sim, serial_placebo):
    res = _placebo(sim, backend="processes", n_workers=2, chunk_size=17)
    np.testing.assert_array_equal(res.draws.to_numpy(), serial_placebo.draws.to_numpy())


@pytest.mark.parametrize("chunk", [7, 60])
def test_placebo_on_dask_cluster_equals_serial(sim, serial_placebo, cluster, chunk):
    """Two workers on loopback, chunks of 7 draws (9 tasks) and one chunk of 60."""
    res = _placebo(sim, scheduler=cluster.scheduler_address, chunk_size=chunk)
    np.testing.assert_array_equal(res.draws.to_numpy(), serial_placebo.draws.to_numpy())
    assert res.p_two_sided == serial_placebo.p_two_sided


def test_placebo_on_one_worker_local_cluster_equals_serial(sim, serial_placebo):
    """backend='dask' without a scheduler starts (and stops) a loopback LocalCluster."""
    res = _placebo(sim, backend="dask", n_workers=1, chunk_size=13)
    np.testing.assert_array_equal(res.draws.to_numpy(), serial_placebo.draws.to_numpy())


def test_dea_on_dask_cluster_equals_serial(city, cluster):
    """NDDF on a global frontier (3 DMU blocks) and super-SBM; same scores as the serial run."""
    where = {"scheduler": cluster.scheduler_address}
    serial = nddf_performance(city, *DEA_COLS, frontier="global")
    dask = nddf_performance(city, *DEA_COLS, frontier="global", **where)
    np.testing.assert_array_equal(dask["nddf"].to_numpy(), serial["nddf"].to_numpy())
    np.testing.assert_array_equal(dask["status"].to_numpy(), serial["status"].to_numpy())
    s_serial = sbm_efficiency(city, *DEA_COLS, frontier="sequential", super_efficiency=True)
    s_dask = sbm_efficiency(
        city,
        *DEA_COLS,
        frontier="sequential",
        super_efficiency=True,
        backend=Backend("dask", scheduler=cluster.scheduler_address, chunk_size=2),
    )
    np.testing.assert_array_equal(s_dask["score"].to_numpy(), s_serial["score"].to_numpy())


def test_mediation_bootstrap_same_in_any_chunking_and_on_dask(sim, cluster):
    """Cluster-bootstrap draws of a, b, c', c: chunks of 1, 7 and 40 draws and two Dask workers
    give the same draws (to 1e-12; each draw demeans and solves on its own)."""
    args = (sim, "lnci", "did", "green_innov", CONTROLS)
    ref = mediation(*args, n_draws=40, seed=5, chunk_size=40)["green_innov"].boot.to_numpy()
    assert np.isfinite(ref).all()
    for kw in ({"chunk_size": 1}, {"chunk_size": 7}, {"scheduler": cluster.scheduler_address}):
        got = mediation(*args, n_draws=40, seed=5, **kw)["green_innov"].boot.to_numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)


def test_cs_multiplier_bootstrap_same_on_dask(cluster):
    """Callaway-Sant'Anna on R did's mpdta: bootstrap SEs and the uniform critical value equal
    the serial run's (to 1e-12) with 199 draws in chunks of 37 on two Dask workers."""
    import pandas as pd

    panel = cm.Panel(pd.read_csv(DATA / "mpdta.csv"), "countyreal", "year")
    serial = callaway_santanna(panel, "lemp", adoption="first.treat", n_draws=199, seed=3)
    dask = callaway_santanna(
        panel,
        "lemp",
        adoption="first.treat",
        n_draws=199,
        seed=3,
        backend=Backend("dask", scheduler=cluster.scheduler_address, chunk_size=37),
    )
    np.testing.assert_allclose(dask.attgt["se_boot"], serial.attgt["se_boot"], rtol=1e-12)
    assert dask.crit_val == pytest.approx(serial.crit_val, rel=1e-12)
    agg_s, agg_d = serial.aggregate("dynamic"), dask.aggregate("dynamic")
    np.testing.assert_allclose(agg_d.by["se_boot"], agg_s.by["se_boot"], rtol=1e-12)
    assert agg_d.crit_val == pytest.approx(agg_s.crit_val, rel=1e-12)


def _die_once_then_run(indices: np.ndarray, shared) -> tuple[np.ndarray, ...]:
    """Kill this worker process the first time any worker runs it, then behave as the kernel."""
    kernel, data, marker = shared
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return kernel(indices, data)
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable: the worker was killed")  # pragma: no cover


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # the module's cluster has it
def test_run_survives_a_worker_killed_mid_run(sim, serial_placebo, tmp_path: Path):
    """A worker is SIGKILLed while running a chunk; the nanny restarts it, the scheduler re-runs
    the lost chunk and the placebo draws equal the serial ones."""
    job = placebo_job(sim, "lnci", "did", CONTROLS, kind="mixed", seed=11)
    marker = tmp_path / "killed"
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as c,
        Client(c, set_as_default=False) as client,
    ):
        before = set(client.run(os.getpid).values())
        coef, var, degenerate = map_replicates(
            _die_once_then_run,
            60,
            (placebo_kernel, job, str(marker)),
            scheduler=client,
            chunk_size=10,
        )
        client.wait_for_workers(2, timeout=30)
        after = set(client.run(os.getpid).values())
    assert marker.exists()
    assert before != after  # one worker process was replaced
    fit = job.model.fit(coef, var, degenerate)
    np.testing.assert_array_equal(fit.coef, serial_placebo.draws["coef"].to_numpy())
    np.testing.assert_array_equal(fit.se, serial_placebo.draws["se"].to_numpy())


def _record_progress(run) -> tuple[object, list[tuple[int, int, str]]]:
    calls: list[tuple[int, int, str]] = []
    with reporting_progress(lambda done, total, label: calls.append((done, total, label))):
        out = run()
    return out, calls


@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_progress_is_reported_per_chunk(backend):
    """Every finished chunk reports the running count of replicates; the last report is the
    total; nothing is reported outside reporting_progress."""
    out, calls = _record_progress(
        lambda: map_replicates(
            _square_plus_noise, 10, 0.0, backend=backend, chunk_size=3, n_workers=2, label="draws"
        )
    )
    assert [c[0] for c in calls] == [3, 6, 9, 10]
    assert {c[1:] for c in calls} == {(10, "draws")}
    again = map_replicates(_square_plus_noise, 10, 0.0, chunk_size=3)
    np.testing.assert_array_equal(out[0], again[0])


def test_progress_on_dask_and_from_placebo(sim, cluster):
    """On a cluster chunks finish in any order; the counts still rise to the total. The placebo
    test labels its replicates."""
    _, calls = _record_progress(
        lambda: map_replicates(
            _square_plus_noise, 7, 0.0, scheduler=cluster.scheduler_address, chunk_size=2
        )
    )
    assert sorted(c[0] for c in calls) == [c[0] for c in calls] and calls[-1][:2] == (7, 7)
    assert len(calls) == 4
    _, calls = _record_progress(lambda: _placebo(sim, chunk_size=25))
    assert calls == [
        (25, 60, "placebo draws"),
        (50, 60, "placebo draws"),
        (60, 60, "placebo draws"),
    ]
