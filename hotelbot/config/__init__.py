"""hotelbot.config: the configuration compiler (YAML files -> the hotelbot.flows model).

The only code that reads configuration files (loader.py; every other module is pure).
Other packages import only the names below.

    source.py     one YAML document with the line of every value; typed readers
    templates.py  flow templates (config/flows/<flow_id>.yaml) -> Flow
    hotels.py     config/strings.yaml and config/hotels/<hotel_id>.yaml -> StringsDoc, HotelDoc
    overrides.py  a hotel's overrides applied to its copy of the templates
    checks.py     what a flow, a hotel and the shared strings must satisfy
    loader.py     reads the directory: load_hotels, check_config
    live.py       LiveConfig: the configuration in force, reloadable
"""

from hotelbot.config.live import LiveConfig
from hotelbot.config.loader import check_config, load_hotels

__all__ = ["LiveConfig", "check_config", "load_hotels"]
