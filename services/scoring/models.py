"""Scoring's tables, all in the `scoring` schema."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from shared.db import platform_tables

metadata = MetaData(schema="scoring")


class Base(DeclarativeBase):
    metadata = metadata


platform = platform_tables(metadata)
