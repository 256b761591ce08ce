"""Routing's tables, all in the `routing` schema."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from shared.db import platform_tables

metadata = MetaData(schema="routing")


class Base(DeclarativeBase):
    metadata = metadata


platform = platform_tables(metadata)
