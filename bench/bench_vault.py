"""Parse + extract a 100,000-note synthetic vault: cold, beside a plain read, and after 1% changed.

Usage: make bench   (or: .venv/bin/python bench/bench_vault.py [NOTES [ROUNDS]])
Times the work vault_notes and reflection_examples do (refresh_notes, extract_all, the JSONL
write) without Dagster's per-run overhead, then materializes both assets on the same vault
through Dagster to show every file is accounted for. Records vault.notes_per_s,
vault.read_floor_ratio, vault.incremental_speedup, vault.rerun_stat_floor_ratio,
vault.stat_floor_find_s, vault.assets_100k_s and vault.assets_rerun_100k_s; and what extraction
made of the vault's habits: extract.examples_per_1k_notes, extract.daily_coverage and
extract.not_yours_leaked (examples from imported highlights or private notes: must be 0).
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # bench.habit_vaults
from machine import matmul_gflops  # noqa: E402
from results import record  # noqa: E402

from bench.habit_vaults import HIGHLIGHTS  # noqa: E402
from bench.synthetic_vault import PRIVATE_MARKER, generate  # noqa: E402
from forge_pipeline.defs.dataset.assets import reflection_examples  # noqa: E402
from forge_pipeline.defs.resources import ForgeResource, GeminiResource  # noqa: E402
from forge_pipeline.defs.vault.assets import vault_notes  # noqa: E402
from forge_pipeline.lib.core.config import Extraction, Parsing  # noqa: E402
from forge_pipeline.lib.dataset.extraction import ExtractionRun, extract_all  # noqa: E402
from forge_pipeline.lib.vault.scan import refresh_notes  # noqa: E402
from forge_pipeline.lib.vault.templates import template_lines  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "vault"
COMMAND = "make bench"
SYSTEM = "You are a reflective journaling companion."


def plain_read(vault: Path) -> float:
    """Seconds to walk the vault and read every file's bytes, parsing nothing: the floor."""
    started = time.perf_counter()
    for root, _, files in os.walk(vault):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                handle.read()
    return time.perf_counter() - started


def plain_stat(vault: Path) -> float:
    """Seconds to walk the vault and stat every file: the floor of a re-run that finds edits."""
    started = time.perf_counter()
    for root, _, files in os.walk(vault):
        for name in files:
            os.stat(os.path.join(root, name))
    return time.perf_counter() - started


def find_stat(vault: Path) -> float:
    """Seconds for GNU find (native code) to stat every file: below what any Python walk can do."""
    started = time.perf_counter()
    command = ["find", str(vault), "-printf", "%s %T@\n"]
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def parse_and_extract(vault: Path, work: Path) -> tuple[float, int, int, ExtractionRun]:
    """Seconds for what the two assets do; notes, files accounted for, what was extracted."""
    started = time.perf_counter()
    scan = refresh_notes(vault, Parsing(), work / "notes.arrow")
    boilerplate = template_lines(vault, Extraction().templates_folder)
    run = extract_all(work / "notes.arrow", work / "cache.arrow", Extraction(), SYSTEM, boilerplate)
    run.write(work / "examples.jsonl")
    seconds = time.perf_counter() - started
    notes = scan.table.num_rows + len(scan.reused)
    assert scan.files_seen == notes + len(scan.skipped), "a file was not accounted for"
    return seconds, notes, scan.files_seen, run


def leaked(run: ExtractionRun) -> int:
    """Examples made of imported highlights or private notes (the generator marks both)."""
    count = 0
    for line in run.lines:
        example = json.loads(line)
        source, answer = example["source_file"], example["messages"][-1]["content"]
        theirs = any(quote in answer for quote in HIGHLIGHTS) or PRIVATE_MARKER in answer
        count += source.startswith(("Readwise/", "Private/")) or theirs
    return count


def touch_one_percent(vault: Path) -> int:
    """Append a line to every hundredth note, as a day of editing would."""
    notes = sorted((vault / "Daily").rglob("*.md"))[::100]
    for path in notes:
        with path.open("a", encoding="utf-8") as handle:
            handle.write("\nLooking back, this note changed today. #reflection\n")
    return len(notes)


