"""Run the benchmarks and write their results (with the machine and versions) to a JSON file.

    python -m bench.run                          # all of them, about 10 minutes on 2 cores
    python -m bench.run --quick                  # small sizes: checks that everything runs
    python -m bench.run --only font,sklearn --threads 1 --output /tmp/results.json

Run from the repository root with the bench extra installed (``make bench`` does both).
book/benchmarks.md renders bench/results.json as tables and plots.
"""
import argparse
import json
import pathlib
import sys
import time

from .threads import apply_to_torch, limit_threads

BENCHMARKS = ("font", "scale", "growth", "sklearn", "denoising", "vae")
DEFAULT_OUTPUT = pathlib.Path(__file__).with_name("results.json")


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for numpy's BLAS and for PyTorch alike (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="small sizes and few repetitions")
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--output", type=pathlib.Path, default=DEFAULT_OUTPUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {list(BENCHMARKS)}")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Before numpy or torch is imported: their thread pools are sized when they load.
    n_threads = limit_threads(args.threads)
    apply_to_torch(n_threads)
    from . import common, denoising, font, growth, scale, sklearn_font, vae

    modules = {"font": font, "scale": scale, "growth": growth, "sklearn": sklearn_font,
               "denoising": denoising, "vae": vae}
    results = {"machine": common.machine(n_threads), "quick": args.quick, "benchmarks": {}, "seconds": {}}
    # A partial run updates an existing file instead of discarding the other benchmarks.
    if args.output.exists() and set(args.only) != set(BENCHMARKS):
        previous = json.loads(args.output.read_text())
        results["benchmarks"], results["seconds"] = previous.get("benchmarks", {}), previous.get("seconds", {})
        results["kept_from_previous_run"] = sorted(set(results["benchmarks"]) - set(args.only))
    start = time.perf_counter()
    for name in args.only:
        print(f"[bench] {name} ...", flush=True)
        began = time.perf_counter()
        results["benchmarks"][name] = modules[name].run(quick=args.quick)
        results["seconds"][name] = round(time.perf_counter() - began, 1)
        print(f"[bench] {name} done in {results['seconds'][name]:.0f} s: {headline(name, results['benchmarks'][name])}",
              flush=True)
    results["seconds"]["total_this_run"] = round(time.perf_counter() - start, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1) + "\n")
    print(f"[bench] wrote {args.output} ({results['seconds']['total_this_run']:.0f} s)")
    if args.output.resolve() == DEFAULT_OUTPUT.resolve():
        forget_cached_page(DEFAULT_OUTPUT.parent.parent)


def forget_cached_page(root, page="book/benchmarks.md"):
    """Drop the book's cached execution of the page that draws the results.

    The book runs its pages in "cache" mode, which reuses outputs while a page's code is
    unchanged; the page's code does not change when bench/results.json does, so without this the
    next ``make book`` would show the previous results.
    """
    cache_path = root / "_build" / ".jupyter_cache"
    if not cache_path.is_dir():
        return
    try:
        from jupyter_cache import get_cache
    except ImportError:
        return
    cache = get_cache(cache_path)
    for record in cache.list_cache_records():
        if record.uri.endswith(page):
            cache.remove_cache(record.pk)


def headline(name, result):
    """A one-line summary for the console."""
    if name == "font":
        return "; ".join(
            f"{dtype}: aelib {result[dtype]['seconds_per_epoch']['aelib'] * 1e6:.0f} us/epoch, torch "
            f"{result[dtype]['seconds_per_epoch']['torch'] * 1e6:.0f} us/epoch, ratio {result[dtype]['ratio']:.2f}, "
            f"0 wrong pixels: {result[dtype]['all_zero_wrong']}" for dtype in ("float64", "float32"))
    if name == "sklearn":
        peer = "sklearn"
        per_epoch = result["seconds_per_epoch"]
        return (f"aelib {per_epoch['aelib'] * 1e6:.0f} us/epoch, {peer} {per_epoch[peer] * 1e6:.0f} us/epoch, "
                f"ratio {result['ratio']:.2f}; 0 wrong pixels: {result['all_zero_wrong']}")
    if name == "scale":
        return "; ".join(
            f"{dtype}: aelib {result[dtype]['aelib']['time']['median']:.2f} s/epoch, torch "
            f"{result[dtype]['torch']['time']['median']:.2f}, fused {result[dtype]['torch_fused']['time']['median']:.2f}, "
            f"ratio {result[dtype]['ratio']:.2f} ({result[dtype]['ratio_fused']:.2f} fused), "
            f"BLAS {result[dtype]['machine']['gflops']:.0f} GFLOP/s" for dtype in ("float32", "float64"))
    if name == "growth":
        return f"{len(result['samples'])} data sizes, {len(result['width'])} widths"
    if name == "denoising":
        return ", ".join(f"{row['noise']} seed {row['seed']}: {row['recovery']:.3f} / {row['bayes_ceiling']:.3f}"
                         for row in result["rows"])
    return (f"emoji ratio {result['emoji']['float64']['ratio']:.2f} (float32 {result['emoji']['float32']['ratio']:.2f}), "
            f"scale ratio {result['scale']['float64']['ratio']:.2f} (float32 {result['scale']['float32']['ratio']:.2f})")


if __name__ == "__main__":
    main()
