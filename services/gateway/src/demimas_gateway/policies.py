"""`@policy` evaluation: the small Python hook that decides which named policies a caller satisfies.

Apollo Router hands the policies an operation mentions to a coprocessor and gets back those that hold; here that is a
function `(caller, policies) -> satisfied policies`, given in `Gateway(policy_hook=...)` (the default is
`region_policies`). It runs once per request, only when the supergraph has `@policy` and only for the policies the
supergraph names; what it returns becomes part of the plan cache key. An unknown policy is never satisfied (fail
closed). Policies that the default hook knows, the region rules of docs/contracts.md (a token's `region` restricts all
its grants):

- `national`: a token without a `region` (a national agency or office);
- `region:<prefix>`: a token whose region lies inside `<prefix>` (whole dotted segments), or a national token;
- `agency:<AGENCY>`: a token of that agency.

A deployment with other rules writes its own hook and can delegate to this one for these.
"""

from __future__ import annotations

from collections.abc import Callable

from demimas_common.auth.principal import region_covers
from demimas_gateway.caller import Caller

__all__ = ["PolicyHook", "region_policies"]

PolicyHook = Callable[[Caller, frozenset[str]], frozenset[str]]


def region_policies(caller: Caller, policies: frozenset[str]) -> frozenset[str]:
    if not caller.authenticated:
        return frozenset()
    return frozenset(p for p in policies if _holds(caller, p))


def _holds(caller: Caller, policy: str) -> bool:
    if policy == "national":
        return caller.region is None
    if policy.startswith("region:"):
        prefix = policy.removeprefix("region:")
        return caller.region is None or region_covers(prefix, caller.region)
    if policy.startswith("agency:"):
        return caller.agency is not None and caller.agency == policy.removeprefix("agency:")
    return False
