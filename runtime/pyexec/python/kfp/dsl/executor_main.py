"""`python3 -m kfp.dsl.executor_main`: load the component module, run the
function named by --function_to_execute against --executor_input."""

import argparse
import importlib.util
import json
import os
import sys

from kfp.dsl import executor


def _load_module(path):
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.splitext(os.path.basename(path))[0]
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load component module %s" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _module_from_config(func_name):
    """Containerized components name their module in kfp_config.ini."""
    import configparser

    config = configparser.ConfigParser()
    config.optionxform = str
    if not config.read("kfp_config.ini") or not config.has_section("Components"):
        raise RuntimeError("no --component_module_path and no [Components] section in kfp_config.ini in %s" % os.getcwd())
    components = dict(config.items("Components"))
    if func_name not in components:
        raise RuntimeError("kfp_config.ini names no component %r; it has %s" % (func_name, ", ".join(sorted(components))))
    return components[func_name]


def main(argv=None):
    parser = argparse.ArgumentParser(description="KFP component executor (kfstack built-in)")
    parser.add_argument("--component_module_path")
    parser.add_argument("--function_to_execute", required=True)
    parser.add_argument("--executor_input", required=True)
    args, _ = parser.parse_known_args(argv)
    path = args.component_module_path or _module_from_config(args.function_to_execute)
    module = _load_module(path)
    func = getattr(module, args.function_to_execute, None)
    if func is None:
        defined = sorted(n for n, v in vars(module).items() if callable(v) and getattr(v, "__module__", None) == module.__name__)
        raise SystemExit("kfp executor: the component module defines no function %r (it defines: %s)"
                         % (args.function_to_execute, ", ".join(defined) or "nothing"))
    executor.Executor(json.loads(args.executor_input), func).execute()


if __name__ == "__main__":
    main()
