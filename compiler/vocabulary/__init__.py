"""Token vocabularies as plain data (token id -> exact bytes), and adapters that build them."""

from automask.compiler.vocabulary.vocabulary import Vocabulary

__all__ = ["Vocabulary"]
