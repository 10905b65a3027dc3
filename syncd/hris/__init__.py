"""EXTRACT: an HRIS export file in, a validated :class:`Roster` out (see ``roster.py``)."""

from syncd.hris.ingest import read_roster
from syncd.hris.roster import Roster, SourceInfo

__all__ = ["Roster", "SourceInfo", "read_roster"]
