"""cutout in a real ComfyUI, start to finish, over HTTP.

Usage: python3.11 tests/comfyui/run_real_comfyui.py [COMFYUI_CHECKOUT]
       (or CUTOUT_COMFYUI_DIR=COMFYUI_CHECKOUT)

Without a checkout it says it is skipped and exits 0: CI has none, and the
suite must not download ComfyUI. With one, as a user would:
  1. a venv (build-comfyui/venv, made once) gets pip's torch 2.14.1 with
     torchvision 0.29.1 (the CUDA build most ComfyUI users have; it runs on
     a CPU, and ComfyUI imports torchvision at start, which PyPI builds only
     beside torch's own CUDA wheels) and the checkout's requirements.txt
     from PyPI with torch held there, then cutout's requirements.txt;
  2. the repository's tracked files are copied into the checkout's
     custom_nodes/cutout (the suite's converted models with them, so
     nothing is fetched again), and its install.py runs with the venv's
     Python, as ComfyUI-Manager runs it;
  3. ComfyUI's server starts on 127.0.0.1 (--cpu) and the example
     workflows run through POST /prompt: a single image, a batch with a
     guide mask, a batch cancelled with POST /interrupt while cutout runs,
     and a model imported on first use (u2netp.onnx in models/rembg).
Prints PASS or FAIL per workflow; exits 1 when any failed.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV = os.path.join(ROOT, "build-comfyui", "venv")
PYTHON = os.path.join(VENV, "bin", "python")
WORKFLOWS = os.path.join(ROOT, "examples", "workflows")
PHOTOS = os.path.join(ROOT, "tests", "data", "photos")
TORCH = ["torch==2.14.1", "torchvision==0.29.1"]
PORT = 8199
BASE = f"http://127.0.0.1:{PORT}"


def run(command, **kwargs):
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True, **kwargs)


def make_venv(comfyui):
    ready = os.path.exists(PYTHON) and subprocess.run(
        [PYTHON, "-c", "import torch, torchvision, aiohttp, requests; assert torch.__version__.startswith('2.14.1')"],
        capture_output=True).returncode == 0
    if ready:
        return
    run([sys.executable, "-m", "venv", VENV])
    pip = [PYTHON, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run(pip + TORCH)
    constraints = os.path.join(os.path.dirname(VENV), "constraints.txt")
    with open(constraints, "w") as f:
        f.write("\n".join(TORCH) + "\n")
    run(pip + ["-r", os.path.join(comfyui, "requirements.txt"), "-c", constraints])
    run(pip + ["-r", os.path.join(ROOT, "requirements.txt"), "-c", constraints])
    # ComfyUI's server imports requests without listing it (older transformers
    # releases brought it along).
    run(pip + ["requests"])


def install_cutout(comfyui):
    """A copy of the repository's tracked and new files in custom_nodes/cutout,
    with the suite's models, then its install.py."""
    target = os.path.join(comfyui, "custom_nodes", "cutout")
    # An earlier run's build folder is kept, so only what changed is rebuilt.
    kept = os.path.join(comfyui, "custom_nodes", ".cutout-build")
    shutil.rmtree(kept, ignore_errors=True)
    if os.path.isdir(os.path.join(target, "build")):
        os.rename(os.path.join(target, "build"), kept)
    shutil.rmtree(target, ignore_errors=True)
    if os.path.isdir(kept):
        os.makedirs(target)
        os.rename(kept, os.path.join(target, "build"))
    listed = subprocess.run(["git", "-C", ROOT, "ls-files", "-co", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.split("\n")
    for relative in filter(None, listed):
        source = os.path.join(ROOT, relative)
        if os.path.isfile(source):
            os.makedirs(os.path.dirname(os.path.join(target, relative)), exist_ok=True)
            shutil.copy2(source, os.path.join(target, relative))
    for name in ("isnet.pt", "u2netp.pt"):
        shutil.copy2(os.path.join(ROOT, "models", name), os.path.join(target, "models", name))
    run([PYTHON, os.path.join(target, "install.py")], cwd=comfyui)
    os.makedirs(os.path.join(comfyui, "input"), exist_ok=True)
    for name in ("portrait_astronaut.png", "product_coffee.png"):
        shutil.copy2(os.path.join(PHOTOS, name), os.path.join(comfyui, "input", name))
    rembg = os.path.join(comfyui, "models", "rembg")
    os.makedirs(rembg, exist_ok=True)
    shutil.copy2(os.path.join(ROOT, "models", "u2netp.onnx"), os.path.join(rembg, "u2netp.onnx"))


def request(path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as response:
        text = response.read().decode()
    return json.loads(text) if text else None


def start_server(comfyui, log):
    server = subprocess.Popen([PYTHON, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(PORT),
                               "--disable-auto-launch"], cwd=comfyui, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"ComfyUI exited with status {server.returncode} (see {log.name})")
        try:
            request("/system_stats")
            return server
        except OSError:
            time.sleep(2)
    server.terminate()
    raise RuntimeError(f"ComfyUI did not answer on {BASE} within 300 s (see {log.name})")


def submit(prompt):
    return request("/prompt", {"prompt": prompt, "client_id": str(uuid.uuid4())})["prompt_id"]


def wait(prompt_id, timeout=900):
    """The history entry of prompt_id once it is done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = request(f"/history/{prompt_id}")
        if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
            return history[prompt_id]
        time.sleep(1)
    raise RuntimeError(f"prompt {prompt_id} did not finish within {timeout} s")


def messages(entry):
    return [name for name, _ in entry.get("status", {}).get("messages", [])]


def saved_images(entry, node):
    return entry.get("outputs", {}).get(node, {}).get("images", [])


def workflow(name):
    with open(os.path.join(WORKFLOWS, name)) as f:
        return json.load(f)


def single_image():
    entry = wait(submit(workflow("remove_background_api.json")))
    ok = entry["status"]["status_str"] == "success" and len(saved_images(entry, "3")) == 1
    return ok, f"{entry['status']['status_str']}, {len(saved_images(entry, '3'))} image saved"


def batch_with_mask():
    entry = wait(submit(workflow("batch_with_mask_api.json")))
    ok = entry["status"]["status_str"] == "success" and len(saved_images(entry, "6")) == 2
    return ok, f"{entry['status']['status_str']}, {len(saved_images(entry, '6'))} images saved"


def cancel_mid_batch():
    prompt = workflow("remove_background_api.json")
    # Twelve copies of the photo, one per forward pass: long enough to stop.
    prompt["4"] = {"class_type": "RepeatImageBatch", "inputs": {"image": ["1", 0], "amount": 12}}
    prompt["2"]["inputs"]["image"] = ["4", 0]
    prompt_id = submit(prompt)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not request("/queue")["queue_running"]:
        time.sleep(0.5)
    time.sleep(8)  # inside the batch: the model is loaded and images are going through
    started = time.monotonic()
    request("/interrupt", {})
    entry = wait(prompt_id)
    stopped = time.monotonic() - started
    seen = messages(entry)
    ok = "execution_interrupted" in seen and not saved_images(entry, "3") and stopped < 30
    return ok, f"{entry['status']['status_str']}, {seen[-1] if seen else 'no message'}, stopped {stopped:.1f} s after the interrupt"


def imported_model():
    options = request("/object_info/CutoutRemoveBackground")["CutoutRemoveBackground"]["input"]["required"]["model"][0]
    label = next((o for o in options if o.endswith("u2netp.onnx")), None)
    if label is None:
        return False, f"no u2netp.onnx among the model options {options}"
    prompt = workflow("remove_background_api.json")
    prompt["2"]["inputs"]["model"] = label
    entry = wait(submit(prompt))
    ok = entry["status"]["status_str"] == "success" and len(saved_images(entry, "3")) == 1
    return ok, f"model {label!r}: {entry['status']['status_str']}"


def main():
    comfyui = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CUTOUT_COMFYUI_DIR", "")
    if not comfyui:
        print("run_real_comfyui: skipped: no ComfyUI checkout given (an argument or CUTOUT_COMFYUI_DIR)")
        return 0
    comfyui = os.path.abspath(comfyui)
    commit = subprocess.run(["git", "-C", comfyui, "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    print(f"ComfyUI at {commit}")
    make_venv(comfyui)
    install_cutout(comfyui)
    os.makedirs(os.path.dirname(VENV), exist_ok=True)
    with open(os.path.join(os.path.dirname(VENV), "comfyui.log"), "w") as log:
        server = start_server(comfyui, log)
        failures = 0
        try:
            for check in (single_image, batch_with_mask, cancel_mid_batch, imported_model):
                try:
                    ok, what = check()
                except Exception as error:  # report the workflow, go on with the next
                    ok, what = False, f"{type(error).__name__}: {error}"
                print(f"{'PASS' if ok else 'FAIL'} {check.__name__}: {what}", flush=True)
                failures += not ok
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
