"""The protocol every peer speaks, so that the Node side can interleave its own timings with the
peer's rep by rep (both see the same machine load) instead of timing each side in a block.

A peer script builds a dict of named operations (callables with no argument) and calls serve().
Then, one JSON object per line on stdin, one answer per line on stdout:
  {"op": name}   -> {"seconds": wall time of one call, "cpuSeconds": CPU time of the process (all
                    its threads, user + system) during the call}
  {"info": true} -> what ran: library versions, the BLAS threadpoolctl found (its internal API,
                    version and the kernel it chose, e.g. "SkylakeX"), the OPENBLAS_* variables
                    this process saw, plus the peer's own extra facts
An empty line or end of input ends the peer.
"""
import json
import os
import sys
import time


def blas_info():
    """The BLAS libraries loaded in this process and the kernel each picked."""
    try:
        from threadpoolctl import threadpool_info
        return {"source": "threadpoolctl", "libraries": [
            {k: lib.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer", "filepath")}
            for lib in threadpool_info() if lib.get("user_api") == "blas"]}
    except ImportError:
        pass
    # Without threadpoolctl: ask the OpenBLAS this process has loaded (found in its memory map).
    import ctypes
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "openblas" in line.split()[-1]})
    libraries = []
    for path in paths:
        lib = ctypes.CDLL(path)
        for fn in ("openblas_get_config", "openblas_get_corename"):
            getattr(lib, fn).restype = ctypes.c_char_p
        libraries.append({"filepath": path, "config": lib.openblas_get_config().decode(),
                          "architecture": lib.openblas_get_corename().decode()})
    return {"source": "openblas_get_config via ctypes (threadpoolctl missing)", "libraries": libraries}


def serve(ops, extra=None):
    for line in sys.stdin:
        if not line.strip():
            break
        req = json.loads(line)
        if req.get("info"):
            out = {"blas": blas_info(),
                   "env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS") or k.endswith("NUM_THREADS")}}
            out.update(extra() if callable(extra) else (extra or {}))
        else:
            fn = ops[req["op"]]
            c = time.process_time()
            t = time.perf_counter()
            fn()
            out = {"seconds": time.perf_counter() - t, "cpuSeconds": time.process_time() - c}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
