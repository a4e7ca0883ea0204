"""Engine lookup by name: ``compiled`` or ``durable`` (imported lazily: it loads a C extension)."""

from __future__ import annotations

from engine.config import ENGINES
from engine.seam import Engine

__all__ = ["ENGINES", "get_engine"]


def get_engine(name: str) -> Engine:
    """A new engine instance; ``ValueError`` for an unknown name."""
    if name == "compiled":
        from engine.compiled import CompiledEngine

        return CompiledEngine()
    if name == "durable":
        # Imported only when asked for, so that the compiled path (bulk commands, batch
        # workers) never loads durable_rules.
        from engine.durable import DurableEngine

        return DurableEngine()
    raise ValueError(f"unknown engine {name!r}: expected one of {', '.join(ENGINES)}")
