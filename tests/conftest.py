"""Suite-wide settings."""
from hypothesis import settings

# Property tests check behaviour, not speed: hypothesis' default 200 ms per
# example deadline turns a loaded CI machine into failures (no timing asserts).
settings.register_profile("kaudit", deadline=None)
settings.load_profile("kaudit")
