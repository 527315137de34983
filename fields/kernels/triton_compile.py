"""Compile the Triton kernels ahead of time for a GPU that is not there (no device needed): catches
code-generation errors that Triton's interpreter cannot, and prints each variant's registers and
spills (cubin) or PTX size.

    python -m fields.kernels.triton_compile            # sm_90 (Hopper), the variants the tests use
    python -m fields.kernels.triton_compile --all      # every dimension / feature count / dtype

Run it without ``TRITON_INTERPRET`` (the interpreter replaces the compiler).
"""

from __future__ import annotations

import argparse
import itertools
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _source(fn, types: dict, constants: dict):
    from triton.compiler import ASTSource

    signature = {name: ("constexpr" if name in constants else types[name]) for name in fn.arg_names}
    # pointers 16-byte aligned, as the launcher specialises real tensors (vector loads depend on it)
    attrs = {(i,): [["tt.divisibility", 16]] for i, name in enumerate(fn.arg_names) if signature[name].startswith("*")}
    return ASTSource(fn=fn, signature=signature, constexprs=constants, attrs=attrs)


def variants(every):
    """``(kernel, pointer/scalar types, constexprs, label)`` for each variant to build; ``every``: True
    (all), False (the common ones) or ``"smoke"`` (one of each kind)."""
    from fields.kernels import triton_grid_kernels as grid
    from fields.kernels import triton_volume_kernels as volume

    if every == "smoke":  # one of each kind, for the test suite
        cases = [(3, 2, "fp32", h, m) for h in (False, True) for m in ("fwd", "bwd")] + [(4, 8, "fp16", True, "bwd")]
    else:
        dims, feats = ((1, 2, 3, 4), (1, 2, 4, 8)) if every else ((2, 3), (2, 8))
        cases = itertools.product(dims, feats, ("fp32", "fp16"), (False, True), ("fwd", "bwd"))
    for d, f, table, hashed, mode in cases:
        types = {"x_ptr": "*fp32", "table_ptr": f"*{table}", "out_ptr": f"*{table}", "grad_out_ptr": f"*{table}",
                 "grad_table_ptr": "*fp32", "grad_x_ptr": "*fp32", "scale_ptr": "*fp32", "stride_ptr": "*i32",
                 "size_ptr": "*i32", "offset_ptr": "*i64", "max_cell_ptr": "*i32", "N": "i32", "level0": "i32",
                 "n_levels_total": "i32", "shift": "fp32"}  # fmt: skip
        constants = {"D": d, "F": f, "HASHED": hashed, "CAP": not hashed, "SMOOTH": False, "FORWARD": mode == "fwd",
                     "NEED_TABLE": mode == "bwd", "NEED_X": mode == "bwd", "BLOCK": 128}  # fmt: skip
        yield grid.grid_kernel, types, constants, f"grid {mode} D{d} F{f} {table} {'hashed' if hashed else 'dense'}"
    for dtype in ("fp32",) if every == "smoke" else ("fp32", "fp16"):
        types = {
            "sd_ptr": f"*{dtype}",
            "info_ptr": "*i64",
            "t_ptr": f"*{dtype}",
            "alpha_ptr": f"*{dtype}",
            "w_ptr": f"*{dtype}",
        }
        yield volume.transmittance_forward_kernel, types, {"BLOCK": 128}, f"volume fwd {dtype}"
        types = {"sd_ptr": f"*{dtype}", "t_ptr": f"*{dtype}", "info_ptr": "*i64", "gw_ptr": f"*{dtype}",
                 "gt_ptr": f"*{dtype}", "ga_ptr": f"*{dtype}", "gsd_ptr": f"*{dtype}"}  # fmt: skip
        constants = {"HAS_GW": True, "HAS_GT": True, "HAS_GA": False, "BLOCK": 128}
        yield volume.transmittance_backward_kernel, types, constants, f"volume bwd {dtype}"


def compile_all(arch: int = 90, every=False, stages: str = "cubin") -> list[dict]:
    """Build every variant for ``sm_<arch>``; returns one row per variant (raises on the first error).
    ``stages="ptx"`` stops before ptxas."""
    import triton
    from triton.backends.compiler import GPUTarget

    target = GPUTarget("cuda", arch, 32)
    rows = []
    for fn, types, constants, label in variants(every):
        started = time.perf_counter()
        kernel = triton.compile(_source(fn, types, constants), target=target,
                                options={"num_warps": 4, "enable_fp_fusion": False})  # fmt: skip
        row = {"kernel": label, "seconds": round(time.perf_counter() - started, 2)}
        row["ptx_lines"] = kernel.asm["ptx"].count("\n") if "ptx" in kernel.asm else None
        meta = getattr(kernel, "metadata", None)
        row["shared"] = getattr(meta, "shared", None)
        if stages == "cubin" and "ptx" in kernel.asm:
            row["registers"], row["spill_bytes"] = _registers(kernel.asm["ptx"], arch)
        rows.append(row)
    return rows


def _registers(ptx: str, arch: int) -> tuple:
    """Registers per thread and spill stores reported by ``ptxas -v`` (Triton's bundled ptxas)."""
    try:  # the ptxas Triton itself uses for this arch
        from triton.backends.nvidia.compiler import get_ptxas

        ptxas = Path(get_ptxas(arch).path)
    except Exception:
        return None, None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kernel.ptx"
        path.write_text(ptx)
        done = subprocess.run([str(ptxas), f"-arch=sm_{arch}a" if arch >= 90 else f"-arch=sm_{arch}", "-v", str(path),
                               "-o", str(Path(folder) / "kernel.cubin")], capture_output=True, text=True)  # fmt: skip
    text = done.stdout + done.stderr
    regs = re.search(r"Used (\d+) registers", text)
    spills = re.search(r"(\d+) bytes spill stores", text)
    return (int(regs.group(1)) if regs else None), (int(spills.group(1)) if spills else None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", type=int, default=90)
    parser.add_argument("--all", action="store_true", help="every dimension, feature count and dtype")
    parser.add_argument("--smoke", action="store_true", help="one variant of each kind")
    args = parser.parse_args()
    import triton

    print(f"triton {triton.__version__}, sm_{args.arch}")
    for row in compile_all(args.arch, "smoke" if args.smoke else args.all):
        print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
