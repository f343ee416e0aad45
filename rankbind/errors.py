"""Exception types. Every user-facing failure is a :class:`RankbindError` whose
message names the offending file, field, chain or residue."""

MESSAGE_LIMIT = 1000  # characters; a message echoing a huge value is cut in the middle


class RankbindError(Exception):
    """Base class for errors rankbind reports to users. A message longer than
    MESSAGE_LIMIT keeps its start (file, field) and end, and says how much was cut."""

    def __init__(self, *args):
        if args and isinstance(args[0], str) and len(args[0]) > MESSAGE_LIMIT:
            text = args[0]
            cut = len(text) - MESSAGE_LIMIT + 200
            text = f"{text[:600]} ...[{cut} characters omitted]... {text[-200:]}"
            args = (text, *args[1:])
        super().__init__(*args)


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
