"""screener: flag suspect brand marks in product photos.

    from screener import Screener
    screener = Screener.from_registry("sample_images/brands")
    result = screener.screen("photo.jpg")
    print(result.verdict, [f.reason for f in result.flags])

Heavy backends (torch, onnxruntime) are imported lazily, when a stage is first built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .brands import Brand, BrandRegistry
from .config import Config
from .errors import (ConfigError, EngineUnavailableError, InputError, ModelError, RegistryError,
                     ScreenerError)
from .types import BrandMark, Flag, LogoHit, ScreenResult, TextHit

if TYPE_CHECKING:
    from .pipeline import Screener


def __getattr__(name: str) -> Any:
    # The pipeline pulls in numpy/cv2 helpers; keep `import screener` cheap for the CLI.
    if name == "Screener":
        from .pipeline import Screener

        return Screener
    raise AttributeError(f"module 'screener' has no attribute {name!r}")


__all__ = ["Screener", "BrandRegistry", "Brand", "Config", "ScreenResult", "TextHit", "LogoHit",
           "BrandMark", "Flag", "ScreenerError", "InputError", "ConfigError", "RegistryError",
           "ModelError", "EngineUnavailableError", "__version__"]
