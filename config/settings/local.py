"""Embedded mode for a developer's machine: DEBUG on unless the environment says otherwise."""

from config.env import env
from config.settings.base import *  # noqa: F403

DEBUG = env.bool("DEBUG", default=True)
