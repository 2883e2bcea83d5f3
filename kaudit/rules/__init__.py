"""Rule kinds: the closed set of ways a check is evaluated.

flag (flags.py), file (files.py), setting (kubelet.py) and predicate
(predicates/). Each is implemented once; checks only declare parameters.
"""
