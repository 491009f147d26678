"""``gradwise sweep``: a short training per combination of a grid, classified, and a map of which ones train."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradwise.cli.errors import UsageError
from gradwise.cli.train_command import add_train_flags, announce_data

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gradwise.sweep.executor import Outcome
    from gradwise.sweep.grid import Trial
    from gradwise.sweep.outcome import Thresholds
    from gradwise.sweep.results import Results

_STOPPING = ("epochs", "max_steps", "time_budget")


def add_parser(commands: Any) -> None:
    from gradwise.sweep.grid import PRESET_GRIDS

    p = commands.add_parser(
        "sweep",
        help="train every combination of a grid briefly and map which ones train, stall or blow up",
        description=(
            "Train one short run per combination of the --grid values (any train flag sets the rest), name each "
            "outcome (trained, slow, stalled, saturated, diverged, non_finite) and draw map.png. Results go to "
            "OUT/results.jsonl, keyed by each configuration's hash: a rerun skips finished trials."
        ),
        argument_default=argparse.SUPPRESS,  # only flags given on the command line override the preset
    )
    add_train_flags(p)
    p.set_defaults(preset=None)  # None: the preset grid's preset, else "default"
    sweep = p.add_argument_group("sweep")
    sweep.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="an axis: a train field and its values, e.g. lr=0.01,0.1,1 or hidden=30,512x256 (repeat for more axes)",
    )
    sweep.add_argument(
        "--preset-grid",
        default=None,
        choices=sorted(PRESET_GRIDS),
        help="a named sweep; seed-2017: the seed's network and the fixed one over sizes, batches and rates",
    )
    sweep.add_argument("--budget", default=None, help="per trial: 1epoch (default), 500steps or 30s")
    sweep.add_argument("--seed", type=int, help="seed for the weights, the data order and dropout")
    sweep.add_argument("--x", default=None, help="the map's horizontal axis (default lr)")
    sweep.add_argument("--y", default=None, help="the map's vertical axis (default hidden)")
    sweep.add_argument("--good", type=float, default=0.9, help="accuracy that counts as trained (default 0.9)")
    sweep.add_argument("--jobs", type=int, default=None, help="trials at once in local processes (default: cores)")
    sweep.add_argument("--ray", default=None, metavar="ADDRESS", help="run on the Ray cluster at ADDRESS, or auto")
    sweep.add_argument("--out", default=None, help="sweep folder (default sweeps/<preset grid or 'sweep'>)")
    p.set_defaults(run=run_sweep)


def run_sweep(args: argparse.Namespace) -> int:
    from gradwise.sweep.grid import PRESET_GRIDS
    from gradwise.sweep.outcome import Thresholds
    from gradwise.sweep.results import Results

    named = PRESET_GRIDS[args.preset_grid] if args.preset_grid else None
    trials, axes, budget_label = _trials(args, named)
    x, y = _map_axes(args, axes, named)
    out = Path(args.out or Path("sweeps") / (args.preset_grid or "sweep"))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder; choose another path")
    if trials[0].config.is_table:  # a bad table is one line now, not an error in every trial
        announce_data(trials[0].config)
    out.mkdir(parents=True, exist_ok=True)
    results = Results(out)
    finished = results.load()
    first: dict[str, Trial] = {}  # a configuration two combinations share runs once
    for trial in trials:
        first.setdefault(trial.key, trial)
    todo = [trial for key, trial in first.items() if key not in finished]
    print(f"sweep: {len(first)} trials, {budget_label} each -> {out}", flush=True)
    if len(todo) < len(first):
        print(f"skipped {len(first) - len(todo)} finished trials (already in {results.path})", flush=True)
    errors: dict[str, str] = {}
    if todo:
        _run(args, todo, results, finished, errors, total=len(first))
    _report(trials, finished, errors, x, y, out, Thresholds(good=args.good), budget_label)
    return 1 if errors else 0


def _trials(args: argparse.Namespace, named: Any) -> tuple[list[Trial], list[str], str]:
    """(every trial of the grid, the names of the axes varied, the budget in words); bad flags raise UsageError."""
    from gradwise.sweep.grid import merge_axes, parse_axis, parse_budget, span
    from gradwise.train.config import TrainConfig

    axes = merge_axes(named.axes if named else (), [parse_axis(text) for text in args.grid])
    if not axes:
        raise UsageError("sweep: nothing to vary; give --grid KEY=V1,V2 (such as --grid lr=0.01,0.1) or --preset-grid")
    if not 0 < args.good <= 1:
        raise UsageError(f"--good must be in (0, 1], got {args.good:g}")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    fields = set(TrainConfig.__dataclass_fields__) - {"preset", "extra"}
    flags = {name: value for name, value in vars(args).items() if name in fields}
    budget_text = args.budget  # without one, --epochs, --max-steps or --time-budget stop the trials
    if budget_text is None and not any(name in flags for name in _STOPPING):
        budget_text = named.budget if named else "1epoch"
    budget = parse_budget(budget_text) if budget_text else None
    fixed = {**(named.defaults if named else {}), **flags, **(budget.fields if budget else {})}
    budget_label = budget.label if budget else "as --epochs, --max-steps or --time-budget say"
    trials = span(args.preset or (named.preset if named else "default"), fixed, axes)
    if any(getattr(trial.config, "repair", False) for trial in trials):
        raise UsageError("--repair: a sweep maps what each configuration does as given; leave --repair out")
    return trials, [axis.name for axis in axes], budget_label


def _run(
    args: argparse.Namespace, todo: list[Trial], results: Any, finished: dict[str, Any], errors: dict[str, str],
    *, total: int,
) -> None:  # fmt: skip
    """The trials not yet finished, locally or on Ray, each recorded as it finishes."""
    from gradwise.sweep import executor
    from gradwise.sweep.outcome import Thresholds

    configs = [json.loads(trial.config.to_json()) for trial in todo]
    if args.ray:
        where, outcomes = f"Ray at {args.ray}", executor.run_ray(configs, args.ray)
    else:
        jobs = min(args.jobs or executor.cores(), len(todo))
        where = "this process" if jobs == 1 else f"{jobs} local processes"
        outcomes = executor.run_local(configs, jobs)
    print(f"running {len(todo)} trials on {where}", flush=True)
    try:
        _collect(todo, outcomes, results, finished, errors, Thresholds(good=args.good))
    except KeyboardInterrupt:
        kept = total - len(todo) + sum(trial.key in finished for trial in todo)
        print(f"\nstopped: {kept} of {total} trials are finished in {results.path}; the same command resumes")
        raise


def _collect(
    todo: list[Trial],
    outcomes: Iterator[Outcome],
    results: Results,
    finished: dict[str, dict[str, Any]],
    errors: dict[str, str],
    thresholds: Thresholds,
) -> None:
    """Record each trial as it finishes (an interrupted sweep keeps every finished one) and print a line."""
    for done, (index, result) in enumerate(outcomes, start=1):
        trial = todo[index]
        labels = " ".join(f"{name}={label}" for name, label in trial.axes.items())
        if isinstance(result, BaseException):
            errors[trial.key] = " ".join(f"{type(result).__name__}: {result}".split())
            print(f"[{done}/{len(todo)}] error       {labels}: {errors[trial.key]}", flush=True)
            continue
        record = _record(trial, result, thresholds)
        results.append(record)
        finished[trial.key] = record
        accuracy = _accuracy(record)
        shown = f"{accuracy:.3f}" if accuracy is not None else "  -  "
        print(
            f"[{done}/{len(todo)}] {record['outcome']:<11} {shown}  {labels}  ({result['seconds']:.1f} s)",
            flush=True,
        )


def _map_axes(args: argparse.Namespace, names: list[str], named: Any) -> tuple[str, str]:
    def pick(flag: str, given: str | None, preferred: list[str], taken: str | None) -> str:
        if given is not None:
            name = given.replace("-", "_")
            if name not in names:
                raise UsageError(f"--{flag} {given}: not an axis of this sweep; its axes are {', '.join(names)}")
            if name == taken:
                raise UsageError(f"--{flag} {given}: already the other axis of the map; choose another")
            return name
        choices = [n for n in preferred if n in names and n != taken] + [n for n in names if n != taken]
        return choices[0] if choices else ""

    x = pick("x", args.x, [named.x if named else "lr", "lr"], None)
    y = pick("y", args.y, [named.y if named else "hidden", "hidden"], x)
    return x, y


def _record(trial: Trial, result: dict[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    from gradwise.sweep.outcome import classify_record

    # Summary first, then the details: a line reads well with `head` or jq.
    record = {"key": trial.key, "axes": trial.axes, "outcome": None, "onset_step": None, **result}
    record["config"] = json.loads(trial.config.to_json())
    record["outcome"], record["onset_step"] = classify_record(record, thresholds)
    return record


def _accuracy(record: dict[str, Any]) -> float | None:
    value = record.get("val_accuracy")
    return value if value is not None else record.get("train_accuracy")


def _report(
    trials: list[Trial],
    finished: dict[str, dict[str, Any]],
    errors: dict[str, str],
    x: str,
    y: str,
    out: Path,
    thresholds: Thresholds,
    budget: str,
) -> None:
    from gradwise.sweep import stability_map as sm
    from gradwise.sweep.outcome import classify_record
    from gradwise.sweep.results import MAP_FILE

    cells: dict[str, sm.Cell] = {}
    for trial in trials:
        if trial.key in errors:
            cells[trial.key] = sm.Cell(sm.ERROR)
        elif trial.key in finished:
            # Classified again with this run's --good: the stored outcome used the thresholds of its own run.
            record = finished[trial.key]
            outcome, onset = classify_record(record, thresholds)
            cells[trial.key] = sm.Cell(outcome, _accuracy(record), onset)
    plan = sm.layout(trials, cells, x, y)
    print()
    print(sm.table(plan))
    print()
    print(f"outcomes: {sm.summary([cells.get(t.key, sm.Cell(sm.NOT_RUN)) for t in trials])}")
    config = trials[0].config
    items = "rows" if config.is_table else "images"
    data = f"{config.limit_train:,} {config.dataset} {items}" if config.limit_train else f"all {config.dataset} {items}"
    title = (
        f"{out.name}: {len({t.key for t in trials})} trials, {budget} each on {data}\n"
        f"each cell: outcome, validation accuracy (and the step a failure began)"
    )
    drawn = sm.draw(plan, out / MAP_FILE, title)
    print(f"map: {out / MAP_FILE}" + ("" if drawn else " (unchanged)"))
