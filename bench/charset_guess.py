"""How often the UTF-8 guess (`hongyan.protocol.charset`) misreads a text.

    .venv/bin/python bench/charset_guess.py [--samples 200000] [--seed 1]

For random strings of 1-2, 3-4, 5-8 and 9-20 characters (a fifth of them
ASCII) drawn uniformly from three pools, it counts the strings whose GBK bytes
are read as UTF-8 (`gbk_misread`) and the strings with a character of three
UTF-8 bytes whose UTF-8 bytes are not (`utf8_missed`):

  * `common`: the 3,755 level 1 GB2312 characters and CJK punctuation;
  * `gb2312`: every GB2312 character, the rarer level 2 as often as level 1;
  * `gbk`: every character GBK holds, most of them rare (what a fuzzer sends).

Real text is far from uniform: level 2 and GBK-only characters are rare in it,
so these are upper bounds. Figures go to stdout, one per line
(`gbk_misread_gbk_1_2 80`), with the sample size first.
"""

from __future__ import annotations

import argparse
import random

from hongyan.protocol.charset import gbk_characters, looks_like_utf8

ASCII = "0123456789abcXYZ ,.:;!?-_/@()"


def _pools() -> dict[str, list[str]]:
    gb2312: list[bytes] = []
    for row in range(0xA1, 0xF8):
        for column in range(0xA1, 0xFF):
            code = bytes((row, column))
            try:
                code.decode("gb2312")
            except UnicodeDecodeError:
                continue
            gb2312.append(code)
    common = [c.decode("gb18030") for c in gb2312 if 0xB0 <= c[0] <= 0xD7 or c[0] in (0xA1, 0xA3)]
    return {
        "common": common,
        "gb2312": [c.decode("gb18030") for c in gb2312],
        "gbk": list(gbk_characters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"samples {args.samples}")
    for name, pool in _pools().items():
        for low, high in ((1, 2), (3, 4), (5, 8), (9, 20)):
            misread = missed = 0
            for _ in range(args.samples):
                text = "".join(
                    rng.choice(ASCII) if rng.random() < 0.2 else rng.choice(pool)
                    for _ in range(rng.randint(low, high))
                )
                misread += looks_like_utf8(text.encode("gb18030"))
                if any(ord(ch) >= 0x800 for ch in text):
                    missed += not looks_like_utf8(text.encode())
            print(f"gbk_misread_{name}_{low}_{high} {misread}")
            print(f"utf8_missed_{name}_{low}_{high} {missed}")


if __name__ == "__main__":
    main()
