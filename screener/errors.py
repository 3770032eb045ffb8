"""One error hierarchy for the whole package.

Every error the screener raises on purpose is a :class:`ScreenerError`, so callers can catch one
type. Input problems (a photo that cannot be read) are :class:`InputError`: a scan records them for
that photo and goes on. Everything else (a broken registry, a tampered model, a bad config, a
disk that fills up mid-scan) stops the run with one line on stderr and exit code 2 from the CLI.
"""

from __future__ import annotations


class ScreenerError(Exception):
    """Base class of every error the screener raises on purpose."""


class InputError(ScreenerError):
    """A photo could not be read: missing, empty, corrupt, unsupported or over a size limit."""


class UnsupportedFormatError(InputError):
    """The bytes are not an image format the screener reads."""


class ImageTooLargeError(InputError):
    """The image is over a configured limit (file bytes or decoded pixels)."""


class PhotoTimeoutError(InputError):
    """Screening one photo took longer than the configured per-photo time limit."""


class ConfigError(ScreenerError):
    """A configuration file or option is invalid."""


class RegistryError(ScreenerError):
    """The brand registry is malformed, or an operation on it is invalid."""


class ModelError(ScreenerError):
    """A model file is missing, does not match its manifest, or cannot be loaded."""


class EngineUnavailableError(ScreenerError):
    """An optional engine (OCR, Ray) is not installed; the message says what to install."""


class WriteError(ScreenerError):
    """A file the screener writes (the result store, a JSONL or CSV output, the report) could not
    be written: a full disk, a file size limit, an I/O error, a path that cannot be created.

    The message names the file and the reason in one line. Results committed to the store before
    it stay there, so a scan stopped by it resumes when run again.
    """


class WorkerStartError(ScreenerError):
    """A scan worker process could not be started or died while loading the pipeline."""
