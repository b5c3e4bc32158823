"""Step-time half of automask: matchers, bitmask operations, samplers, integrations.

The runtime only reads what `automask.compiler` built; a matcher's state is a few small
values, so forking and rolling back are cheap copies.
"""
