"""Top frames of a py-spy profile: `python -m bench.profile_summary FILE [--under FRAME] [--top N]`.

FILE is what `py-spy record -p PID -d 20 -r 200 -f raw -o FILE` wrote (collapsed stacks, one per line,
with a sample count). Prints the share of samples by frame itself (self) and by frame with everything
it called (inclusive); with --under, how the samples below the first frame matching FRAME split among
the frames it called directly.
"""
import argparse
import re
from collections import Counter
from collections.abc import Iterator

_LIBRARY_PREFIX = re.compile(r"\s*\(/[^)]*?/(site-packages|lib/python3\.\d+|main)/")


def stacks(path: str) -> Iterator[tuple[list[str], int]]:
    with open(path) as lines:
        for line in lines:
            stack, _, count = line.rstrip().rpartition(" ")
            if stack:
                yield [_LIBRARY_PREFIX.sub(" (", frame) for frame in stack.split(";")], int(count)


def shares(path: str) -> tuple[int, Counter[str], Counter[str]]:
    total, own, inclusive = 0, Counter[str](), Counter[str]()
    for frames, count in stacks(path):
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return total, own, inclusive


def callees(path: str, frame: str) -> tuple[int, Counter[str]]:
    below, total = Counter[str](), 0
    for frames, count in stacks(path):
        for i, name in enumerate(frames):
            if frame in name:
                total += count
                below[frames[i + 1] if i + 1 < len(frames) else "<self>"] += count
                break
    return total, below


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--under", help="split the samples below this frame (a substring of its name)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.under:
        total, below = callees(args.file, args.under)
        print(f"{total} samples under {args.under}")
        for name, count in below.most_common(args.top):
            print(f"{100 * count / max(total, 1):5.1f}%  {name}")
        return
    total, own, inclusive = shares(args.file)
    print(f"{total} samples\n-- self")
    for name, count in own.most_common(args.top):
        print(f"{100 * count / total:5.1f}%  {name}")
    print("-- inclusive")
    for name, count in inclusive.most_common(args.top * 2):
        print(f"{100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
