"""Feedback's tables, all in the `feedback` schema."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from shared.db import platform_tables

metadata = MetaData(schema="feedback")


class Base(DeclarativeBase):
    metadata = metadata


platform = platform_tables(metadata)
