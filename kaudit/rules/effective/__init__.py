"""One effective-configuration resolver per component.

Each module here models how one component resolves its own settings: which
sources it reads (flags, a `--config` file, a drop-in directory, environment,
a ConfigMap, the live `configz`), which wins, which flags it ignores once a
config file is given, and how it defaults zero values. Rule kinds ask these
resolvers; they never re-derive a component's semantics themselves. The
evidence of every effective value names the source it came from.
"""
