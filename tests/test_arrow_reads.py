"""SourceSpec.head and SourceSpec.take: the right rows, with memory bounded by what they
return (no read-ahead or pre-buffering left running; issue 16, the Ray driver's growth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow", reason="the distributed readers need pyarrow")
pq = pytest.importorskip("pyarrow.parquet", reason="the distributed readers need pyarrow")

from interpretable_kd.distributed._arrow import open_source  # noqa: E402

N_ROWS, N_FEATURES = 200_000, 20


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    """200,000 x 20 float32 rows and an int64 label, in 5,000-row row groups."""
    X = np.random.default_rng(0).standard_normal((N_ROWS, N_FEATURES), dtype=np.float32)
    y = np.arange(N_ROWS, dtype=np.int64) % 3
    path = tmp_path_factory.mktemp("arrow") / "rows.parquet"
    columns = {f"f{j}": X[:, j] for j in range(N_FEATURES)}
    pq.write_table(pa.table({**columns, "label": y}), path, row_group_size=5000)
    return path, X, y


def test_head_returns_the_first_rows_and_holds_no_read_ahead(parquet: tuple) -> None:
    """Regression: ``Dataset.head`` with Arrow's defaults kept scanning after it returned
    (read-ahead over pre-buffered row groups: here it still held more Arrow memory than
    the whole file in 2 of 3 tries; +415 MB of the Ray driver's private memory at
    2,000,000 rows). The bounded read holds nothing beyond the rows it returns."""
    path, X, y = parquet
    spec = open_source(path, None, "label", "test")
    baseline = pa.total_allocated_bytes()
    head = spec.head(64)
    held = pa.total_allocated_bytes() - baseline - head.nbytes
    assert head.num_rows == 64 and head.column_names == [*spec.features, "label"]
    np.testing.assert_array_equal(spec.features_of(head), X[:64])
    np.testing.assert_array_equal(head.column("label").to_numpy(), y[:64])
    assert held < path.stat().st_size / 4, (held, path.stat().st_size)
    only = spec.head(10, columns=["f3"])
    assert only.column_names == ["f3"] and only.num_rows == 10
    assert spec.head(0).num_rows == 1  # at least one row is read


def test_take_returns_the_rows_asked_for_in_file_order(parquet: tuple) -> None:
    path, X, y = parquet
    spec = open_source(path, ["f1", "f0"], "label", "test")
    rows = np.sort(np.random.default_rng(1).choice(N_ROWS, size=777, replace=False))
    baseline = pa.total_allocated_bytes()
    taken = spec.take(rows)
    held = pa.total_allocated_bytes() - baseline - taken.nbytes
    assert taken.column_names == ["f1", "f0", "label"]
    np.testing.assert_array_equal(spec.features_of(taken), X[rows][:, [1, 0]])
    np.testing.assert_array_equal(taken.column("label").to_numpy(), y[rows])
    assert held < path.stat().st_size / 4, (held, path.stat().st_size)


def test_ray_blocks_are_capped_by_the_object_store() -> None:
    """fit_ray sizes Ray Data's blocks to the store: 512 MB and two workers gave 128 MiB
    blocks that hung the 20M-row run; the rule gives about 21 MiB there, keeps a smaller
    size the user set, goes no lower than 8 MiB itself, and leaves a large store at the default."""
    from types import SimpleNamespace

    from interpretable_kd.distributed.ray_engine import _fit_blocks_to_store

    def fake(store: float, current: int) -> SimpleNamespace:
        context = SimpleNamespace(target_max_block_size=current)
        data = SimpleNamespace(DataContext=SimpleNamespace(get_current=lambda: context))
        return SimpleNamespace(data=data, cluster_resources=lambda: {"object_store_memory": store})

    mib = 2**20
    assert _fit_blocks_to_store(fake(512e6, 128 * mib), 2) == int(512e6 / 24)
    assert _fit_blocks_to_store(fake(50e6, 128 * mib), 2) == 8 * mib  # the floor
    assert _fit_blocks_to_store(fake(512e6, 4 * mib), 2) == 4 * mib  # the user's, smaller
    assert _fit_blocks_to_store(fake(7e9, 128 * mib), 2) == 128 * mib  # large store: default
