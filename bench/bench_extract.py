"""Accord's IOC extractor against iocextract and ioc-finder: accuracy on the labelled corpus, then speed.

Run: python bench/bench_extract.py [--compare OTHER_ACCORD]  (from the repository root, with the dev and bench
extras installed; --compare times another `accord` executable's CLI in the same turns, e.g. one of a base commit)

Accuracy: per-type precision/recall/F1 over tests/data/extract/corpus.jsonl. Each tool is scored only on the
types it can report; its values are normalised the way the corpus labels are (lower-case hosts, hashes and
e-mail addresses, compressed IPv6, upper-case CVE ids), so differences are about finding, not spelling.
ioc-finder runs with parse_domain_from_email_address=False and parse_address_from_cidr=False, matching the
corpus convention (an address's domain and a CIDR's base address are not separate findings).

Speed: two 5 MB texts built deterministically (fixed seed): a sparse report (corpus passages and filler prose)
and a dense one (IOC appendices: blocks of indicator lines, one indicator every 50-100 characters, about half
defanged, between the same paragraphs). Each is also run through `accord extract --format json` end to end.
Each tool is warmed up first (import and one tiny call, reported as start-up). A tool projected to need more
than 60 s for the whole text (growth measured on two probes, so quadratic tools are caught) runs on a 1 MB
slice instead, as the table says.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

CORPUS = ROOT / "tests" / "data" / "extract" / "corpus.jsonl"
TEXT_SIZE = 5_000_000
SLICE_SIZE = 1_000_000
SLOW_LIMIT_S = 60.0
SEED = 20240501
PASSAGE_SHARE = 0.2  # share of paragraphs taken from the corpus; the rest is filler prose

_VOCAB = """the a an of and or to in on for with by from as at that this these is are was were be been has have
had will would can could may might should not also then than after before during while when where
which who attacker actor group operators campaign intrusion victim organisation network server host
endpoint system user account credential password access privilege controller administrator service
payload loader backdoor implant sample binary archive document macro script command execution
persistence lateral movement exfiltration data traffic connection infrastructure activity analysis
analysts researchers team report observed identified discovered detected used leveraged deployed
delivered executed downloaded uploaded installed created modified collected encrypted compressed
staged abused exploited targeted compromised maintained established initial subsequent additional
several multiple various new similar unique known unknown email message attachment link website page
portal login update patch vulnerability exploitation version software application component windows
linux cloud remote local internal external public private legitimate malicious suspicious week month
day year time period hours recent recently previously customers partners sector government energy
finance healthcare education region country defenders detection rule recommend mitigation monitor
block review logs events process memory registry key task scheduled startup folder directory path
configuration""".split()  # noqa: SIM905 - a word list reads better as text

Extractor = Callable[[str], set[tuple[str, str]]]


def _load_corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text("utf-8").splitlines() if line.strip()]


def _filler(rnd: random.Random) -> str:
    sentences = []
    for _ in range(rnd.randint(3, 8)):
        words = [rnd.choice(_VOCAB) for _ in range(rnd.randint(8, 24))]
        if rnd.random() < 0.3:
            words.insert(rnd.randint(1, len(words) - 1), str(rnd.randint(2, 400)))
        if rnd.random() < 0.3:
            words[rnd.randint(1, len(words) - 2)] += ","
        sentence = " ".join(words)
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
    return " ".join(sentences)


def build_text(passages: list[str], size: int = TEXT_SIZE, seed: int = SEED) -> str:
    """A deterministic report-like text of exactly size characters."""
    rnd = random.Random(seed)
    parts: list[str] = []
    total = 0
    while total < size:
        part = rnd.choice(passages) if rnd.random() < PASSAGE_SHARE else _filler(rnd)
        parts.append(part)
        total += len(part) + 2
    return "\n\n".join(parts)[:size]


# IOC appendices: one indicator every 50-100 characters, many defanged, mixed with short prose.
_TLDS = "com net org info biz ru io xyz top cn co.uk de online site club".split()  # noqa: SIM905 - a word list reads better as text
_SYLLABLES = "ka lo mi net sec up date cdn sync api mail get box tele core dat ver ix on ar go zen pro".split()  # noqa: SIM905 - a word list reads better as text
_PATHS = "gate.php index.html wp-content/x.js load/a.bin api/v2/check update.exe c.ps1 panel/login".split()  # noqa: SIM905 - a word list reads better as text
_DOTS = (".", "[.]", "[.]", "(.)", "{.}", "[dot]")
_ATS = ("@", "[@]", "[at]", "(at)")
_LABELS = ("C2:", "IP", "Domain:", "URL", "Hash", "SHA256:", "MD5", "Sender", "-", "*", "Host")


def _domain(rnd: random.Random) -> str:
    labels = ["".join(rnd.choice(_SYLLABLES) for _ in range(rnd.randint(2, 4))) for _ in range(rnd.randint(1, 2))]
    return ".".join(labels) + "." + rnd.choice(_TLDS)


def _dense_indicator(rnd: random.Random, names: list[str]) -> str:
    """One indicator as an appendix writes it, defanged about half the time."""
    kind = rnd.random()
    dot = rnd.choice(_DOTS) if rnd.random() < 0.5 else "."
    if kind < 0.2:
        ip = f"{rnd.randint(11, 223)}.{rnd.randint(0, 255)}.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}"
        if rnd.random() < 0.5:  # "185.220.101[.]47": only the last dot defanged
            head, _, tail = ip.rpartition(".")
            return f"{head}{dot}{tail}"
        return ip.replace(".", dot)
    if kind < 0.38:
        return _domain(rnd).replace(".", dot)
    if kind < 0.55:
        scheme = rnd.choice(("http", "https", "hxxp", "hxxps", "hXXps"))
        sep = rnd.choice(("://", "://", "[://]", "[:]//"))
        return f"{scheme}{sep}{_domain(rnd).replace('.', dot)}/{rnd.choice(_PATHS)}"
    if kind < 0.72:
        size = rnd.choice((32, 40, 64, 64, 128))
        return "".join(rnd.choice("0123456789abcdef") for _ in range(size))
    if kind < 0.8:
        user = "".join(rnd.choice(_SYLLABLES) for _ in range(2))
        return f"{user}{rnd.choice(_ATS)}{_domain(rnd).replace('.', dot)}"
    if kind < 0.86:
        return f"CVE-{rnd.randint(2015, 2024)}-{rnd.randint(1000, 49999)}"
    if kind < 0.91:
        return f"T{rnd.randint(1001, 1599)}" + (f".{rnd.randint(1, 12):03d}" if rnd.random() < 0.5 else "")
    if kind < 0.93:
        return f"{_domain(rnd).split('.')[0]}.{rnd.choice(('exe', 'dll', 'ps1', 'zip'))}"
    return rnd.choice(names)


def build_dense_text(passages: list[str], names: list[str], size: int = TEXT_SIZE, seed: int = SEED) -> str:
    """A deterministic IOC-appendix text of exactly size characters: blocks of 5-40 indicator lines (one
    indicator every 50-100 characters) between the report generator's paragraphs, blank lines between blocks."""
    rnd = random.Random(seed)
    blocks: list[str] = []
    total = 0
    while total < size:
        if rnd.random() < 0.25:
            block = rnd.choice(passages) if rnd.random() < 0.5 else _filler(rnd)
        else:
            lines = []
            for _ in range(rnd.randint(5, 40)):
                words = " ".join(rnd.choice(_VOCAB) for _ in range(rnd.randint(2, 8)))
                lines.append(f"{rnd.choice(_LABELS)} {_dense_indicator(rnd, names)} {words}")
            block = "\n".join(lines)
        blocks.append(block)
        total += len(block) + 2
    return "\n\n".join(blocks)[:size]


