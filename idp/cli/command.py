"""What a command module gives ``idp.cli``: ``register(commands)`` adds its parsers, each with a ``Handler``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeAlias

from idp.settings import Settings

Handler: TypeAlias = Callable[[argparse.Namespace, Settings], int]
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
