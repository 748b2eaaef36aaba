"""Store Great Expectations validation results with NumPy scalars written as plain JSON.

Great Expectations 1.24 with NumPy 2 puts numpy.bool values into quantile results, which
its file store then fails to write ("Object of type bool is not JSON serializable").
`store_plain_json(context)` gives the context's results store a serializer that converts
them first. Remove this module once Great Expectations returns plain booleans.
"""

from __future__ import annotations

import json

from great_expectations.data_context.store import ValidationResultsStore

from mlops.io import plain


class PlainJsonValidationResultsStore(ValidationResultsStore):
    def serialize(self, value):
        if self.cloud_mode:
            return super().serialize(value)
        return json.dumps(plain(value.to_json_dict()), indent=2, sort_keys=True)


def store_plain_json(context) -> None:
    store = context.validation_results_store
    if type(store) is ValidationResultsStore:
        store.__class__ = PlainJsonValidationResultsStore
