"""The only code that touches PyMongo: collections, indexes, transactions and document mapping."""
