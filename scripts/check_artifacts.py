"""Checks what `sam build` made: every function of template.yaml, and nothing else, as a
`bootstrap` Lambda can run on the function's architecture.

    python scripts/check_artifacts.py BUILD_DIR ARCH      (ARCH: x86_64 or arm64)

`make sam-build` runs it after each `sam build --build-dir BUILD_DIR`. For each
AWS::Serverless::Function in the template it requires BUILD_DIR/<LogicalId>/bootstrap to be an
executable 64-bit little-endian ELF executable for ARCH (e_machine 62 for x86_64, 183 for
arm64), and, if dynamically linked, to ask only for libraries of the Lambda OS-only runtime's
base image (glibc's, libgcc_s), through that architecture's loader, at glibc symbol versions the
runtime's glibc has (provided.al2023: 2.34, provided.al2: 2.26). It also requires the built
template to point each function's CodeUri at its own directory, and BUILD_DIR to hold no
directory that is not a function. Prints a table (function, arch, size, linking, newest glibc
version) and exits 1 listing every problem found, 0 when there is none.

The ELF header, program headers and dynamic section are read here (no `file` or `readelf`).
"""

from __future__ import annotations

import os
import stat
import struct
import sys
from pathlib import Path

from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

# e_machine, and the loader a dynamically linked glibc program of that machine names.
MACHINES = {"x86_64": 62, "arm64": 183}
LOADERS = {"x86_64": "/lib64/ld-linux-x86-64.so.2", "arm64": "/lib/ld-linux-aarch64.so.1"}
# The glibc of each OS-only runtime (Amazon Linux 2023: 2.34; Amazon Linux 2: 2.26).
RUNTIME_GLIBC = {"provided.al2023": (2, 34), "provided.al2": (2, 26)}
# Shared libraries the OS-only runtimes provide: glibc's and the GCC runtime Rust's std links.
BASE_LIBRARIES = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libutil.so.1",
                  "libgcc_s.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}

ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_FLAGS_1 = 0, 1, 5, 0x6FFFFFFB
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
DF_1_PIE = 0x08000000


class NotElf(Exception):
    pass


def read_elf(data: bytes) -> dict:
    """What Lambda cares about in a 64-bit little-endian ELF file: type, machine, loader, needed
    libraries, and the symbol versions it requires (from the dynamic section's version needs)."""
    if len(data) < 64 or data[:4] != b"\x7fELF":
        raise NotElf("not an ELF file")
    if data[4] != 2 or data[5] != 1:
        raise NotElf(f"not a 64-bit little-endian ELF file (class {data[4]}, data {data[5]})")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    e_phoff, = struct.unpack_from("<Q", data, 32)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
    segments = []
    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        if off + 56 > len(data):
            raise NotElf("program headers run past the end of the file")
        p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz, _memsz, _align = struct.unpack_from("<IIQQQQQQ", data, off)
        segments.append((p_type, p_offset, p_vaddr, p_filesz))

    def at(vaddr: int) -> int:
        for p_type, p_offset, p_vaddr, p_filesz in segments:
            if p_type == PT_LOAD and p_vaddr <= vaddr < p_vaddr + p_filesz:
                return p_offset + vaddr - p_vaddr
        raise NotElf(f"address {vaddr:#x} is in no loaded segment")

    def cstr(off: int) -> str:
        end = data.find(b"\0", off)
        if off >= len(data) or end < 0:
            raise NotElf("string runs past the end of the file")
        return data[off:end].decode("ascii", "replace")

    info = {"type": e_type, "machine": e_machine, "interp": None, "needed": [], "versions": {}, "pie": False}
    for p_type, p_offset, _vaddr, p_filesz in segments:
        if p_type == PT_INTERP:
            info["interp"] = data[p_offset:p_offset + p_filesz].rstrip(b"\0").decode("ascii", "replace")
    dynamic = next(((off, size) for t, off, _v, size in segments if t == PT_DYNAMIC), None)
    if dynamic is None:
        return info
    entries = {}
    needed_offsets = []
    for off in range(dynamic[0], dynamic[0] + dynamic[1] - 15, 16):
        tag, value = struct.unpack_from("<qQ", data, off)
        if tag == DT_NULL:
            break
        if tag == DT_NEEDED:
            needed_offsets.append(value)
        entries[tag] = value
    info["pie"] = bool(entries.get(DT_FLAGS_1, 0) & DF_1_PIE)
    if DT_STRTAB not in entries:
        return info
    strtab = at(entries[DT_STRTAB])
    info["needed"] = [cstr(strtab + o) for o in needed_offsets]
    # Elf64_Verneed {vn_version, vn_cnt: u16; vn_file, vn_aux, vn_next: u32} and its
    # Elf64_Vernaux {vna_hash: u32; vna_flags, vna_other: u16; vna_name, vna_next: u32}.
    if DT_VERNEED in entries:
        off = at(entries[DT_VERNEED])
        for _ in range(entries.get(DT_VERNEEDNUM, 0)):
            _version, count, file_name, aux, following = struct.unpack_from("<HHIII", data, off)
            names = info["versions"].setdefault(cstr(strtab + file_name), [])
            aux_off = off + aux
            for _ in range(count):
                _hash, _flags, _other, name, aux_next = struct.unpack_from("<IHHII", data, aux_off)
                names.append(cstr(strtab + name))
                aux_off += aux_next
            if not following:
                break
            off += following
    return info


