"""The command line, ``python -m analyzer``: a stable contract.

Subcommands::

    metrics IMAGE [--roi X,Y,W,H] [--reference X,Y,W,H] [--json]
    align BASELINE FOLLOWUP [--out ALIGNED.png] [--json]
    compare BASELINE FOLLOWUP [--roi X,Y,W,H] [--out-dir DIR] [--json]
            [--reference-baseline X,Y,W,H --reference-followup X,Y,W,H]
    batch FOLDER [--out DIR] [--workers N] [--engine processes|dask [--scheduler ADDRESS]]
    reanalyze [--scheduler ADDRESS | --workers N] [--patient CODE] [--series ID]
    report ...

Exit status: 0 on success; 2 for unusable input (missing, empty, truncated or non-image
file, an image too large, a malformed option), with one line ``error: …`` on stderr and no
traceback; 1 when a batch had failures or on an internal error (also one line).
With ``--json`` a single JSON object goes to stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer import __version__
from analyzer.errors import SkinProgressError, UsageError

if TYPE_CHECKING:
    from analyzer.store import Store


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting (one-line errors)."""

    def error(self, message: str):  # noqa: D401
        raise UsageError(message)


def _json_default(o):
    import numpy as np

    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating,)):
        f = float(o)
        return f if math.isfinite(f) else None
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o):
    """Replace NaN/inf floats by None everywhere (JSON has no NaN)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    return o


def dumps(obj) -> str:
    """JSON text for the CLI: NaN → null, numpy types converted."""
    return json.dumps(_clean(json.loads(json.dumps(obj, default=_json_default, allow_nan=True))),
                      allow_nan=False, ensure_ascii=False)


def _parse_roi(text: str | None, width: int, height: int):
    """Parse ``--roi`` and check it against the (baseline's) upright size."""
    if text is None:
        return None
    from analyzer.regions import RectROI, parse_roi

    roi = parse_roi(text)
    if isinstance(roi, RectROI):
        if roi.w <= 0 or roi.h <= 0:
            raise UsageError(f"--roi {text}: width and height must be positive")
        if roi.x < 0 or roi.y < 0 or roi.x + roi.w > width or roi.y + roi.h > height:
            raise UsageError(f"--roi {text}: lies outside the {width}x{height} image")
    return roi


def _parse_reference(text: str | None, option: str, width: int, height: int):
    """A reference patch rectangle ``X,Y,W,H`` in the photo's own upright pixels."""
    if text is None:
        return None
    from analyzer.regions import RectROI, parse_roi

    ref = parse_roi(text)
    if not isinstance(ref, RectROI):
        raise UsageError(f"{option} {text}: give a rectangle X,Y,W,H")
    if ref.w <= 0 or ref.h <= 0 or ref.x < 0 or ref.y < 0 or ref.x + ref.w > width or ref.y + ref.h > height:
        raise UsageError(f"{option} {text}: must be a rectangle inside the {width}x{height} image")
    return ref


def _fmt(v, nd=2) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _summary_metrics(d: dict, indent: str = "  ") -> list[str]:
    lines = []
    for group in ("redness", "pigmentation", "texture"):
        vals = d.get(group) or {}
        meta = d.get("meta") or {}
        parts = []
        for k, v in vals.items():
            unit = (meta.get(f"{group}.{k}") or {}).get("unit", "")
            parts.append(f"{k}={_fmt(v)}{(' ' + unit) if unit and unit not in ('1', '') else ''}")
        lines.append(f"{indent}{group}: " + ", ".join(parts))
    from analyzer.stored import calibration_of

    cal = calibration_of(d)
    lines.append(f"{indent}calibration: {cal.method}"
                 + (f" (residual dE2000 {_fmt(cal.residual_delta_e)})" if cal.method != "none" else ""))
    warnings = (d.get("quality") or {}).get("warnings") or []
    for w in warnings:
        lines.append(f"{indent}warning: {w}")
    return lines


def _cmd_metrics(args) -> int:
    from analyzer.io import load_photo

    photo = load_photo(args.image)
    roi = _parse_roi(args.roi, photo.width, photo.height)
    ref = _parse_reference(args.reference, "--reference", photo.width, photo.height)
    from analyzer.pipeline import analyze_metrics

    result = analyze_metrics(photo, roi=roi, reference=ref)
    d = result.to_dict()
    if args.json:
        print(dumps(d))
    else:
        print(f"{photo.name}: {photo.width}x{photo.height}, region {d['region']}, "
              f"skin fraction {_fmt(d.get('skin_fraction'))}")
        print("\n".join(_summary_metrics(d)))
    return 0


def _alignment_line(a: dict) -> str:
    status = "ok" if a["ok"] else f"REFUSED ({a.get('reason')})"
    return (f"alignment {status}: method {a['method']}, confidence {_fmt(a['confidence'])}, "
            f"residual {_fmt(a['residual_px'])} px, overlap {_fmt(a['overlap'])}")


def _cmd_align(args) -> int:
    from analyzer.io import load_photo, save_png

    base = load_photo(args.baseline)
    fol = load_photo(args.followup)
    out = Path(args.out) if args.out else None
    if out is not None and not out.parent.exists():
        raise UsageError(f"--out {args.out}: folder {out.parent} does not exist")
    from analyzer.align import align, warp_to_baseline

    a = align(base.rgb, fol.rgb)
    d = a.to_dict()
    d["image"] = {"baseline": base.size, "followup": fol.size}
    if out is not None:
        if a.ok:
            warped, _ = warp_to_baseline(fol.rgb, a, base.rgb.shape[:2])
            save_png(warped, out)
            d["out"] = str(out)
        else:
            d["out"] = None
    if args.json:
        print(dumps(d))
    else:
        print(f"{base.name} <- {fol.name}: {_alignment_line(d)}")
        if out is not None:
            print(f"aligned follow-up written to {out}" if a.ok else "no aligned image written (alignment refused)")
    # A refused alignment is an answer (ok: false, with the reason), not a usage error.
    return 0


def _write_compare_outputs(comp, out_dir: Path) -> list[str]:
    import numpy as np

    from analyzer.io import save_png

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if comp.aligned_rgb is not None:
        save_png(comp.aligned_rgb, out_dir / "aligned.png")
        written.append("aligned.png")
        blend = 0.5 * comp.baseline_rgb + 0.5 * comp.aligned_rgb
        save_png(blend, out_dir / "overlay.png")
        written.append("overlay.png")
        from analyzer.render import heatmap

        for key, m in comp.maps().items():
            # red = more of the concern, as in the app: darker skin (more pigment) is red on the L* map
            sign = -1.0 if key == "delta_L_star" else 1.0
            rgb = heatmap(sign * m, background=comp.baseline_rgb, kind=key.removeprefix("delta_"))
            save_png(rgb.astype(np.float32), out_dir / f"change_{key}.png")
            written.append(f"change_{key}.png")
    (out_dir / "compare.json").write_text(dumps(comp.to_dict()))
    written.append("compare.json")
    return written


def _cmd_compare(args) -> int:
    from analyzer.io import load_photo

    base = load_photo(args.baseline)
    fol = load_photo(args.followup)
    roi = _parse_roi(args.roi, base.width, base.height)
    ref_b = _parse_reference(args.reference_baseline, "--reference-baseline", base.width, base.height)
    ref_f = _parse_reference(args.reference_followup, "--reference-followup", fol.width, fol.height)
    from analyzer.pipeline import compare

    out_dir = Path(args.out_dir) if args.out_dir else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out-dir {args.out_dir}: is a file, not a folder")
    name = "roi" if roi is not None else "face"
    if roi is not None and type(roi).__name__ == "NamedROI":
        name = roi.name
    comp = compare(base, fol, rois={name: roi}, keep_aligned=out_dir is not None,
                   baseline_reference=ref_b, followup_reference=ref_f)
    d = comp.to_dict()
    if out_dir is not None:
        d["out_dir"] = str(out_dir)
        d["files"] = _write_compare_outputs(comp, out_dir)
    if args.json:
        print(dumps(d))
    else:
        print(f"{base.name} -> {fol.name}, region {d['region']}")
        print(_alignment_line(d["alignment"]))
        print("baseline:")
        print("\n".join(_summary_metrics(d["baseline"])))
        if d["followup"] is not None:
            print("follow-up (aligned, same region):")
            print("\n".join(_summary_metrics(d["followup"])))
            print("change (follow-up minus baseline):")
            reasons: dict[str, int] = {}
            for key, c in (d["change"] or {}).items():
                if "." not in key:  # the same changes, grouped: printed once
                    continue
                pct = c.get("percent")
                verdict = {True: "within noise", False: "beyond noise"}.get(c.get("within_noise"), "")
                if c.get("within_noise") is None and c.get("verdict_reason"):
                    n = reasons.setdefault(c["verdict_reason"], len(reasons) + 1)
                    verdict = f"can't tell ({n})"
                print(f"  {key}: {_fmt(c.get('delta'))}" + (f" ({pct:+.1f}%)" if pct is not None else "")
                      + (f"  [{verdict}]" if verdict else ""))
            for why, n in reasons.items():
                print(f"  ({n}) {why}")
        else:
            print(f"follow-up not measured: {d['reason']}")
        if out_dir is not None:
            print(f"files written to {out_dir}: {', '.join(d['files'])}")
    return 0


def _batch_default_workers() -> int:
    from analyzer.batch import default_workers

    return default_workers()


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``batch`` subcommand's arguments."""
    parser.add_argument("folder", metavar="FOLDER", help="one subfolder per session (2026-01-15/front.jpg ...)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: FOLDER-analysis beside FOLDER)")
    parser.add_argument("--workers", metavar="N", type=int, default=None,
                        help=f"worker processes (default: all cores, {_batch_default_workers()} here)")
    parser.add_argument("--roi", metavar="X,Y,W,H", help="region on the baseline photos (default: the face area)")
    parser.add_argument("--patient", metavar="CODE", help="patient code for the rows and report (default: folder name)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--engine", choices=("processes", "dask"), default="processes",
                        help="processes: this machine's process pool (default); dask: a Dask cluster, "
                             "local or --scheduler (the re-analysis engine)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="with --engine dask: a Dask scheduler (its workers must see FOLDER)")


def run_batch_command(args: argparse.Namespace) -> int:
    """Run ``batch``: 0 when every photo was analysed, 1 when any failed (listed on stderr)."""
    from analyzer.batch import run_batch

    res = run_batch(
        args.folder,
        out_dir=args.out,
        workers=args.workers,
        roi=args.roi,
        progress=not args.no_progress,
        patient_code=getattr(args, "patient", None),
        engine=getattr(args, "engine", "processes"),
        scheduler=getattr(args, "scheduler", None),
    )
    n_ok = len(res.photos)
    per = res.seconds / max(1, n_ok + len(res.failures))
    print(
        f"analysed {n_ok} photo(s) in {len(res.sessions)} session(s) with {res.workers} worker(s) "
        f"in {res.seconds:.1f} s ({per:.2f} s per photo); {len(res.failures)} failed"
    )
    for k in ("csv", "json", "pdf"):
        if k in res.outputs:
            print(f"wrote {res.outputs[k]}")
    for n in res.notes:
        print(f"note: {n}", file=sys.stderr)
    for f in res.failures:
        print(f.line(), file=sys.stderr)
    return 1 if res.failures else 0


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``report`` subcommand's arguments.

    ``report FROM_BATCH_JSON --out report.pdf`` (a batch run's results.json), or
    ``report --database-url URL --data-dir DIR --patient CODE [--series ID] --out report.pdf``.
    """
    parser.add_argument("batch_json", nargs="?", metavar="FROM_BATCH_JSON",
                        help="a batch run's results.json (instead of the database)")
    parser.add_argument("--database-url", metavar="URL",
                        help="database URL (default: as the app: $SKIN_PROGRESS_DATABASE_URL, else the data "
                             "folder's settings.json, else SQLite in the data folder)")
    parser.add_argument("--data-dir", metavar="DIR", help="the store's photo folder")
    parser.add_argument("--patient", metavar="CODE", help="patient code")
    parser.add_argument("--series", metavar="ID", type=int, help="series id (default: the patient's newest)")
    parser.add_argument("--out", metavar="PDF", required=True, help="where to write the PDF")


def _find_patient(store: Store, code: str):
    for name in ("get_patient_by_code", "find_patient", "patient_by_code"):
        fn = getattr(store, name, None)
        if fn is not None:
            try:
                p = fn(code)
            except Exception:  # noqa: BLE001 - not found is reported below
                p = None
            if p is not None:
                return p
    lister = getattr(store, "list_patients", None)
    if lister is not None:
        for p in lister():
            if p.code == code:
                return p
    raise UsageError(f"no patient with code {code!r}")


def run_report_command(args: argparse.Namespace) -> int:
    """Run ``report``: write the PDF; 0 on success (bad options raise UsageError → exit 2)."""
    from analyzer.report import build_report, report_data_from_batch_json, report_data_from_store

    out = Path(args.out)
    if out.suffix.lower() != ".pdf":
        raise UsageError(f"--out {out}: the report is a PDF; give a file name ending in .pdf")
    if args.batch_json:
        if args.patient or args.database_url or args.series is not None:
            raise UsageError("give either FROM_BATCH_JSON or --patient (with --database-url/--data-dir), not both")
        data = report_data_from_batch_json(args.batch_json)
    else:
        if not args.patient:
            raise UsageError("report needs FROM_BATCH_JSON or --patient CODE")
        from analyzer.config import store_location
        from analyzer.store import Store

        # The app's chain: --database-url, then SKIN_PROGRESS_DATABASE_URL, then the data
        # folder's settings.json (the Settings page), then SQLite in the data folder.
        loc = store_location(url=args.database_url, data_dir=args.data_dir)
        store = Store(url=loc.database_url, data_dir=loc.data_dir)
        patient = _find_patient(store, args.patient)
        data = report_data_from_store(store, patient.id, args.series)
    pdf = build_report(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_bytes(pdf)
    os.replace(tmp, out)
    print(f"wrote {out} ({len(pdf) / 1024:.0f} KiB, {len(data.views)} view(s), {len(data.dates)} session(s))")
    return 0


def add_reanalyze_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``reanalyze`` subcommand's arguments."""
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a Dask scheduler (tcp://host:8786); default: a local cluster on this machine")
    parser.add_argument("--workers", metavar="N", type=int, default=None,
                        help="worker processes of the local cluster (default: all cores)")
    parser.add_argument("--patient", metavar="CODE", help="only this patient's photos")
    parser.add_argument("--series", metavar="ID", type=int, help="only this series' photos")
    parser.add_argument("--database-url", metavar="URL", help="database URL (default: as the app)")
    parser.add_argument("--data-dir", metavar="DIR", help="the data folder (default: as the app)")
    parser.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")


def run_reanalyze_command(args: argparse.Namespace) -> int:
    """Run ``reanalyze``: 0 when every photo was analysed, 1 when any failed (listed on stderr)."""
    from analyzer import ANALYZER_VERSION
    from analyzer.config import store_location
    from analyzer.service.reanalysis import reanalyze
    from analyzer.store import Store

    if args.scheduler and args.workers is not None:
        raise UsageError("--workers sizes the local cluster; with --scheduler the cluster has its own workers")
    loc = store_location(url=args.database_url, data_dir=args.data_dir)
    store = Store(url=loc.database_url, data_dir=loc.data_dir)
    patient_id = _find_patient(store, args.patient).id if args.patient else None
    if args.series is not None and patient_id is not None and store.get_series(args.series).patient_id != patient_id:
        raise UsageError(f"series {args.series} is not patient {args.patient}'s")

    def show(fraction: float, text: str) -> None:
        print(f"reanalyze: {text}", file=sys.stderr, flush=True)

    print(f"re-analysing with analyzer {ANALYZER_VERSION}: {store.describe()}, photos in {store.files.describe()}",
          file=sys.stderr)
    run = reanalyze(store, scheduler=args.scheduler, workers=args.workers, patient_id=patient_id,
                    series_id=args.series, progress=None if args.no_progress else show)
    print(f"re-analysed {run.total} photo(s) on {run.workers} worker(s) in {run.seconds:.1f} s: "
          f"{run.written} written, {run.already} already current, {len(run.failed)} failed")
    for pid, why in run.failed:
        print(f"photo {pid}: {why}", file=sys.stderr)
    store.close()
    return 1 if run.failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m analyzer", description="skin-progress photo analyzer")
    p.add_argument("--version", action="version", version=f"skin-progress analyzer {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    sub.required = True

    m = sub.add_parser("metrics", help="measure redness, pigmentation and texture on one photo")
    m.add_argument("image", metavar="IMAGE")
    m.add_argument("--roi", help="X,Y,W,H rectangle in upright pixels, or a face region name")
    m.add_argument("--reference", metavar="X,Y,W,H",
                   help="a neutral reference patch (grey card) to calibrate with when no ColorChecker is in the photo")
    m.add_argument("--json", action="store_true", help="print one JSON object")
    m.set_defaults(func=_cmd_metrics)

    a = sub.add_parser("align", help="align a follow-up photo to a baseline photo")
    a.add_argument("baseline", metavar="BASELINE")
    a.add_argument("followup", metavar="FOLLOWUP")
    a.add_argument("--out", help="write the follow-up warped into the baseline frame (PNG)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=_cmd_align)

    c = sub.add_parser("compare", help="align and measure the change from baseline to follow-up")
    c.add_argument("baseline", metavar="BASELINE")
    c.add_argument("followup", metavar="FOLLOWUP")
    c.add_argument("--roi", help="X,Y,W,H rectangle in the baseline's upright pixels, or a face region name")
    c.add_argument("--out-dir", help="write aligned image, overlay, change maps and compare.json here")
    c.add_argument("--reference-baseline", metavar="X,Y,W,H",
                   help="neutral reference patch in the baseline (its own pixels)")
    c.add_argument("--reference-followup", metavar="X,Y,W,H",
                   help="the same neutral reference in the follow-up (its own pixels)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_cmd_compare)

    b = sub.add_parser("batch", help="analyse a folder of sessions; writes CSV, JSON and PDF")
    add_batch_arguments(b)
    b.set_defaults(func=run_batch_command)

    ra = sub.add_parser("reanalyze", help="re-analyse stored photos not of this analyzer version, on a Dask cluster")
    add_reanalyze_arguments(ra)
    ra.set_defaults(func=run_reanalyze_command)

    r = sub.add_parser("report", help="write a patient's PDF progress report")
    add_report_arguments(r)
    r.set_defaults(func=run_report_command)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except SkinProgressError as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the contract: one line, never a traceback
        if os.environ.get("SKIN_PROGRESS_DEBUG"):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(f"error: internal error ({type(exc).__name__}: {msg}); set SKIN_PROGRESS_DEBUG=1 for details",
              file=sys.stderr)
        return 1
