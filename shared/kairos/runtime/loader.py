"""Load a function project's ``function/func.py`` by path.

Every function project has a package named ``function`` (func-python's layout), so they
cannot share one import namespace; each is loaded under a unique module name instead.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS_DIR = REPO_ROOT / "functions"


def function_dir(name_or_path: str) -> Path:
    """A function project directory from its catalog name or a path."""
    path = Path(name_or_path)
    if (path / "function" / "func.py").is_file():
        return path.resolve()
    candidate = FUNCTIONS_DIR / name_or_path
    if (candidate / "function" / "func.py").is_file():
        return candidate
    raise FileNotFoundError(f"no function project at {name_or_path!r} (looked for function/func.py)")


def load_func_module(name_or_path: str) -> ModuleType:
    """Import ``<dir>/function/func.py`` as ``kairos_functions.<dir name>``."""
    folder = function_dir(name_or_path)
    mod_name = "kairos_functions." + folder.name.replace("-", "_")
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, folder / "function" / "func.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {folder / 'function' / 'func.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    spec.loader.exec_module(module)
    return module
