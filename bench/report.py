"""Markdown for ``bench/RESULTS.md``: header, a summary, one table per section, hot spots,
closing note. Every table has the same columns: Figure | Value | Target | Status | Notes."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.common import Section

COLUMNS = ("Figure", "Value", "Target", "Status", "Notes")


def _cell(s: object) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ").strip()


def table(rows: list[tuple], columns: tuple[str, ...] = COLUMNS) -> list[str]:
    out = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for r in rows:
        out.append("| " + " | ".join(_cell(c) for c in r) + " |")
    return out


def section_rows(sec: Section) -> list[tuple]:
    rows = []
    for f in sec.figures:
        tgt = f.target.label(f.unit) if f.target else "-"
        rows.append((f.name, f.value_text(), tgt, f.status, f.note))
    return rows


def render(sections: list[Section], *, info: dict, extras: dict, started: datetime, seconds: float,
           quick: bool, command: str) -> str:
    m = info["machine"]
    v = m["versions"]
    lines = ["# Bench results", ""]
    if quick:
        lines += ["> **--quick run**: tiny inputs and single repeats, to prove the harness runs. "
                  "These figures are not the product's; see `python -m bench` for those.", ""]
    ram = f"{m['ram_gib']:.1f} GiB" if m.get("ram_gib") else "?"
    lines += [
        f"- Machine: {m['cpu']}, {m['cores']} cores, {ram} RAM, {m['os']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Date: {started.astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Commit: {info['commit']}",
        f"- Command: `{command}` ({seconds / 60:.1f} min)",
        f"- Load average (1/5/15 min) at start: {info['load_start']}; at end: {info['load_end']}",
        "",
        "Every timed figure is the median of several runs (the Notes say how many). Ratios are to the "
        "decode floor measured in the same run (see Speed), so they carry to a faster or slower machine; "
        "seconds are for this machine. Benchmarks never fail CI: a missed target is marked NOT MET.",
        "",
        "## Summary",
        "",
    ]
    srows = []
    for s in sections:
        targeted = [f for f in s.figures if f.target is not None]
        met = sum(1 for f in targeted if f.met)
        notmet = [f.name for f in targeted if f.met is False]
        state = "error: " + s.error if s.error else ("skipped" if not s.figures else "")
        srows.append((s.title, f"{met}/{len(targeted)}", ", ".join(notmet) or "-", f"{s.seconds:.0f} s", state))
    lines += table(srows, ("Section", "Targets met", "Not met", "Bench time", "State"))
    lines.append("")
    for s in sections:
        lines += [f"## {s.title}", ""]
        if s.error:
            lines += [f"**Not measured:** {s.error}", ""]
        if s.figures:
            lines += table(section_rows(s))
            lines.append("")
        for n in s.notes:
            lines.append(f"- {n}")
        if s.notes:
            lines.append("")
    prof = extras.get("profile")
    if prof:
        lines += ["## Hot spots", "", f"Profiled: {prof['what']}.", ""]
        cp = prof["cprofile"]
        lines += [f"cProfile, by own time (total {cp['total_s']:.2f} s under the profiler):", ""]
        lines += table([(r["function"], r["calls"], f"{r['own_s']:.3f}", f"{100 * r['own_share']:.1f}%",
                         r["called_from"]) for r in cp["own"][:12]],
                       ("Function", "Calls", "Own s", "Share", "Called from (analyzer)"))
        lines += ["", "Analyzer functions by the time spent on their own lines (own time + the NumPy/OpenCV/dlib "
                  "calls they make directly): the functions to optimise.", ""]
        lines += table([(r["function"], f"{r['self_s']:.3f}", f"{100 * r['share']:.1f}%", r["main_calls"])
                        for r in cp.get("hot", [])[:12]], ("Function", "Own lines s", "Share", "Main library calls"))
        lines += ["", "Analyzer functions, by cumulative time:", ""]
        lines += table([(r["function"], r["calls"], f"{r['cum_s']:.3f}", f"{100 * r['cum_share']:.0f}%")
                        for r in cp["analyzer"][:12]], ("Function", "Calls", "Cum s", "Share"))
        ln = prof["lines"]
        lines += ["", f"Sampling profiler, by source line ({ln['samples']} samples over {ln['total_s']:.2f} s; "
                  "each sample charged, time-weighted, to the innermost analyzer/ line on the stack). A library call "
                  "that holds the GIL (dlib, some NumPy) delays the sampler, and its time can land on the line "
                  "after the call; the cProfile tables above are exact by function.", ""]
        lines += table([(r["where"], f"`{r['code'][:90]}`", f"{100 * r['share']:.1f}%") for r in ln["lines"]],
                       ("Line", "Code", "Share"))
        lines.append("")
    lines += ["## Closing note", ""]
    lines += closing_note(sections, extras)
    lines.append("")
    return "\n".join(lines)


def closing_note(sections: list[Section], extras: dict) -> list[str]:
    met, notmet, unmeasured = [], [], []
    for s in sections:
        for f in s.figures:
            if f.target is None:
                continue
            item = f"{s.title}: {f.name} ({f.value_text()} vs {f.target.label(f.unit)})"
            (met if f.met else notmet if f.met is False else unmeasured).append(item)
    out = [f"Targets met: {len(met)}; not met: {len(notmet)}; not measured: {len(unmeasured)}.", ""]
    if met:
        out.append("Met: " + "; ".join(f"{f.name}" for s in sections for f in s.figures if f.met) + ".")
        out.append("")
    if notmet:
        out.append("Not met, and what limits each (from the profiles in this run):")
        for s in sections:
            for f in s.figures:
                if f.met is False:
                    why = limited_by(s.key, f.name, extras)
                    out.append(f"- {s.title.split(':')[0]}: {f.name} ({f.value_text()} vs {f.target.label(f.unit)})"
                               + (f". Limited by: {why}" if why else ""))
        out.append("")
    if unmeasured:
        out.append("Not measured:")
        out += [f"- {x}" for x in unmeasured]
        out.append("")
    prof = extras.get("profile")
    if prof:
        top = prof["cprofile"]["analyzer"]
        lines = prof["lines"]["lines"]
        hot = prof["cprofile"].get("hot", [])
        if top:
            inner = [r for r in top if not r["function"].endswith(" compare")][:3]
            out.append("Largest stages (profile of one compare, cumulative): "
                       + "; ".join(f"{r['function']} {100 * r['cum_share']:.0f}%" for r in inner) + ".")
        if hot:
            out.append("Hot spots (time on the function's own lines): " + "; ".join(
                f"{r['function']} {100 * r['share']:.0f}% ({r['main_calls'] or 'Python'})" for r in hot[:4]) + ".")
        if lines:
            out.append("Most sampled source lines: " + "; ".join(
                f"{r['where']} ({100 * r['share']:.0f}%)" for r in lines[:3]) + ".")
    mem = extras.get("memory")
    if mem and mem[0].get("stages"):
        st = sorted(mem[0]["stages"].items(), key=lambda kv: -kv[1]["peak_mib"])[:2]
        out.append("What sets the memory peak: " + "; ".join(
            f"stage {k} reaches {v['peak_mib']:.0f} MiB (+{v['rise_mib']:.0f} MiB during it)" for k, v in st) + ".")
    for n in extras.get("closing", []):
        out.append(n)
    return out


#: Which analyzer files make up a speed figure (to name its hot spot).
_FILES = {
    "align": ("analyzer/align.py", "analyzer/face.py"),
    "metrics": ("analyzer/metrics.py", "analyzer/calibrate.py", "analyzer/regions.py", "analyzer/color.py"),
}


def _hot_in(extras: dict, files: tuple[str, ...] | None, k: int = 2) -> str:
    prof = extras.get("profile")
    if not prof:
        return ""
    hot = [r for r in prof["cprofile"].get("hot", []) if files is None or r["function"].startswith(files)]
    lines = [r for r in prof["lines"]["lines"] if files is None or r["where"].startswith(files)]
    parts = [f"{r['function']} ({100 * r['share']:.0f}% of a compare"
             + (f"; {r['main_calls']}" if r["main_calls"] else "") + ")" for r in hot[:k]]
    if hot:  # the sampled line inside the top function (cProfile names the function exactly)
        fn_name = hot[0]["function"].split(" ", 1)[-1]
        fn_file = hot[0]["function"].split(":", 1)[0]
        inside = [r for r in lines if r["where"].startswith(fn_file) and r["where"].endswith(" " + fn_name)]
        if inside:
            parts.append(f"in it, line {inside[0]['where'].split(' ')[0]} `{inside[0]['code'][:70]}` "
                         f"({100 * inside[0]['share']:.0f}% of the samples)")
    return "; ".join(parts)


def limited_by(section: str, name: str, extras: dict) -> str:
    """A short "limited by" text for a missed target, from this run's profiles."""
    low = name.lower()
    if section == "speed":
        if "alignment" in low and "metrics" not in low:
            return _hot_in(extras, _FILES["align"])
        if "metrics of one photo" in low:
            return _hot_in(extras, _FILES["metrics"])
        return _hot_in(extras, None, 3)
    if section == "memory":
        mem = extras.get("memory") or []
        if mem and mem[0].get("peak_where"):
            st = sorted(mem[0].get("stages", {}).items(), key=lambda kv: -kv[1]["peak_mib"])[:1]
            stage = f"; stage {st[0][0]} rises {st[0][1]['rise_mib']:.0f} MiB" if st else ""
            tr = extras.get("memory_trace") or {}
            big = "; largest live buffers then: " + ", ".join(
                f"{t['where']} {t['mib']:.0f} MiB" for t in tr.get("top", [])[:3]) if tr.get("top") else ""
            return (f"resident memory peaks at {' <- '.join(mem[0]['peak_where'])}{stage}, on top of "
                    f"{mem[0].get('rss_after_load_mib', 0):.0f} MiB held once both photos are loaded{big}")
        return ""
    if section == "app":
        pr = extras.get("app_profile") or {}
        key = "first" if "first page" in low else "review_switch" if "review" in low else None
        r = pr.get(key) if key else None
        if r and r.get("lines"):
            return "; ".join(f"{h['where']} `{h['code'][:60]}` ({100 * h['share']:.0f}%)" for h in r["lines"][:2])
        return ""
    if section == "scale":
        sc = extras.get("scale") or {}
        if "written" in low:
            err = next((v.get("write_error") for v in sc.values() if v.get("write_error")), None)
            return f"writing the outputs failed: {err}" if err else ""
        par = [v for k, v in sc.items() if k not in (1, "1t")]
        if 1 in sc and par and sc[1].get("first_photo_s") is not None and par[0].get("first_photo_s") is not None:
            return (f"worker start-up (first photo after {par[0]['first_photo_s']:.1f} s in parallel vs "
                    f"{sc[1]['first_photo_s']:.1f} s serial) and other processes on the 2 cores; see the Scale notes")
        return "see the Scale notes"
    if section == "accuracy":
        return "an accuracy limit, not a speed one: see the row's note"
    return ""
