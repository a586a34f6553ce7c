"""Running a trained generator on people's own images: loading, tiled upscaling, export for other tools."""
from .generator import GeneratorLoadError, LoadedGenerator, load_generator
from .upscaler import Upscaler

__all__ = ['GeneratorLoadError', 'LoadedGenerator', 'Upscaler', 'load_generator']
