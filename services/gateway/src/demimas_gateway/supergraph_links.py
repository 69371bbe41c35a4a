"""Reading a supergraph's `@link`s: which specifications it links, under which names, and whether this gateway may
serve it. The link specification says a gateway must refuse to serve a supergraph that links a feature it does not
implement for `SECURITY` or `EXECUTION` (it would otherwise serve fields whose rules it ignores); `SupergraphError`
names the element at fault, and the gateway refuses to start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from graphql import (
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    EnumValueNode,
    ListValueNode,
    SchemaDefinitionNode,
    SchemaExtensionNode,
    StringValueNode,
    ValueNode,
)

__all__ = [
    "JOIN_VERSIONS",
    "MACHINERY",
    "SUPPORTED",
    "Links",
    "SupergraphError",
    "arguments",
    "bool_value",
    "read_links",
    "string_value",
]

LINK_URL = re.compile(r"^https?://[^ ]*/(?P<name>[A-Za-z_][\w-]*)/v(?P<major>\d+)\.(?P<minor>\d+)/?$")

# Features the gateway implements, by name -> supported (major, minor) versions.
JOIN_VERSIONS = {(0, 3), (0, 4), (0, 5)}
SUPPORTED = {
    "link": {(1, 0)},
    "join": JOIN_VERSIONS,
    "inaccessible": {(0, 1), (0, 2)},
    "tag": {(0, 1), (0, 2), (0, 3)},
    "authenticated": {(0, 1)},
    "requiresScopes": {(0, 1)},
    "policy": {(0, 1)},
    "cost": {(0, 1)},
    "context": {(0, 1)},
}
# Specs whose own machinery never reaches the API schema.
MACHINERY = {"link", "join", "inaccessible", "tag", "authenticated", "requiresScopes", "policy", "cost", "context"}


class SupergraphError(ValueError):
    """The supergraph cannot be served; the message names the element at fault."""


def string_value(value: ValueNode | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, StringValueNode | EnumValueNode):
        return value.value
    return None


def bool_value(value: ValueNode | None, default: bool = False) -> bool:
    if isinstance(value, BooleanValueNode):
        return value.value
    return default


def arguments(directive: DirectiveNode) -> dict[str, ValueNode]:
    return {a.name.value: a.value for a in directive.arguments or ()}


@dataclass
class Links:
    """Directive names under which each linked feature appears in this document."""

    join: str = "join__"
    names: dict[str, str] = field(default_factory=dict)
    """feature -> name of its main directive (e.g. inaccessible -> `inaccessible`)."""
    prefixes: dict[str, str] = field(default_factory=dict)
    """feature -> prefix of its other elements (e.g. join -> `join__`)."""
    join_version: tuple[int, int] = (0, 3)

    def directive(self, feature: str) -> str | None:
        return self.names.get(feature)

    def is_machinery(self, name: str) -> bool:
        if any(name.startswith(p) for f, p in self.prefixes.items() if f in MACHINERY):
            return True
        return any(name == n for f, n in self.names.items() if f in MACHINERY)


def read_links(doc: DocumentNode) -> Links:
    links = Links()
    found = False
    for definition in doc.definitions:
        if not isinstance(definition, SchemaDefinitionNode | SchemaExtensionNode):
            continue
        for directive in definition.directives or ():
            if directive.name.value != "link":
                continue
            args = arguments(directive)
            url = string_value(args.get("url")) or ""
            match = LINK_URL.match(url)
            if not match:
                raise SupergraphError(f"@link(url: {url!r}): not a specification URL of the form .../name/vX.Y")
            name, version = match["name"], (int(match["major"]), int(match["minor"]))
            purpose = string_value(args.get("for"))
            if name not in SUPPORTED or version not in SUPPORTED[name]:
                if purpose in ("SECURITY", "EXECUTION"):
                    raise SupergraphError(
                        f"@link(url: {url!r}, for: {purpose}): this gateway does not implement {name} "
                        f"v{version[0]}.{version[1]}, and a feature linked for {purpose} must not be ignored"
                    )
                continue
            found = found or name == "link"
            alias = string_value(args.get("as")) or name
            links.prefixes[name] = f"{alias}__"
            links.names[name] = alias
            imports = args.get("import")
            if isinstance(imports, ListValueNode):
                for item in imports.values:
                    imported = string_value(item)
                    if imported and imported == f"@{name}":
                        links.names[name] = name
            if name == "join":
                links.join = f"{alias}__"
                links.join_version = version
    if "join" not in links.prefixes:
        raise SupergraphError(
            "schema: no @link to https://specs.apollo.dev/join/v0.3 (or v0.4, v0.5): not a supergraph this "
            "gateway can serve (Federation 1 supergraphs must be recomposed with a Federation 2 composer)"
        )
    del found
    return links
