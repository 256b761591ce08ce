"""Capture's request and response models, one module per resource as in `api/`."""

from services.capture.schemas.activities import (
    EARLIEST_ACTIVITY,
    MAX_ACTIVITIES,
    MAX_PROPERTIES_BYTES,
    ActivitiesAccepted,
    ActivityBatchIn,
    ActivityIn,
    ActivityResult,
)
from services.capture.schemas.forms import FormFields, FormIn, FormList, FormOut
from services.capture.schemas.leads import (
    AttributionIn,
    ConsentIn,
    Erased,
    ErasureIn,
    LeadAccepted,
    LeadChangeOut,
    LeadIn,
    LeadOut,
)

__all__ = [
    "EARLIEST_ACTIVITY",
    "MAX_ACTIVITIES",
    "MAX_PROPERTIES_BYTES",
    "ActivitiesAccepted",
    "ActivityBatchIn",
    "ActivityIn",
    "ActivityResult",
    "AttributionIn",
    "ConsentIn",
    "Erased",
    "ErasureIn",
    "FormFields",
    "FormIn",
    "FormList",
    "FormOut",
    "LeadAccepted",
    "LeadChangeOut",
    "LeadIn",
    "LeadOut",
]
