"""Profile zt-policy on the benchmark workload, to see *where* a slow ratio comes from.

    python benchmarks/profile_decide.py                  # uncached decide(), 1000 policies
    python benchmarks/profile_decide.py --cached         # default configuration, repeating stream
    python benchmarks/profile_decide.py --compile        # compile() of the 1000 policies

Uses only the public API under cProfile, so it keeps working while the core
changes; cProfile inflates small calls, so read it for proportions, and trust the
benchmark for the absolute figures.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import generate, repeating_stream, triples

import zt_policy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="number of policies")
    parser.add_argument("--cached", action="store_true", help="default cache, repeating stream")
    parser.add_argument("--compile", action="store_true", help="profile compile() instead")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    wl = generate(args.n)
    zt_policy.compile(generate(10).text)  # parser loaded outside the profile
    profile = cProfile.Profile()
    if args.compile:
        start = time.perf_counter()
        profile.runcall(zt_policy.compile, wl.text)
        print(f"compile under cProfile: {time.perf_counter() - start:.3f} s")
    else:
        ps = zt_policy.compile(wl.text) if args.cached else zt_policy.compile(wl.text, cache_size=0)
        contexts = repeating_stream(wl).contexts if args.cached else wl.contexts * 8
        trip = list(triples(contexts))
        decide = ps.decide

        def run() -> None:
            for identity, device, request in trip:
                decide(identity=identity, device=device, request=request).allowed  # noqa: B018

        run()
        start = time.perf_counter()
        run()
        print(f"{(time.perf_counter() - start) / len(trip) * 1e6:.2f} us/decision without profiler")
        profile.runcall(run)
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
