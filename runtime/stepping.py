"""Driving samplers written as coroutines: one sequence at a time, or many in one batched step.

A sampler yields `StepRequest(token, state)` whenever it needs the model and receives
`(logits, state, prepared)` back; anything else it yields (text, event tokens) is passed on to the caller.
Stepping B sequences together reads the weights once for all of them.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model import StepModel
from .sampler import Batch


@dataclass(slots=True)
class StepRequest:
    """One token for the model, with the state it continues from, and how the sampler will draw
    from the logits (temperature, top-k, top-p) so that the draw's arithmetic is done for a whole
    batch at once. The reply is (logits, state, prepared): (the `sampler.Batch`, the row), or None."""

    token: int
    state: list[np.ndarray]
    sampling: tuple[float, int, float] | None = None


def _prepared(logits: np.ndarray, requests: list[StepRequest]) -> list:
    settings = requests[0].sampling
    if settings is None or any(r.sampling != settings for r in requests):
        return [None] * len(requests)
    batch = Batch(logits, settings)
    return [(batch, k) for k in range(len(requests))]


def run_one(model: StepModel, sampler: Generator) -> Generator[Any, None, Any]:
    """Drive one sampler, stepping the model for it; yields what the sampler yields besides its
    step requests and returns what it returns."""
    reply = None
    while True:
        try:
            request = sampler.send(reply)
        except StopIteration as done:
            return done.value
        if isinstance(request, StepRequest):
            logits, state = model.step([request.token], request.state)
            reply = logits, state, (Batch(logits, request.sampling), 0) if request.sampling else None
        else:
            reply = None
            yield request


def run_batch(model: StepModel, samplers: list[Generator]) -> list[Any]:
    """Drive several samplers together, one batched model step for all that wait on the model;
    returns what each returns. What they yield besides step requests is dropped."""
    results: list[Any] = [None] * len(samplers)
    waiting: dict[int, StepRequest] = {}

    def advance(i: int, reply) -> None:
        while True:
            try:
                request = samplers[i].send(reply)
            except StopIteration as done:
                results[i] = done.value
                waiting.pop(i, None)
                return
            if isinstance(request, StepRequest):
                waiting[i] = request
                return
            reply = None

    for i in range(len(samplers)):
        advance(i, None)
    order: list[int] = []
    new: list[np.ndarray] = []
    given: dict[int, list[np.ndarray]] = {}  # the state rows handed to each sampler last step
    while waiting:
        ready = sorted(waiting)
        tokens = np.array([waiting[i].token for i in ready])
        if ready == order and all(all(a is b for a, b in zip(waiting[i].state, given[i], strict=True))
                                  for i in ready):
            state = new  # every sampler goes on from the rows it was given: the batch's state as it is
        else:
            state = [np.concatenate([waiting[i].state[k] for i in ready]) for k in range(len(waiting[ready[0]].state))]
        logits, new = model.step(tokens, state)
        order = ready
        prepared = _prepared(logits, [waiting[i] for i in order])
        for row, i in enumerate(order):
            given[i] = [s[row:row + 1] for s in new]
            advance(i, (logits[row:row + 1], given[i], prepared[row]))
    return results


def finish(steps: Generator) -> Any:
    """Run a generator to its end and return what it returns (what it yields is dropped)."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def draw(model: StepModel, make_sampler, seed: list[int], candidates: int = 1) -> list[Any]:
    """What `make_sampler(rng)` returns: one draw seeded with `seed`, or `candidates` draws (seeded
    `seed + [k]`) stepped together in one batch."""
    if candidates == 1:
        return [finish(run_one(model, make_sampler(np.random.default_rng(seed))))]
    return run_batch(model, [make_sampler(np.random.default_rng([*seed, k])) for k in range(candidates)])
