"""What each Ray Train worker runs for :func:`~interpretable_kd.distributed.fit_ray`.

:func:`_train_loop`: the student's module built identically on every worker (broadcast
from rank 0), its shard of the scored rows read from Ray Data in fetches of
:func:`_fetch_rows` rows and cut into ``batch_size``-row optimiser steps, the gradients
averaged over the workers after every backward pass (:func:`_average_gradients`, the
averaging DDP does), a checkpoint every epoch (module, optimiser, history) and a resume
from the latest one after a restart. :func:`_maybe_fail` is the tests' failure hook.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from typing import Any

import numpy as np
import torch

from .._defaults import STREAM_CHUNK_ROWS
from .._numeric import standardise
from .._torch_utils import isolated_torch_rng
from ._plan import StreamPlan, batch_targets, check_finite, train_step

__all__ = ["_average_gradients", "_fetch_rows", "_maybe_fail", "_train_loop"]


def _train_loop(config: dict[str, Any]) -> None:
    """What each Ray Train worker runs (see :func:`fit_ray`)."""
    import ray.train
    import torch.distributed as dist

    plan: StreamPlan = config["plan"]
    student = plan.student
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    device = torch.device("cuda", torch.cuda.current_device()) if config["use_gpu"] else None
    device = device or torch.device("cpu")
    mean, scale = config["mean"], config["scale"]
    d, k = len(mean), config["n_classes"]
    student._prepare_fit(int(config["n_rows"]), k)
    with isolated_torch_rng(plan.seed):
        module = student._build_module(d, k).to(device)
    optimizer = torch.optim.Adam(
        module.parameters(), lr=student.learning_rate, weight_decay=student.weight_decay
    )
    history: list[dict[str, float]] = []
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = torch.load(os.path.join(folder, "state.pt"), map_location=device)
        module.load_state_dict(state["module"])
        optimizer.load_state_dict(state["optimizer"])
        history = state["history"]
    else:  # identical start on every worker
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, 0)
    x_cols = [f"x{j}" for j in range(d)]
    t_cols = [f"t{c}" for c in range(k)]
    shard = ray.train.get_dataset_shard("train")
    first_epoch = len(history) + 1  # > 1 after a restart from a checkpoint
    fetch = _fetch_rows(plan.batch_size)
    for epoch in range(first_epoch, plan.epochs + 1):
        module.train()
        total, count, start = 0.0, 0, time.perf_counter()
        for batch in shard.iter_batches(
            batch_size=fetch,
            batch_format="numpy",
            local_shuffle_buffer_size=max(config["buffer_rows"], fetch),
            local_shuffle_seed=plan.seed + 7919 * epoch + rank,
        ):
            X = np.column_stack([batch[c] for c in x_cols]).astype(np.float32)
            logits = np.column_stack([batch[c] for c in t_cols]).astype(np.float32)
            y = batch["y"].astype(np.int64)
            standardise(X, mean, scale, in_place=True)
            for lo in range(0, X.shape[0], plan.batch_size):
                rows = slice(lo, lo + plan.batch_size)
                targets = batch_targets(logits[rows], y[rows], plan).to(device)
                xb = torch.from_numpy(X[rows]).to(device)
                loss = train_step(student, module, optimizer, xb, targets, _average_gradients)
                total += loss * len(xb)
                count += len(xb)
        seconds = time.perf_counter() - start
        sums = torch.tensor([total, float(count), seconds], dtype=torch.float64)
        dist.all_reduce(sums)
        peak = torch.tensor([resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0])
        dist.all_reduce(peak, op=dist.ReduceOp.MAX)
        record = {
            "epoch": epoch,
            "train_loss": float(sums[0] / sums[1]),
            "rows_per_s": float(sums[1] / (sums[2] / world)),
            "rows_per_s_per_worker": float(sums[1] / sums[2]),
            "workers": world,
            "run_start_epoch": first_epoch,
            "worker_peak_rss_mb": float(peak[0]),
        }
        check_finite(record, student, epoch)
        history.append(record)
        _maybe_fail(config, epoch, rank)
        with tempfile.TemporaryDirectory() as folder:
            saved = None
            if rank == 0:
                state = {"module": module.state_dict(), "optimizer": optimizer.state_dict()}
                torch.save({**state, "history": history}, os.path.join(folder, "state.pt"))
                saved = ray.train.Checkpoint.from_directory(folder)
                if config["verbose"]:
                    print(
                        f"[interpretable_kd] epoch {epoch}/{plan.epochs}: loss "
                        f"{record['train_loss']:.4g}, {record['rows_per_s']:,.0f} rows/s "
                        f"({record['rows_per_s_per_worker']:,.0f} per worker)",
                        flush=True,
                    )
            ray.train.report({"epoch": epoch, "train_loss": record["train_loss"]}, saved)


def _fetch_rows(batch_size: int) -> int:
    """Rows a training worker takes from Ray Data at once, then cuts into optimiser steps.

    Ray Data's cost is per fetched batch (about a millisecond), so fetching one
    mini-batch at a time made training ~3x slower than the plain streaming loop. The
    fetch is the smallest multiple of ``batch_size`` holding at least
    ``STREAM_CHUNK_ROWS`` rows, ``batch_size * ceil(STREAM_CHUNK_ROWS / batch_size)``:
    every step still has ``batch_size`` rows (except each worker's last), so a worker
    makes ``ceil(shard rows / batch_size)`` steps, as before, and the workers' all-reduces
    stay matched.

    Parameters
    ----------
    batch_size : int
        Rows per optimiser step on this worker.

    Returns
    -------
    int
    """
    return batch_size * max(1, -(-STREAM_CHUNK_ROWS // batch_size))


def _average_gradients(module: torch.nn.Module) -> None:
    """All-reduce the gradients and divide by the world size: the averaged gradient of
    the global batch, as DistributedDataParallel computes it (one flat buffer per step).
    """
    import torch.distributed as dist

    params = list(module.parameters())
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        size = p.numel()
        p.grad = flat[offset : offset + size].view_as(p).clone()
        offset += size


def _maybe_fail(config: dict[str, Any], epoch: int, rank: int) -> None:
    """Testing hook: raise once, at ``(epoch, rank)`` of ``_inject_failure``."""
    failure = config.get("inject_failure")
    if failure is None or (epoch, rank) != tuple(failure):
        return
    marker = os.path.join(config["storage"], "injected_failure")
    if not os.path.exists(marker):
        with open(marker, "w", encoding="utf-8") as handle:
            handle.write(f"epoch {epoch} rank {rank}\n")
        raise RuntimeError(f"injected failure at epoch {epoch} on worker {rank}")
