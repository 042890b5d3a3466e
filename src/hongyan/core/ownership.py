"""Which channels a worker node runs: the rule behind the channel leases.

Each channel runs on exactly one worker node at a time (its binds with it),
so that a carrier never sees more binds or a faster rate than the channel's
settings allow, however many nodes deliver. A node holds a channel by a
lease (store/ownership.py) and runs its fair share of them: with C channels
and N live worker nodes, at most ceil(C / N). It takes free channels while it
holds fewer, and gives back what it holds beyond that, one channel a turn,
so that a node that joins gets work and none takes every channel while
others idle. A channel is free when its lease ran out (its node died or
stalled), when its node gave it back, or when the node that held it is a
process of this machine that no longer runs.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Plan:
    take: tuple[str, ...]  # free channels to take now, in this order
    give_back: tuple[str, ...]  # held channels to drain and release


def fair_share(channels: int, nodes: int) -> int:
    """The most channels one node should run among `nodes` live ones."""
    return math.ceil(channels / max(nodes, 1))


def plan(
    configured: Sequence[str],
    held: Collection[str],
    free: Collection[str],
    nodes: int,
    avoid: Collection[str] = (),
) -> Plan:
    """What a node holding `held` does this turn. `free` are the channels no
    node holds; `avoid` those this node gave back lately (taken again only
    when no other node took them for a whole lease). Taking prefers the
    channels in configured order, so nodes agree on which go first."""
    share = fair_share(len(configured), nodes)
    if len(held) > share:
        surplus = sorted(held, key=list(configured).index)[share:]
        return Plan((), (surplus[-1],))  # one a turn: the others take it first
    wanted = share - len(held)
    takeable = [name for name in configured if name in free and name not in avoid]
    return Plan(tuple(takeable[:wanted]), ())