def assets_through_dagster(vault: Path, home: Path) -> tuple[float, float]:
    """Seconds to materialize vault_notes and reflection_examples cold, then after 1% changed."""
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "forge": ForgeResource(overrides={"vault": str(vault), "home": str(home)}),
        "gemini": GeminiResource(),  # no key: the benchmark never sends notes anywhere
    }
    seconds = []
    for rerun in (False, True):
        if rerun:
            touch_one_percent(vault)
        started = time.perf_counter()
        result = dg.materialize(
            [vault_notes, reflection_examples], resources=resources, instance=instance
        )
        seconds.append(time.perf_counter() - started)
        meta = result.asset_materializations_for_node("vault_notes")[0].metadata
        seen, parsed, skipped = (
            meta[k].value for k in ("files_seen", "notes_parsed", "notes_skipped")
        )
        assert seen == parsed + skipped, f"{seen} seen != {parsed} parsed + {skipped} skipped"
        print(f"dagster: {seen} files seen = {parsed} notes parsed + {skipped} skipped")
    return seconds[0], seconds[1]


def main(notes: int = 100_000, rounds: int = 3) -> None:
    """Generate the vault; time the floor, cold runs and 1% re-runs, several rounds of each."""
    shutil.rmtree(OUT, ignore_errors=True)
    vault = OUT / "vault"
    print(f"generating {notes} notes: {dict(generate(vault, notes))}")
    plain_read(vault)  # warm the page cache, so every timing reads from memory
    floor = plain_read(vault)
    native_stat = find_stat(vault)
    gflops = matmul_gflops()  # how fast this (shared, noisy) machine runs right now
    colds, reruns, stat_floors = [], [], []
    for number in range(rounds):  # the machine is noisy: medians of several rounds, and spreads
        work = OUT / f"work-{number}"
        work.mkdir(parents=True)
        cold, parsed, seen, run = parse_and_extract(vault, work)
        changed = touch_one_percent(vault)
        stat_floors.append(plain_stat(vault))
        reruns.append(parse_and_extract(vault, work)[0])
        colds.append(cold)
        print(
            f"round {number + 1}: {seen} files, {parsed} notes: cold {cold:.2f} s, "
            f"{changed} changed {reruns[-1]:.2f} s, plain stat {stat_floors[-1]:.2f} s"
        )
    cold, incremental = statistics.median(colds), statistics.median(reruns)
    ratios = [rerun / stat for rerun, stat in zip(reruns, stat_floors, strict=True)]
    print(f"plain read {floor:.2f} s, find {native_stat:.2f} s")
    note = f"{notes} synthetic notes, {os.cpu_count()} cores at {gflops} GFLOP/s fp32 matmul"
    spread = f"{note}, median of {rounds} rounds (the first starts the workers): " + ", ".join(
        f"{parsed / seconds:.0f}" for seconds in colds
    )
    record("vault.notes_per_s", round(parsed / cold), "notes/s", COMMAND, spread)
    record("vault.read_floor_ratio", round(cold / floor, 2), "x", COMMAND, note)
    record("vault.incremental_speedup", round(cold / incremental, 1), "x", COMMAND, note)
    stat_note = f"{note}, 1% re-run / time to stat every file, median of {rounds}: " + ", ".join(
        f"{ratio:.2f}" for ratio in ratios
    )
    record(
        "vault.rerun_stat_floor_ratio", round(statistics.median(ratios), 2), "x", COMMAND, stat_note
    )
    find_note = note + ", GNU find stat-ing every file (what a re-run cannot go below)"
    record("vault.stat_floor_find_s", round(native_stat, 2), "s", COMMAND, find_note)
    habits = note + ", every habit of bench/habit_vaults.py, default extraction rules"
    per_1k = round(1000 * len(run.examples) / parsed)
    record("extract.examples_per_1k_notes", per_1k, "examples", COMMAND, habits)
    record("extract.daily_coverage", run.daily_coverage, "share", COMMAND, habits)
    record("extract.not_yours_leaked", leaked(run), "examples", COMMAND, habits)
    dagster_cold, dagster_rerun = assets_through_dagster(vault, OUT / "home")
    record(
        "vault.assets_100k_s", round(dagster_cold, 1), "s", COMMAND, note + ", cold, via Dagster"
    )
    rerun_note = note + ", after 1% changed, via Dagster"
    record("vault.assets_rerun_100k_s", round(dagster_rerun, 2), "s", COMMAND, rerun_note)
    shutil.rmtree(OUT, ignore_errors=True)


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
