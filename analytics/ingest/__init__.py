"""Usage events from a posted body to the spool: the event model (``model``), the reference validator
(``validate``) and the fast path beside it (``fast``), the two tied together by ``body``, and the storage form
(``encoding`` over ``blocks``).
"""
