"""Exception types. Every user-facing failure is a :class:`RankbindError` whose
message names the offending file, field, chain or residue."""


class RankbindError(Exception):
    """Base class for errors rankbind reports to users."""


class StructureError(RankbindError):
    """A structure file is malformed, truncated, or inconsistent with the catalogue."""


class ChecksumError(StructureError):
    """A shipped or cached file does not match its recorded sha256."""


class SelectionError(RankbindError):
    """A residue selection (``MOLECULE:UNIPROT``) names nothing that exists."""


class PreparationError(RankbindError):
    """A structure could not be turned into an OpenMM system."""


class PlatformError(RankbindError):
    """A requested OpenMM platform is unknown or unusable."""


class SimulationError(RankbindError):
    """A simulation diverged (NaN or exploding energy) or could not resume."""


class ProtocolError(RankbindError):
    """A protocol file violates the schema."""


class SettingsError(RankbindError, ValueError):
    """A settings value (API argument, CLI flag or protocol key) is not allowed; the
    message names the key path, the value and what is allowed."""