# --- adapters: each returns {(our type, normalised value)} ------------------------------------------------------


def _ipv6(value: str) -> str:
    try:
        return ipaddress.IPv6Address(value).compressed
    except ValueError:
        return value.lower()


def _url(value: str) -> str:
    """Scheme and network location lower-cased, as the corpus labels them."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        return value
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return f"{scheme.lower()}://{rest[:cut].lower()}{rest[cut:]}"


def accord_extractor() -> Extractor:
    from accord.extract import extract

    return lambda text: {(f.type, f.value) for f in extract(text)}


def iocextract_extractor() -> Extractor:
    import iocextract

    def run(text: str) -> set[tuple[str, str]]:
        out = {("url", _url(u)) for u in iocextract.extract_urls(text, refang=True)}
        out |= {("ipv4-addr", ip) for ip in iocextract.extract_ipv4s(text, refang=True)}
        out |= {("ipv6-addr", _ipv6(ip)) for ip in iocextract.extract_ipv6s(text)}
        out |= {("email-addr", e.lower()) for e in iocextract.extract_emails(text, refang=True)}
        for kind, fn in (
            ("md5", iocextract.extract_md5_hashes),
            ("sha1", iocextract.extract_sha1_hashes),
            ("sha256", iocextract.extract_sha256_hashes),
            ("sha512", iocextract.extract_sha512_hashes),
        ):
            out |= {(kind, h.lower()) for h in fn(text)}
        return out

    return run


IOCEXTRACT_TYPES = {"url", "ipv4-addr", "ipv6-addr", "email-addr", "md5", "sha1", "sha256", "sha512"}


def _normalise(kind: str, value: str) -> str:
    if kind == "ipv6-addr":
        return _ipv6(value)
    if kind == "cve":
        return value.upper()
    if kind == "asn":
        return "AS" + "".join(c for c in value if c.isdigit())
    if kind == "url":
        return _url(value)
    if kind in ("bitcoin-address", "windows-registry-key"):
        return value
    return value.lower()


# ioc-finder's result keys -> the corpus types (its attack techniques come nested, handled apart).
IOC_FINDER_KEYS = {
    "urls": "url",
    "domains": "domain-name",
    "ipv4s": "ipv4-addr",
    "ipv6s": "ipv6-addr",
    "ipv4_cidrs": "ipv4-cidr",
    "email_addresses": "email-addr",
    "md5s": "md5",
    "sha1s": "sha1",
    "sha256s": "sha256",
    "sha512s": "sha512",
    "cves": "cve",
    "asns": "asn",
    "bitcoin_addresses": "bitcoin-address",
    "registry_key_paths": "windows-registry-key",
}


def ioc_finder_extractor() -> Extractor:
    from ioc_finder import find_iocs

    def run(text: str) -> set[tuple[str, str]]:
        found = find_iocs(text, parse_domain_from_email_address=False, parse_address_from_cidr=False)
        out: set[tuple[str, str]] = set()
        for key, kind in IOC_FINDER_KEYS.items():
            out |= {(kind, _normalise(kind, value)) for value in found.get(key) or []}
        techniques = found.get("attack_techniques") or {}
        if isinstance(techniques, dict):
            out |= {("attack-technique", t) for values in techniques.values() for t in values}
        return out

    return run


def ioc_finder_types() -> set[str]:
    from ioc_finder import find_iocs

    keys = set(find_iocs("x"))
    mapping = {**IOC_FINDER_KEYS, "attack_techniques": "attack-technique"}
    return {ours for theirs, ours in mapping.items() if theirs in keys}


# --- scoring ----------------------------------------------------------------------------------------------------


def score(extractor: Extractor, passages: list[dict], types: set[str]) -> dict[str, tuple[float, float, float, int]]:
    """Per type: (precision, recall, F1, labelled count), counting only the given types."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for passage in passages:
        got = {x for x in extractor(passage["text"]) if x[0] in types}
        expected = {tuple(e) for e in passage["expected"] if e[0] in types}
        for kind, _ in got & expected:
            tp[kind] += 1
        for kind, _ in got - expected:
            fp[kind] += 1
        for kind, _ in expected - got:
            fn[kind] += 1
    out = {}
    for kind in types:
        p = tp[kind] / (tp[kind] + fp[kind]) if tp[kind] + fp[kind] else 1.0
        r = tp[kind] / (tp[kind] + fn[kind]) if tp[kind] + fn[kind] else 1.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        out[kind] = (p, r, f1, tp[kind] + fn[kind])
    return out


