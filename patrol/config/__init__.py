"""The city config: one YAML file describing departments, fleet, zones and airspace."""

from patrol.config.city import City, District
from patrol.config.errors import ConfigError, ConfigIssue
from patrol.config.load import load_city

__all__ = ["City", "ConfigError", "ConfigIssue", "District", "load_city"]
