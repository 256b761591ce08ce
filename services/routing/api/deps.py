"""What routing's routes share: who may call them and the error bodies they document."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from shared.auth import Principal, Role, RoleRequired
from shared.errors import ErrorBody

Reader = Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales, Role.crm))]
Admin = Annotated[Principal, Depends(RoleRequired())]  # admin passes every role check
Approver = Annotated[Principal, Depends(RoleRequired(Role.marketing, Role.sales))]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip.")]

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 415, 422)
}
