"""Reports what a Python component's environment has, as JSON on stdout:
whether the real kfp SDK is importable, and which of the requirements
(pip requirement strings, the component's packages_to_install) are
missing. Run by the kfstack launcher with the task's own interpreter;
standard library only."""

import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import sys

_SPEC = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*?)\s*$")
_CMP = re.compile(r"(===|==|!=|<=|>=|~=|<|>)\s*([^,;\s]+)")

# Distributions whose import name differs from their name.
_MODULES = {"scikit-learn": "sklearn", "pyyaml": "yaml", "pillow": "PIL", "beautifulsoup4": "bs4",
            "opencv-python": "cv2", "opencv-python-headless": "cv2", "python-dateutil": "dateutil",
            "protobuf": "google.protobuf", "google-cloud-storage": "google.cloud.storage",
            "google-cloud-aiplatform": "google.cloud.aiplatform", "typing-extensions": "typing_extensions"}


def _normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_tuple(v):
    out = []
    for part in re.split(r"[.+-]", v):
        m = re.match(r"\d+", part)
        out.append(int(m.group()) if m else 0)
    return tuple(out)


def _marker_applies(marker):
    """Evaluates the simple markers the SDK writes (python_version and
    platform comparisons); anything else counts as applying."""
    env = {"python_version": "%d.%d" % sys.version_info[:2], "python_full_version": platform.python_version(),
           "sys_platform": sys.platform, "platform_system": platform.system()}
    for clause in re.split(r"\band\b", marker):
        m = re.match(r"\s*(\w+)\s*(==|!=|<=|>=|<|>)\s*['\"]([^'\"]*)['\"]\s*$", clause)
        if not m or m.group(1) not in env:
            continue
        left, op, right = env[m.group(1)], m.group(2), m.group(3)
        if m.group(1).startswith("python"):
            left, right = _version_tuple(left), _version_tuple(right)
        ok = {"==": left == right, "!=": left != right, "<=": left <= right, ">=": left >= right,
              "<": left < right, ">": left > right}[op]
        if not ok:
            return False
    return True


def _satisfies(version, spec):
    have = _version_tuple(version)
    for op, want in _CMP.findall(spec):
        w = _version_tuple(want.rstrip("*").rstrip("."))
        if op in ("==", "===") and not want.endswith("*") and have != w:
            return False
        if op == "==" and want.endswith("*") and have[:len(w)] != w:
            return False
        if (op == "!=" and have == w) or (op == ">=" and have < w) or (op == "<=" and have > w) \
                or (op == ">" and have <= w) or (op == "<" and have >= w) or (op == "~=" and have < w):
            return False
    return True


def check(requirement):
    """None when the requirement does not apply, else (name, status, detail)."""
    req, _, marker = requirement.partition(";")
    if marker and not _marker_applies(marker):
        return None
    if "://" in req or req.startswith(("/", ".", "git+")):
        return (req.strip(), "missing", "a URL or path requirement cannot be checked without a package index")
    m = _SPEC.match(req)
    if not m:
        return (req.strip(), "missing", "not a requirement")
    name, spec = m.group(1), m.group(3)
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        module = _MODULES.get(_normalize(name), _normalize(name).replace("-", "_"))
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return (name, "missing", "")
        return (name, "present", "importable as %s (version unknown)" % module)
    if spec and not _satisfies(version, spec):
        return (name, "other-version", "%s is installed, the component asks for %s" % (version, spec.strip()))
    return (name, "present", version)


def main(requirements):
    report = {"python": platform.python_version(), "executable": os.path.realpath(sys.executable), "kfp": None, "packages": []}
    try:
        report["kfp"] = importlib.metadata.version("kfp")
    except importlib.metadata.PackageNotFoundError:
        pass
    for r in requirements:
        res = check(r)
        if res is not None:
            report["packages"].append({"name": res[0], "status": res[1], "detail": res[2], "requirement": r})
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