def micro_f1(extractor: Extractor, passages: list[dict], types: Iterable[str]) -> float:
    """F1 over all findings of the given types together."""
    kinds = set(types)
    tp = fp = fn = 0
    for passage in passages:
        got = {x for x in extractor(passage["text"]) if x[0] in kinds}
        expected = {tuple(e) for e in passage["expected"] if e[0] in kinds}
        tp += len(got & expected)
        fp += len(got - expected)
        fn += len(expected - got)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


# --- speed ------------------------------------------------------------------------------------------------------


def measure(name: str, make: Callable[[], Extractor], text: str, runs: int) -> dict:
    """Start-up time, and MB/s on the text (or a 1 MB slice when the whole would take too long)."""
    started = time.perf_counter()
    extractor = make()
    extractor("warm up: evil-site.com 185.220.101.47 CVE-2021-44228")
    startup = time.perf_counter() - started
    # Two probes give the growth exponent: a tool that turns quadratic (iocextract, past a few hundred kB) would
    # otherwise be projected linearly and then run for many minutes on the whole text.
    timings = []
    for size in (250_000, 500_000):
        t0 = time.perf_counter()
        extractor(text[:size])
        timings.append(max(time.perf_counter() - t0, 1e-6))
    exponent = min(2.0, max(1.0, math.log(timings[1] / timings[0], 2)))
    projected = timings[1] * (len(text) / 500_000) ** exponent
    times: list[float] = []
    cpu: list[float] = []
    probe_only = timings[1] * (SLICE_SIZE / 500_000) ** exponent > SLOW_LIMIT_S
    if probe_only:
        # Even the slice would take minutes (iocextract on dense text): the 0.5 MB probe is the measurement.
        sample = text[:500_000]
        times, cpu = [timings[1]], [timings[1]]
    else:
        sample = text if projected <= SLOW_LIMIT_S else text[:SLICE_SIZE]
    for _ in range(0 if probe_only else runs if projected <= SLOW_LIMIT_S / runs else 1):
        t0, c0 = time.perf_counter(), time.process_time()
        extractor(sample)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    mb = len(sample.encode("utf-8")) / 1e6
    return {
        "mbps_first": mb / times[0],
        "name": name,
        "startup": startup,
        "mb": mb,
        "sliced": sample is not text,
        "mbps_median": mb / statistics.median(times),
        "mbps_best": mb / min(times),
        "mbps_cpu": mb / min(cpu),
        "runs": len(times),
        "probe_only": probe_only,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_cli(path: Path, runs: int, compare: Path | None = None) -> dict[str, dict]:
    """`accord extract PATH --format json` end to end (process start to exit), alternating with a 20-byte file so
    that start-up (imports, warninglists, galaxies) is also known; medians of the runs' wall and CPU times. With
    compare, another `accord` executable runs in the same turns."""
    subjects = {"accord extract (CLI, json)": Path(sys.executable).with_name("accord")}
    if compare is not None:
        subjects["compared accord extract"] = compare.resolve()
    tiny = path.with_name("tiny.txt")
    tiny.write_text("beacon to 45.133.1.20")
    times: dict[tuple[str, Path], list[float]] = {}
    cpu: dict[tuple[str, Path], list[float]] = {}
    for accord in subjects.values():  # one untimed run each: var/ caches built, files in the page cache
        subprocess.run([str(accord), "extract", str(tiny), "-o", os.devnull], check=True, stdout=subprocess.DEVNULL)
    for _ in range(runs):
        for name, accord in subjects.items():
            for target in (tiny, path):
                t0, c0 = time.perf_counter(), _children_cpu()
                subprocess.run(
                    [str(accord), "extract", str(target), "--format", "json", "-o", os.devnull],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                times.setdefault((name, target), []).append(time.perf_counter() - t0)
                cpu.setdefault((name, target), []).append(_children_cpu() - c0)
    mb = path.stat().st_size / 1e6
    out = {}
    for name in subjects:
        whole, startup = statistics.median(times[(name, path)]), statistics.median(times[(name, tiny)])
        used = statistics.median(cpu[(name, path)])
        out[name] = {
            "mb": mb,
            "seconds": whole,
            "startup": startup,
            "mbps": mb / whole,
            "mbps_after": mb / (whole - startup),
            "mbps_cpu": mb / used,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", type=Path, help="another accord executable: its CLI timed in the same turns")
    args = parser.parse_args()
    passages = _load_corpus()
    texts = {
        "sparse": build_text([p["text"] for p in passages]),
        "dense": build_dense_text([p["text"] for p in passages], _names(passages)),
    }
    makers: list[tuple[str, Callable[[], Extractor]]] = [
        ("Accord", accord_extractor),
        ("iocextract", iocextract_extractor),
        ("ioc-finder", ioc_finder_extractor),
    ]
    # Speed first, so each tool's start-up (imports, tables) is measured cold, on the first text.
    speeds = {case: [measure(name, make, text, runs=3) for name, make in makers] for case, text in texts.items()}
    cli = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case, text in texts.items():
            path = Path(tmp) / f"{case}.txt"
            path.write_text(text, "utf-8")
            cli[case] = measure_cli(path, runs=3, compare=args.compare)
    extractors = {name: make() for name, make in makers}
    types = {
        "Accord": {t for p in passages for t, _ in p["expected"]},
        "iocextract": IOCEXTRACT_TYPES,
        "ioc-finder": ioc_finder_types(),
    }
    scores = {name: score(extractors[name], passages, types[name]) for name, _ in makers}
    rows = []
    for kind in sorted(scores["Accord"]):
        row = [kind, str(scores["Accord"][kind][3])]
        for name, _ in makers:
            if kind in types[name]:
                p, r, f1, _ = scores[name][kind]
                row.append(f"{p:.2f}/{r:.2f}/{f1:.2f}")
            else:
                row.append("-")
        rows.append(row)
    summary = [
        f"On {name}'s {len(types[name])} types: Accord F1 {micro_f1(extractors['Accord'], passages, types[name]):.3f}"
        f" vs {name} F1 {micro_f1(extractors[name], passages, types[name]):.3f}"
        for name, _ in makers[1:]
    ]
    distinct = {case: len(extractors["Accord"](text)) for case, text in texts.items()}
    _print(rows, [name for name, _ in makers], summary, speeds, cli, len(passages), distinct)


def _names(passages: list[dict]) -> list[str]:
    return sorted({v for p in passages for t, v in p["expected"] if t in ("threat-actor", "malware", "tool")})


def _print(
    rows: list[list[str]],
    names: list[str],
    summary: list[str],
    speeds: dict[str, list[dict]],
    cli: dict[str, dict],
    n_passages: int,
    distinct: dict[str, int],
) -> None:
    speed_rows = []
    for case, results in speeds.items():
        accord = results[0]
        for s in results:
            note = f"{s['mb']:.1f} MB slice (whole > {SLOW_LIMIT_S:.0f} s)" if s["sliced"] else f"{s['mb']:.1f} MB"
            if s["probe_only"]:
                note = f"{s['mb']:.1f} MB probe (1 MB > {SLOW_LIMIT_S:.0f} s), wall"
            speed_rows.append(
                [
                    case,
                    s["name"],
                    f"{s['startup']:.2f}" if case == "sparse" else "",
                    f"{s['mbps_first']:.2f}",
                    f"{s['mbps_median']:.2f}",
                    f"{s['mbps_cpu']:.2f}",
                    note,
                    "1.0x" if s is accord else f"{accord['mbps_median'] / s['mbps_median']:.1f}x",
                ]
            )
        for name, c in cli[case].items():
            speed_rows.append(
                [
                    case,
                    name,
                    f"{c['startup']:.2f}",
                    "",
                    f"{c['mbps']:.2f}",
                    f"{c['mbps_cpu']:.2f}",
                    f"{c['mb']:.1f} MB, {c['seconds']:.2f} s, {c['mbps_after']:.2f} MB/s after start-up",
                    f"{c['mbps'] / results[2]['mbps_median']:.1f}x ioc-finder",
                ]
            )
    title = f"Per-type precision/recall/F1 on {n_passages} labelled passages ('-' = type not supported)"
    speed_title = (
        f"Speed on generated reports, seed {SEED}: sparse (prose, {distinct['sparse']} distinct findings) and dense"
        f" (IOC appendices, {distinct['dense']} distinct findings)"
    )
    speed_head = ["text", "tool", "start-up s", "MB/s 1st", "MB/s median", "MB/s CPU", "input", "Accord is"]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        for row in [["type", "n", *names], *rows]:
            print("  ".join(f"{c:<22}" for c in row))
        print("\n".join(summary))
        print(speed_title)
        for row in [speed_head, *speed_rows]:
            print("  ".join(f"{c:<14}" for c in row))
        return
    console = Console(width=150)
    table = Table(title=title)
    for head in ["type", "n", *names]:
        table.add_column(head)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for line in summary:
        console.print(line)
    speed = Table(title=speed_title)
    for head in speed_head:
        speed.add_column(head)
    for row in speed_rows:
        speed.add_row(*row)
    console.print(speed)
    console.print(
        "MB/s 1st = the first whole-text run (the later ones find Accord's per-value caches warm); MB/s CPU = size /"
        " process CPU time (all threads). CLI rows: wall time from process start to exit, median of 3, the same after"
        " subtracting a run on a 20-byte file, and size / the process's CPU time (user + system)."
    )


if __name__ == "__main__":
    main()
