"""Build-time half of automask: front-ends, automata and token indexes.

Data flows left to right: source (regex, grammar, schema) -> IR -> byte automata ->
token index.  Everything built here is immutable and may be shared across threads.
"""
