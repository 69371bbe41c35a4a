"""Each fetch's subgraph operation text: `<operation> <Client>__<subgraph>__<n>(<variables>)<selection>`, entity
fetches as `_entities(representations:)` with one fragment per entity type."""

from __future__ import annotations

from collections.abc import Mapping

from demimas_gateway.plan import Fetch

__all__ = ["print_fetch"]


def print_fetch(fetch: Fetch, var_types: Mapping[str, str], operation_name: str) -> None:
    """Set the fetch's `query`, `variables` (those of the client's operation it uses) and `renames`;
    `var_types`: variable name -> its printed type and default, as the client's operation declares it."""
    fetch.renames = fetch.selection.has_renames()
    used = sorted(fetch.selection.variables())
    fetch.variables = tuple(used)
    defs = [f"${name}:{var_types[name]}" for name in used if name in var_types]
    name = f"{operation_name}__{fetch.graph}__{fetch.id}"
    if fetch.parts:
        used = sorted(set().union(*(p.selection.variables() for p in fetch.parts)))
        fetch.variables = tuple(used)
        fetch.renames = any(p.selection.has_renames() for p in fetch.parts)
        defs = ["$representations:[_Any!]!", *(f"${n}:{var_types[n]}" for n in used if n in var_types)]
        types = {p.entity_type: p.selection for p in fetch.parts}  # one fragment per type, at every path
        branches = " ".join(f"...on {t} {selection.text()}" for t, selection in types.items())
        body = "{_entities(representations:$representations){" + branches + "}}"
    elif fetch.is_entity:
        defs.insert(0, "$representations:[_Any!]!")
        body = (
            "{_entities(representations:$representations){..." + f"on {fetch.entity_type} "
            f"{fetch.selection.text()}" + "}}"
        )
    else:
        body = fetch.selection.text()
    head = f"{fetch.operation} {name}" + (f"({','.join(defs)})" if defs else "")
    fetch.query = f"{head}{body}"
