"""One build step beside pyproject.toml: the accounts database's Alembic scripts, kept at the top of the
repository (``alembic/``), are copied into the built package as ``idp/sql_migrations/``, so that an installed
``canary`` (a wheel, ``pip install .``) can ``migrate`` without a checkout (``idp.migrate`` looks there first).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SOURCE = Path(__file__).resolve().parent / "alembic"
PACKAGED = ("idp", "sql_migrations")


class BuildPyWithMigrations(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the checkout's alembic/
            return
        target = Path(self.build_lib).joinpath(*PACKAGED)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(SOURCE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithMigrations})