def glibc_version(name: str) -> tuple[int, ...] | None:
    if not name.startswith("GLIBC_"):
        return None  # GLIBC_PRIVATE, GCC_3.0, ...
    try:
        return tuple(int(part) for part in name[len("GLIBC_"):].split("."))
    except ValueError:
        return None


def functions(template: dict) -> dict[str, str]:
    """The functions `sam build` builds (zip package type), and each one's runtime."""
    default_runtime = ((template.get("Globals") or {}).get("Function") or {}).get("Runtime")
    found = {}
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties") or {}
        if props.get("PackageType", "Zip") != "Zip":
            continue
        found[name] = props.get("Runtime", default_runtime)
    return found


def check(build_dir: Path, arch: str) -> tuple[list[list[str]], list[str]]:
    rows, problems = [], []
    expected = functions(yaml_parse(TEMPLATE.read_text()))
    if not expected:
        problems.append(f"{TEMPLATE.name} has no AWS::Serverless::Function")
    built_template = build_dir / "template.yaml"
    built = yaml_parse(built_template.read_text())["Resources"] if built_template.is_file() else None
    if built is None:
        problems.append(f"{built_template} is missing: sam build did not finish")
    present = {p.name for p in build_dir.iterdir() if p.is_dir()} if build_dir.is_dir() else set()
    for extra in sorted(present - set(expected)):
        problems.append(f"{build_dir / extra}: a directory for no function of {TEMPLATE.name}")

    for name, runtime in sorted(expected.items()):
        bootstrap = build_dir / name / "bootstrap"
        if built is not None:
            code_uri = ((built.get(name) or {}).get("Properties") or {}).get("CodeUri")
            if code_uri != name:
                problems.append(f"{name}: the built template's CodeUri is {code_uri!r}, not its artifact directory {name!r}")
        if not bootstrap.is_file():
            problems.append(f"{name}: {bootstrap} is missing")
            rows.append([name, "-", "-", "missing", "-"])
            continue
        mode = bootstrap.stat().st_mode
        if not mode & stat.S_IXUSR or not os.access(bootstrap, os.X_OK):
            problems.append(f"{name}: {bootstrap} is not executable (mode {stat.filemode(mode)})")
        data = bootstrap.read_bytes()
        try:
            elf = read_elf(data)
        except NotElf as e:
            problems.append(f"{name}: {bootstrap}: {e}")
            rows.append([name, "?", f"{len(data):,}", "not ELF", "-"])
            continue
        machine = next((a for a, m in MACHINES.items() if m == elf["machine"]), f"e_machine {elf['machine']}")
        if elf["machine"] != MACHINES[arch]:
            problems.append(f"{name}: built for {machine}, expected {arch} (e_machine {MACHINES[arch]})")
        if elf["type"] not in (ET_EXEC, ET_DYN) or (elf["type"] == ET_DYN and not elf["interp"] and not elf["pie"]):
            problems.append(f"{name}: not an executable (ELF type {elf['type']})")
        newest = "-"
        if elf["interp"] is None and not elf["needed"]:
            linking = "static"
        else:
            linking = "dynamic"
            if elf["interp"] != LOADERS.get(machine):
                problems.append(f"{name}: program interpreter {elf['interp']!r}, expected {LOADERS.get(machine)!r}")
            foreign = sorted(set(elf["needed"]) - BASE_LIBRARIES)
            if foreign:
                problems.append(f"{name}: needs {', '.join(foreign)}, which {runtime} does not provide")
            versions = [v for names in elf["versions"].values() for v in map(glibc_version, names) if v]
            if versions:
                top = max(versions)
                newest = "GLIBC_" + ".".join(map(str, top))
                limit = RUNTIME_GLIBC.get(runtime)
                if limit is None:
                    problems.append(f"{name}: runtime {runtime!r}: its glibc version is not known here")
                elif top > limit:
                    problems.append(f"{name}: needs {newest}, newer than {runtime}'s glibc "
                                    f"{'.'.join(map(str, limit))}")
        rows.append([name, machine, f"{len(data):,}", linking, newest])
    return rows, problems


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[2] not in MACHINES:
        print(f"usage: python {argv[0]} BUILD_DIR {{{','.join(MACHINES)}}}", file=sys.stderr)
        return 2
    build_dir, arch = Path(argv[1]), argv[2]
    rows, problems = check(build_dir, arch)
    header = ["function", "arch", "bytes", "linking", "newest glibc"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {2}
    for row in [header, *rows]:
        print("  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    if problems:
        print(f"\n{build_dir}: {len(problems)} problem(s):", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"\n{build_dir}: {len(rows)} functions, every one a bootstrap for {arch}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
