"""Routing's HTTP API: one module per resource."""

from fastapi import APIRouter

router = APIRouter()
