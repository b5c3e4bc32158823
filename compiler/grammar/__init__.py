"""Context-free grammars: the grammar IR and the front-ends that produce it.

Front-ends (Lark, GBNF, the Python builder) all lower to one small, immutable IR
(`automask.compiler.grammar.ir.Grammar`): BNF rules over nonterminals and named terminals,
each terminal a regular expression as an `automask.compiler.regex.ast` node.  `validate`
checks a grammar before compilation; `earley_reference` is the slow, obviously-correct
recognizer that tests use as the oracle for the token-level engine.
"""
