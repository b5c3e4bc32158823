"""Finite automata over bytes: NFA construction, determinisation, minimisation."""
