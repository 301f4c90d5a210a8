"""Every contract test (``tests/contract``) against a relay running the Redis hub."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import tests.contract

pytestmark = pytest.mark.redis

for _info in pkgutil.iter_modules(tests.contract.__path__):
    _module = importlib.import_module(f"tests.contract.{_info.name}")
    for _name, _obj in vars(_module).items():
        if _name.startswith("test_") and callable(_obj):
            globals()[f"test_{_info.name.removeprefix('test_')}__{_name[5:]}"] = _obj
